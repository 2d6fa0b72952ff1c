"""`sentisynth filter` end to end on real files, and filters inside the experiment grid."""

from __future__ import annotations

import json

import pytest
import yaml

from sentisynth.errors import DataError
from sentisynth.evaluation.config import parse_experiment_config
from sentisynth.evaluation.experiment import Experiment
from sentisynth.records import SyntheticExample
from sentisynth.store import read_json, read_jsonl

from .helpers import assert_user_error, run_cli, sst2_rows, write_csv


def write_pool(path, extra=()):
    """A small 'generation run': distinct real-looking sentences, a duplicate, a fragment, a test copy."""
    rows = sst2_rows("dev", 40)
    recs = [SyntheticExample(text=t, label=y, generator="test") for t, y in rows]
    recs += [SyntheticExample(text=rows[0][0], label=rows[0][1], generator="test"),
             SyntheticExample(text="Meh.", label="negative", generator="test"), *extra]
    path.mkdir(parents=True, exist_ok=True)
    (path / "synthetic.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    return recs


FILTERS = [{"name": "length", "params": {"min_words": 3}},
           {"name": "diversity", "params": {"embedding_threshold": None, "seed_threshold": None}},
           {"name": "contamination", "params": {"embedding_threshold": None}}]


def test_filter_command_writes_kept_rejected_and_manifest(tmp_path):
    test_copy = sst2_rows("test", 2)[0]
    recs = write_pool(tmp_path / "gen", [SyntheticExample(text=test_copy[0], label=test_copy[1], generator="test")])
    (tmp_path / "f.yaml").write_text(yaml.safe_dump({"filters": FILTERS}))
    args = ("filter", str(tmp_path / "gen"), "--out", str(tmp_path / "flt"), "--config", str(tmp_path / "f.yaml"),
            "--eval-dataset", "sst2", "--eval-split", "dev,test", "--no-progress")
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"kept 0 of {len(recs)}" in proc.stdout
    kept = list(read_jsonl(tmp_path / "flt/synthetic.jsonl"))
    rejected = list(read_jsonl(tmp_path / "flt/rejected.jsonl"))
    # the 40 dev sentences are themselves evaluation data when dev is protected: all rejected, with the test copy
    assert len(kept) + len(rejected) == len(recs)
    by = {}
    for r in rejected:
        by.setdefault(r["filter"], []).append(r)
    assert len(by["length"]) == 1 and len(by["diversity"]) == 1
    assert len(by["contamination"]) == 41 and not kept
    m = read_json(tmp_path / "flt/manifest.json")
    assert m["status"] == "complete" and m["counts"]["rejected"] == len(rejected)
    assert m["filters"]["contamination"]["rejected"] == 41 and m["contamination_found"] == {"contamination": 41}
    assert m["config"]["source_sha256"] and m["diversity"]["before"]["distinct_1"] > 0
    assert (tmp_path / "flt/synthetic.parquet").exists()
    # rerun of the same config: a no-op that leaves the outputs as they are
    before = (tmp_path / "flt/rejected.jsonl").stat().st_mtime_ns
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    assert (tmp_path / "flt/rejected.jsonl").stat().st_mtime_ns == before


def test_filter_command_test_split_only_keeps_clean_records(tmp_path):
    test_copy = sst2_rows("test", 2)[0]
    recs = write_pool(tmp_path / "gen", [SyntheticExample(text=test_copy[0], label=test_copy[1], generator="test")])
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(FILTERS))
    proc = run_cli("filter", str(tmp_path / "gen"), "-o", str(tmp_path / "flt"), "--config", str(tmp_path / "f.yaml"),
                   "--eval-dataset", "sst2", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list(read_jsonl(tmp_path / "flt/synthetic.jsonl"))) == len(recs) - 3
    assert read_json(tmp_path / "flt/manifest.json")["contamination_found"] == {"contamination": 1}


def test_filter_command_bad_input(tmp_path):
    write_pool(tmp_path / "gen")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump([{"name": "lenght"}]))
    proc = run_cli("filter", str(tmp_path / "gen"), "-o", str(tmp_path / "flt"), "--config", str(tmp_path / "bad.yaml"), cwd=tmp_path)
    assert_user_error(proc, "Unknown filter 'lenght'", "length")
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(FILTERS))
    proc = run_cli("filter", str(tmp_path / "nothing"), "-o", str(tmp_path / "flt2"), "--config", str(tmp_path / "f.yaml"), cwd=tmp_path)
    assert_user_error(proc, "no synthetic.jsonl")
    assert not (tmp_path / "flt2").exists()
    proc = run_cli("filter", str(tmp_path / "gen"), "-o", str(tmp_path / "flt3"), "--config", str(tmp_path / "f.yaml"), cwd=tmp_path)
    assert_user_error(proc, "no evaluation texts", "dataset")


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return str(write_csv(d / "train.csv", sst2_rows("dev", 200))), str(write_csv(d / "test.csv", sst2_rows("test", 100)))


def _grid(data_files, pool, filters, oversample=1.0, ratios=(1,)):
    train, test = data_files
    return parse_experiment_config({
        "name": "f", "datasets": [{"name": "mini", "train": train, "test": test}], "k": [4], "seeds": 2,
        "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [{"name": "real", "kind": "real"},
                       {"name": "pool", "kind": "augment", "generator": "file", "params": {"path": str(pool)},
                        "ratios": list(ratios), "filters": filters, "oversample": oversample}],
    })


def test_grid_filters_each_cell_and_keeps_rejections(tmp_path, data_files):
    pool = tmp_path / "pool"
    write_pool(pool)
    cfg = _grid(data_files, pool, [{"name": "length", "params": {"min_words": 3}}], oversample=2.0, ratios=[1, 2])
    Experiment(cfg, output_dir=tmp_path / "run", progress=False).run()
    meta = read_json(tmp_path / "run/synthetic/mini/k4/seed0/pool.meta.json")
    assert meta["filters"]["length"]["seen"] == 32  # ratio 2 x 8 real x oversample 2
    r = read_json(tmp_path / "run/eval/mini/tfidf/k4/seed0/pool@2.json")
    assert r["n_synthetic"] == 16
    filtering = tmp_path / "run/synthetic/mini/k4/seed0/pool.filtering"  # the run `sentisynth filter` writes
    m = read_json(filtering / "manifest.json")
    assert m["kind"] == "filter" and m["counts"]["input"] == 32 and m["filters"] == meta["filters"]
    rejected = [json.loads(x) for x in (filtering / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == m["counts"]["rejected"] and all(r["filter"] == "length" and r["reason"] for r in rejected)


def test_grid_too_few_after_filtering_is_a_clear_error(tmp_path, data_files):
    pool = tmp_path / "pool"
    write_pool(pool)
    cfg = _grid(data_files, pool, [{"name": "length", "params": {"min_words": 40}}])
    with pytest.raises(DataError, match="raise 'oversample'"):
        Experiment(cfg, output_dir=tmp_path / "run", progress=False).run()
