"""`sentisynth augment` end to end: real SST-2 sentences, the real MiniLM classifier, real files.

The pools stand in for a generator's output (the ``file`` generator replays them) so the verdict has
a known right answer: correctly labeled extra sentences must be recommended, label-flipped ones
rejected. The real hierarchical generator runs through the same command in the slow test at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from sentisynth.augment import Augmentation
from sentisynth.data import load_file
from sentisynth.store import read_json

from .helpers import sst2_by_label, write_csv

FLIP = {"negative": "positive", "positive": "negative"}
XSS = '<script>document.title="PWNED"</script> an utterly <img src=x onerror="document.body.dataset.pwned=1"> movie'


def _pool(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": y, "generator": "pool", "meta": {"topic": "<b>acting</b>"}}) + "\n"
                            for t, y in rows))
    return path


@pytest.fixture(scope="module")
def user_data(tmp_path_factory):
    """40 labeled sentences as a user would bring them (CSV), and two pools of 'synthetic' records."""
    tmp = tmp_path_factory.mktemp("augment")
    neg, pos = sst2_by_label("train", 2000)
    data = write_csv(tmp / "mine.csv", neg[:20] + pos[:20])
    extra = neg[200:330] + pos[200:330]
    good = _pool(tmp / "good.jsonl", extra + [(XSS, "positive")] + [neg[0]])  # + an exact copy of a user example
    bad = _pool(tmp / "bad.jsonl", [(t, FLIP[y]) for t, y in extra])
    return tmp, data, good, bad


def _run(out, data, pool, **kw):
    # MiniLM: these verdicts are about the decision rules, sized for the classifier they were written for;
    # the default classifier (EmbeddingGemma) is exercised by the CLI tests below.
    kw.setdefault("classifier_params", {"encoder": "all-MiniLM-L6-v2"})
    job = Augmentation(out, "Classify the sentiment of movie reviews.", generator="file", generator_params={"path": str(pool)},
                       ratios=(1, 4), n_splits=4, n_repeats=3, **kw)
    return job, job.run(load_file(data), str(data))


@pytest.fixture(scope="module")
def good_run(user_data):
    tmp, data, good, _ = user_data
    out = tmp / "run-good"
    job, verdict = _run(out, data, good)
    return out, verdict


def test_helpful_data_is_recommended_and_written(good_run):
    out, verdict = good_run
    assert verdict["decision"] == "use" and verdict["recommended_ratio"] in (1.0, 4.0)
    assert verdict["ci_low"] > 0
    ratio = verdict["recommended_ratio"]
    aug = [json.loads(x) for x in (out / "augmented.jsonl").read_text().splitlines()]
    real = [r for r in aug if r["source"] == "real"]
    syn = [r for r in aug if r["source"] == "synthetic"]
    assert len(real) == 40 and len(syn) == int(ratio * 40)
    assert sum(r["label"] == "positive" for r in syn) == len(syn) // 2, "synthetic part must be balanced"
    csv = pd.read_csv(out / "augmented.csv")
    assert len(csv) == len(aug) and list(csv["source"].value_counts().sort_index()) == [len(real), len(syn)]
    assert len(pd.read_parquet(out / "augmented.parquet")) == len(aug)
    m = read_json(out / "manifest.json")
    assert m["status"] == "complete" and m["verdict"]["decision"] == "use"
    assert m["counts"]["augmented"] == len(aug) and m["data"]["n"] == 40
    assert m["config"]["filters"], "the default filter chain must have run"
    assert (out / "report.html").stat().st_size > 10_000 and (out / "analysis" / "tsne.png").is_file()


def test_copies_of_the_users_examples_are_rejected_with_reasons(good_run, user_data):
    out, _ = good_run
    _, data, _, _ = user_data
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    assert rejected and all({"filter", "score", "threshold", "reason", "record"} <= set(r) for r in rejected)
    user_texts = set(pd.read_csv(data)["text"])
    kept = [json.loads(x)["text"] for x in (out / "synthetic.jsonl").read_text().splitlines()]
    assert not user_texts & set(kept), "a copy of a user example (a held-out fold) must never be kept"
    assert any(r["record"]["text"] in user_texts for r in rejected)


def test_rerun_reuses_every_stage(good_run, user_data):
    out, verdict = good_run
    tmp, data, good, _ = user_data
    stamps = {p: (out / p).stat().st_mtime_ns for p in ("generation/synthetic.jsonl", "filtering/synthetic.jsonl", "crossval.json")}
    _, again = _run(out, data, good)
    assert again["decision"] == verdict["decision"] and again["delta"] == verdict["delta"]
    assert {p: (out / p).stat().st_mtime_ns for p in stamps} == stamps


def test_harmful_data_is_not_recommended(user_data):
    tmp, data, _, bad = user_data
    out = tmp / "run-bad"
    _, verdict = _run(out, data, bad, report=False)
    assert verdict["decision"] == "do not use" and verdict["recommended_ratio"] is None
    assert verdict["ci_high"] < 0
    aug = [json.loads(x) for x in (out / "augmented.jsonl").read_text().splitlines()]
    assert len(aug) == 40 and all(r["source"] == "real" for r in aug), "nothing synthetic when it does not help"
    assert (out / "synthetic.jsonl").read_text().strip(), "kept records stay available"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sentisynth.cli", "augment", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=900)


def test_cli_bad_input_is_a_clear_error_and_writes_nothing(user_data):
    tmp, data, good, _ = user_data
    one_class = write_csv(tmp / "one.csv", [("fine", "positive"), ("great", "positive")])
    cases = [
        ([data, "--out", tmp / "e1"], "--instruction"),
        ([one_class, "--instruction", "x", "--out", tmp / "e2"], "single class"),
        ([data, "--instruction", "x", "--ratios", "1,zero", "--out", tmp / "e3"], "--ratios"),
        ([tmp / "missing.csv", "--instruction", "x", "--out", tmp / "e4"], "missing.csv"),
        ([data, "--instruction", "x", "--generator", "gpt9", "--out", tmp / "e5"], "gpt9"),
        ([data, "--instruction", "x", "--set", "temperature_typo=1", "--out", tmp / "e6"], "temperature_typo"),
        ([data, "--instruction", "x", "--metric", "auc", "--out", tmp / "e7"], "--metric"),
        ([data, "--instruction", "x", "--folds", "1", "--out", tmp / "e8"], "--folds"),
        ([write_csv(tmp / "rare.csv", [("fine", "positive"), ("great", "positive"), ("awful", "negative")]), "--instruction", "x",
          "--out", tmp / "e9"], "fewer than 2 examples"),
    ]
    for args, needle in cases:
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp / args[args.index("--out") + 1].name).exists()


def test_cli_prints_the_verdict(user_data, tmp_path):
    _, data, good, _ = user_data
    r = _cli(data, "--instruction", "Classify the sentiment of movie reviews.", "--generator", "file", "--set", f"path={good}",
             "--ratios", "1", "--folds", "3", "--repeats", "2", "--no-report", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    import re

    assert re.search(r"^(USE|DO NOT USE|INCONCLUSIVE): .*points macro_f1 \(CI \[[-+]\d", r.stdout, re.M), r.stdout
    assert (tmp_path / "run" / "augmented.csv").is_file() and not (tmp_path / "run" / "report.html").exists()
    # The default classifier is the strongest offline one, and the verdict says so.
    assert "(Measured with embedding-lr (embeddinggemma-300m).)" in r.stdout, r.stdout
    m = read_json(tmp_path / "run" / "manifest.json")
    assert m["config"]["cv"]["classifier_params"] == {"encoder": "embeddinggemma-300m"}
    assert m["verdict"]["classifier"] == "embedding-lr (embeddinggemma-300m)"


def test_cli_classifier_flag_picks_the_encoder_or_a_classifier(user_data, tmp_path):
    _, data, good, _ = user_data
    common = ["--instruction", "Classify the sentiment of movie reviews.", "--generator", "file", "--set", f"path={good}",
              "--ratios", "1", "--folds", "2", "--repeats", "1", "--no-report"]
    r = _cli(data, *common, "--classifier", "all-MiniLM-L6-v2", "--out", tmp_path / "minilm")
    assert r.returncode == 0, r.stderr
    assert "(Measured with embedding-lr (all-MiniLM-L6-v2).)" in r.stdout
    r = _cli(data, *common, "--classifier", "tfidf-lr", "--out", tmp_path / "tfidf")
    assert r.returncode == 0, r.stderr
    assert "(Measured with tfidf-lr.)" in r.stdout
    assert read_json(tmp_path / "tfidf" / "manifest.json")["config"]["cv"]["classifier_params"] == {}


def test_cli_config_is_typed_and_explicit_flags_win(user_data, tmp_path):
    """--config is validated (an unknown or ill-typed key is a one-line error naming it) and an explicit
    --seed, 0 included, wins over the config's seed."""
    _, data, good, _ = user_data
    cfg = tmp_path / "opts.yaml"
    common = ["--instruction", "Classify the sentiment of movie reviews.", "--generator", "file", "--set", f"path={good}",
              "--ratios", "1", "--folds", "2", "--repeats", "1", "--no-report", "--classifier", "tfidf-lr", "--config", cfg]
    cfg.write_text("seed: 5\nratio: [1, 2]\n")
    r = _cli(data, *common, "--out", tmp_path / "typo")
    assert r.returncode == 2 and "ratio: unknown key" in r.stderr and "Traceback" not in r.stderr, r.stderr
    cfg.write_text("seed: 5\nfolds: one\n")
    r = _cli(data, *common, "--out", tmp_path / "type")
    assert r.returncode == 2 and "folds" in r.stderr and "integer" in r.stderr, r.stderr
    assert not (tmp_path / "typo").exists() and not (tmp_path / "type").exists()
    cfg.write_text("seed: 5\n")
    assert _cli(data, *common, "--out", tmp_path / "from-config").returncode == 0
    assert _cli(data, *common, "--seed", "0", "--out", tmp_path / "flag").returncode == 0
    assert read_json(tmp_path / "from-config" / "manifest.json")["seeds"]["seed"] == 5
    assert read_json(tmp_path / "flag" / "manifest.json")["seeds"]["seed"] == 0


@pytest.mark.slow
def test_main_job_with_the_hierarchical_generator_on_a_real_model(user_data, tmp_path):
    """The default generator (hierarchical, Qwen2.5-0.5B in-process) through the real command."""
    _, data, _, _ = user_data
    out = tmp_path / "run"
    r = _cli(data, "--instruction", "Classify the sentiment of movie reviews.", "-n", "8", "--ratios", "0.1",
             "--set", "n_source_type=1", "--set", "batch_size=4", "--folds", "2", "--repeats", "1", "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    m = read_json(out / "manifest.json")
    assert m["status"] == "complete" and m["config"]["generator"] == "hierarchical"
    gen = read_json(out / "generation" / "manifest.json")
    assert gen["counts"]["synthetic"] == 8 and gen["model"]["model"] == "qwen2.5-0.5b-instruct" and gen["model"]["sha256"]
    # Grounded by default, in 8 examples per label that the cross-validation never holds out.
    assert m["config"]["generator_params"]["grounding"] is True and gen["seed_set"]["n"] == 16
    assert m["counts"]["grounding"] == 16 and m["counts"]["held_out_in_cv"] == 24 and m["verdict"]["caveat"] is None
    cv = read_json(out / "crossval.json")
    assert cv["n_always_train"] == 16 and cv["n_real"] == 24
    records = [json.loads(x) for x in (out / "generation" / "synthetic.jsonl").read_text().splitlines()]
    assert all(r["meta"]["topic"] and r["meta"]["source_type"] for r in records)
    assert m["verdict"]["decision"] in {"use", "do not use", "inconclusive", "not measured"}
    assert "Example browser" in (out / "report.html").read_text()
