"""``sentisynth generate gan`` / ``generate small-lm`` / ``analyze`` end to end, and resuming an
embedding run after a crash without losing or duplicating records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sentisynth.data import load_splits, subsample_per_class
from sentisynth.generators.base import make_generator
from sentisynth.generators.gan.generator import GANGenerator
from sentisynth.pipeline import write_generation_run

from .helpers import assert_user_error, run_cli

GLOVE_FAST = ["--set", "encoder=glove", "--set", "pretrain=null", "--set", "epochs=20"]
PNG = b"\x89PNG\r\n\x1a\n"


def test_generate_gan_cli_writes_embeddings_and_analysis(tmp_path):
    out = tmp_path / "gan"
    proc = run_cli("generate", "gan", "--dataset", "sst2", "--k", "10", "-n", "30", "--out", str(out), *GLOVE_FAST,
                   cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (out / "synthetic.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and {r["label"] for r in rows} == {"negative", "positive"}
    assert all(r["text"] is None and len(r["embedding"]) == 50 for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["params"]["encoder"] == "glove"
    assert manifest["generator_report"]["epochs"] == 20
    metrics = json.loads((out / "analysis" / "embedding_metrics.json").read_text())
    assert set(metrics["per_class"]) == {"negative", "positive"} and 0 <= metrics["overall"]["coverage"] <= 1
    assert (out / "analysis" / "tsne.png").read_bytes()[:8] == PNG
    nearest = [json.loads(x) for x in (out / "analysis" / "nearest.jsonl").read_text().splitlines()]
    assert len(nearest) == 30 and all(len(r["nearest"]) == 3 for r in nearest)
    assert "precision" in proc.stdout and "spread ratio" in proc.stdout


def test_generate_cli_rejects_a_bad_set_option(tmp_path):
    out = tmp_path / "gan"
    assert_user_error(run_cli("generate", "gan", "--dataset", "sst2", "--k", "5", "-n", "4", "--out", str(out),
                              "--set", "consistency", cwd=tmp_path), "--set", "KEY=VALUE")
    assert_user_error(run_cli("generate", "gan", "--dataset", "sst2", "--k", "5", "-n", "4", "--out", str(out),
                              "--set", "no_such=1", cwd=tmp_path), "no_such")
    assert not (out / "synthetic.jsonl").exists()


def test_generate_small_lm_cli_prompted(tmp_path):
    pytest.importorskip("transformers")
    out = tmp_path / "slm"
    proc = run_cli("generate", "small-lm", "--dataset", "sst2", "--k", "4", "-n", "4", "--out", str(out),
                   "--set", "mode=prompt", "--set", "candidates_per_label=4", "--set", "max_new_tokens=24",
                   cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (out / "synthetic.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["text"] and r["generator"] == "small-lm" for r in rows)


def test_analyze_cli_on_a_text_run(tmp_path):
    pool = tmp_path / "pool.jsonl"
    dev = load_splits("sst2").dev.examples()[:40]
    pool.write_text("".join(json.dumps({"text": e.text, "label": e.label, "generator": "x", "meta": {}}) + "\n" for e in dev))
    out = tmp_path / "analysis"
    proc = run_cli("analyze", str(pool), "--dataset", "sst2", "--k", "10", "--out", str(out), "--encoder", "glove",
                   cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "tsne.png").read_bytes()[:8] == PNG
    assert json.loads((out / "embedding_metrics.json").read_text())["n_synthetic"] == 40


def test_embedding_run_resumes_after_a_crash_without_loss_or_duplicates(tmp_path, monkeypatch):
    seed_set = subsample_per_class(load_splits("sst2").train, 10, 0)
    params = dict(encoder="glove", pretrain=None, epochs=20)
    reference = write_generation_run(tmp_path / "ref", make_generator("gan", **params), seed_set, 40, seed=0, source="t")
    ref_rows = reference.read_text().splitlines()

    original = GANGenerator.generate

    def crash_after_first_batch(self, n, labels=None):
        it = original(self, n, labels)
        yield next(it)
        raise KeyboardInterrupt  # like a kill between two appended batches

    monkeypatch.setattr(GANGenerator, "generate", crash_after_first_batch)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        write_generation_run(out, make_generator("gan", **params), seed_set, 40, seed=0, source="t")
    assert not (out / "synthetic.jsonl").exists()
    assert len((out / "synthetic.jsonl.partial").read_text().splitlines()) == 20
    monkeypatch.setattr(GANGenerator, "generate", original)
    final = write_generation_run(out, make_generator("gan", **params), seed_set, 40, seed=0, source="t")
    rows = final.read_text().splitlines()
    assert rows == ref_rows
    assert json.loads((out / "manifest.json").read_text())["counts"]["resumed_from"] == 20
    emb = np.array([json.loads(r)["embedding"] for r in rows])
    assert len(np.unique(emb, axis=0)) == 40
