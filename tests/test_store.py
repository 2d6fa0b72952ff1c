"""Run-directory writes: atomic files, append-only JSONL that survives a torn last line."""

import json

import pytest

from sentisynth.store import OutputError, RunDir, append_jsonl, config_hash, read_jsonl, repair_jsonl, write_json


def test_append_and_read_jsonl_roundtrip(tmp_path):
    p = tmp_path / "x.jsonl"
    assert append_jsonl(p, [{"a": 1}, {"a": 2}]) == 2
    append_jsonl(p, [{"a": 3}])
    assert [r["a"] for r in read_jsonl(p)] == [1, 2, 3]


def test_torn_last_line_is_ignored_then_repaired_before_append(tmp_path):
    p = tmp_path / "x.jsonl"
    append_jsonl(p, [{"a": 1}])
    with open(p, "a") as fh:
        fh.write('{"a": 2, "b"')  # a crash mid-write
    assert [r["a"] for r in read_jsonl(p)] == [1]
    append_jsonl(p, [{"a": 3}])
    lines = p.read_text().splitlines()
    assert [json.loads(x)["a"] for x in lines] == [1, 3]
    assert repair_jsonl(p) == 0


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "d" / "r.json"
    write_json(p, {"x": 1})
    write_json(p, {"x": 2})
    assert json.loads(p.read_text()) == {"x": 2}
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_manifest_records_environment_and_merges(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.write_manifest(status="running", seeds=[0, 1])
    m = run.write_manifest(status="complete")
    assert m["status"] == "complete" and m["seeds"] == [0, 1]
    assert m["environment"]["libraries"]["numpy"]
    assert m["environment"]["python"].startswith("3.")


def test_unwritable_output_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(OutputError, match="cannot create the run directory"):
        RunDir(blocker / "run").create()
