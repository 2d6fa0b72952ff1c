"""Every registered generator through the same protocol checks.

Constructors only store; ``fit`` returns self; ``generate(n)`` yields batches totalling exactly n
records, balanced across labels, each a SyntheticExample with text (or an embedding, as the
generator declares) and its generator's name; generating before fit and bad n are clear errors;
the same seed gives the same records.
"""

from __future__ import annotations

import json

import pytest

from sentisynth.errors import ConfigError
from sentisynth.generators.base import GENERATORS, make_generator
from sentisynth.records import SyntheticExample
from sentisynth.registry import constructor_params

from .fake_backend import FakeBackend
from .helpers import sst2_examples


def _params(name, tmp_path):
    if name == "hierarchical":
        return {"instruction": "Classify movie review sentiment.", "labels": ["negative", "positive"],
                "backend": FakeBackend(), "cache_path": str(tmp_path / "calls.sqlite")}
    if name == "file":
        pool = tmp_path / "pool.jsonl"
        pool.write_text("".join(json.dumps({"text": f"{lab} text number {i}", "label": lab, "generator": "x", "meta": {}}) + "\n"
                                for lab in ("negative", "positive") for i in range(12)))
        return {"path": str(pool)}
    if name == "gan":
        return {"pretrain": None, "epochs": 10, "early_stopping": False}
    if name == "small-lm":
        return {"mode": "prompt", "candidates_per_label": 8, "max_new_tokens": 24, "save_dir": str(tmp_path / "w")}
    return {}


def _names():
    make_generator("eda")  # registers the built-ins
    return GENERATORS.names()


@pytest.mark.parametrize("name", _names())
def test_generator_protocol(name, tmp_path):
    if name == "small-lm":
        pytest.importorskip("transformers")
    given = _params(name, tmp_path)
    gen = make_generator(name, **given)
    assert all(getattr(gen, k) is v for k, v in given.items())  # constructors only store their arguments
    assert set(gen.get_params()) == set(constructor_params(gen))
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(gen))  # no learned state yet
    with pytest.raises(ConfigError, match="not fitted"):
        list(gen.generate(2))
    seed = sst2_examples("dev", 16)
    assert gen.fit(seed) is gen
    batches = list(gen.generate(6))
    records = [r for b in batches for r in b]
    assert len(records) == 6 and all(isinstance(b, list) for b in batches)
    assert sorted(r.label for r in records) == ["negative"] * 3 + ["positive"] * 3
    for r in records:
        assert isinstance(r, SyntheticExample) and r.generator
        assert (r.text if gen.produces == "text" else r.embedding) is not None
    assert [r for b in gen.generate(0) for r in b] == []
    with pytest.raises(ConfigError):
        list(gen.generate(-1))
    again = make_generator(name, **{**_params(name, tmp_path), **({"backend": FakeBackend()} if name == "hierarchical" else {})})
    def content(r):
        return r.text if gen.produces == "text" else r.embedding.tolist()

    assert [content(r) for b in again.fit(seed).generate(6) for r in b] == [content(r) for r in records]
