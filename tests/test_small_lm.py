"""The small-LM generator with the real SmolLM2-135M: prompted, fully fine-tuned and LoRA-tuned."""

from __future__ import annotations

import pytest

from sentisynth.generators.base import make_generator
from sentisynth.generators.hierarchical import normalize

from .helpers import sst2_examples

pytestmark = pytest.mark.slow

SEED = sst2_examples("dev", 20)


def _check(records, n):
    assert len(records) == n
    assert sum(r.label == "negative" for r in records) == n // 2
    keys = [normalize(r.text) for r in records]
    assert len(set(keys)) == n  # no duplicates
    assert not set(keys) & {normalize(e.text) for e in SEED}  # no verbatim seed copies
    assert all(len(r.text.split()) >= 3 and "\n" not in r.text for r in records)


def test_prompted_generation(tmp_path):
    gen = make_generator("small-lm", mode="prompt", candidates_per_label=8, max_new_tokens=32, random_state=1).fit(SEED)
    recs = [r for b in gen.generate(8) for r in b]
    _check(recs, 8)
    assert recs[0].meta["mode"] == "prompt" and gen.report()["stats"]["generated_tokens"] > 0


def test_finetuned_generation_saves_and_reuses_weights(tmp_path):
    params = dict(mode="finetune", epochs=3, candidates_per_label=8, max_new_tokens=32, save_dir=str(tmp_path / "w"), random_state=0)
    gen = make_generator("small-lm", **params).fit(SEED)
    rep = gen.report()["training"]
    assert rep["steps"] == 3 * 3 and rep["last_epoch_loss"] < rep["first_loss"]
    saved = list((tmp_path / "w").glob("*/model.safetensors"))
    assert len(saved) == 1
    recs = [r for b in gen.generate(8) for r in b]
    _check(recs, 8)
    mtime = saved[0].stat().st_mtime_ns
    again = make_generator("small-lm", **params).fit(SEED)  # same seed set and settings: weights reused
    assert again.report()["training"] == rep and saved[0].stat().st_mtime_ns == mtime
    assert [r.text for b in again.generate(8) for r in b] == [r.text for r in recs]


def test_lora_finetune_saves_adapters_only(tmp_path):
    pytest.importorskip("peft")
    gen = make_generator("small-lm", mode="finetune", lora=True, lora_r=4, epochs=1, learning_rate=1e-3,
                         candidates_per_label=8, max_new_tokens=24, save_dir=str(tmp_path / "w")).fit(SEED)
    adapters = list((tmp_path / "w").glob("*/adapter_model.safetensors"))
    assert len(adapters) == 1 and adapters[0].stat().st_size < 5_000_000  # adapters, not the 135M weights
    _check([r for b in gen.generate(4) for r in b], 4)
