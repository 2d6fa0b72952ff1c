"""The Python API (``import sentisynth as ss``): the README's example as written, and each call on real data."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import sentisynth as ss
from sentisynth.store import read_json

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    """The ```python block under the README's "Use it from Python" heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Use it from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its run directories land here
    exec(compile(readme_python_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"'real': \d", out) and "AugmentResult(" in out, out
    m = read_json(tmp_path / "runs" / "py-rt-augment" / "manifest.json")
    assert m["status"] == "complete" and m["config"]["generator"] == "hierarchical"
    assert m["verdict"]["classifier"] == "embedding-lr (embeddinggemma-300m)"


def test_public_names_are_documented():
    for name in ss.__all__:
        obj = getattr(ss, name)
        assert name == "__version__" or (obj.__doc__ and obj.__doc__.strip()), name
    assert callable(ss.augment) and "main job" in ss.augment.__doc__
    assert "ss.load_dataset" in ss.__doc__  # help(sentisynth) reads as a guide


def test_load_dataset_takes_names_files_frames_and_hf_datasets(tmp_path):
    splits = ss.load_dataset("sst2")
    assert isinstance(splits, ss.DatasetSplits) and len(splits.test) == 1821
    seed = ss.sample(splits, k=5, seed=3)
    assert seed.counts() == {"negative": 5, "positive": 5}
    assert ss.sample(splits, k=5, seed=3).texts == seed.texts  # one explicit seed, same draw

    frame = seed.to_pandas()
    assert list(frame.columns) == ["text", "label"] and len(frame) == 10
    back = ss.load_dataset(frame)
    assert back.texts == seed.texts and back.labels == seed.labels
    assert ss.load_dataset(seed.to_hf()).texts == seed.texts
    path = tmp_path / "mine.csv"
    frame.rename(columns={"text": "review"}).to_csv(path, index=False)
    assert ss.load_dataset(path, text_column="review").counts() == seed.counts()
    with pytest.raises(ss.DataError, match="no column 'text'.*found columns: review, label"):
        ss.load_dataset(frame.rename(columns={"text": "review"}))
    with pytest.raises(ss.DataError, match="expected a pandas DataFrame"):
        ss.load_dataset(42)


def test_synthesize_in_memory_and_into_a_run_directory_give_the_same_records(tmp_path):
    seed = ss.sample(ss.load_dataset("sst2"), k=10, seed=0)
    mem = ss.synthesize(seed, "eda", n=40, random_state=1)
    disk = ss.synthesize(seed, "eda", n=40, random_state=1, out=tmp_path / "run")
    assert [r.text for r in mem.kept] == [r.text for r in disk.kept]
    assert [r["reason"] for r in mem.rejected] == [r["reason"] for r in disk.rejected]
    assert len(mem.kept) + len(mem.rejected) == 40 and mem.rejected  # the default chain rejects near-copies
    assert (tmp_path / "run" / "generation" / "manifest.json").exists() and disk.path == tmp_path / "run"
    everything = ss.synthesize(seed, "eda", n=40, random_state=1, filters=None)
    assert len(everything.kept) == 40 and not everything.rejected
    assert set(everything.to_pandas().columns) >= {"text", "label", "generator", "meta"}
    with pytest.raises(ss.ConfigError, match="instruction"):
        ss.synthesize(seed, "hierarchical", n=4)


def test_compare_trains_real_and_augmented_on_one_classifier(tmp_path):
    data = ss.load_dataset("sst2")
    seed = ss.sample(data, k=10, seed=0)
    # Real SST-2 sentences as the "synthetic" pool: adding more real labels must help.
    pool = [ss.SyntheticExample(text=e.text, label=e.label, generator="pool") for e in ss.sample(data, k=60, seed=9).examples()]
    res = ss.compare(seed, pool, test=data.test.subset(range(0, 1821, 4)), classifier="all-MiniLM-L6-v2", ratios=[1, 4])
    assert res["real+synthetic@4"]["n_train"] == 20 + 80
    assert res["summary"]["delta"] > 0 and res["summary"]["best"] in ("real+synthetic@1", "real+synthetic@4")
    tfidf = ss.compare(seed, pool, test=data.test.subset(range(100)), classifier="tfidf-lr", ratios=[1])
    assert set(tfidf) == {"real", "real+synthetic@1", "summary"}


def test_augment_returns_the_verdict_records_and_paths(tmp_path):
    seed = ss.sample(ss.load_dataset("sst2"), k=10, seed=0)
    res = ss.augment(seed.to_pandas(), "Classify the sentiment of movie reviews.", out=tmp_path / "run", generator="eda",
                     ratios=(1,), n_splits=2, n_repeats=1, classifier_params={"encoder": "all-MiniLM-L6-v2"}, report=False)
    assert res.decision in {"use", "do not use", "inconclusive"} and "Measured with embedding-lr (all-MiniLM-L6-v2)" in res.message
    assert res.verdict == {k: v for k, v in read_json(tmp_path / "run" / "manifest.json")["verdict"].items()} | {
        "n_kept": res.verdict["n_kept"], "n_rejected": res.verdict["n_rejected"]}
    assert {"augmented.parquet", "synthetic.jsonl", "manifest.json"} <= set(res.paths())
    assert isinstance(res.augmented, pd.DataFrame) and len(res.synthetic) == res.verdict["n_kept"]
    with pytest.raises(ss.ConfigError, match="built-in dataset.*sample"):
        ss.augment("sst2", "x", out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_run_experiment_from_a_dict_returns_the_summary(tmp_path):
    summary = ss.run_experiment({"name": "api", "datasets": [{"name": "sst2"}], "k": [4], "seeds": 2,
                                 "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}],
                                 "conditions": [{"name": "real", "kind": "real"}]}, out=tmp_path / "grid")
    assert list(summary["condition"]) == ["real"] and summary["n_seeds"].iloc[0] == 2
    assert (tmp_path / "grid" / "summary.csv").exists()
