"""The real ``sentisynth`` CLI on bad input: one ``error:`` line on stderr, exit status 2, no
traceback, nothing half-written. Plus a fast ``--help`` and one happy ``generate eda`` run.

Runs ``python -m sentisynth.cli`` in a subprocess with the test interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import assert_user_error, run_cli

SYSTEM_WORDNET = Path("/usr/share/wordnet")


def generate(tmp_path: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("generate", "eda", "--data", str(data), "-n", "8", "--out", str(out), *extra, cwd=tmp_path)


def assert_nothing_written(out: Path) -> None:
    assert not (out / "synthetic.jsonl").exists()
    assert not (out / "synthetic.jsonl.partial").exists()
    assert not (out / "manifest.json").exists()
    assert not out.exists(), f"{out} was created: {list(out.iterdir())}"


# ----------------------------------------------------------------------------------- bad data


def test_missing_column(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("review,label\ngood,pos\nbad,neg\n")
    out = tmp_path / "run"
    line = assert_user_error(generate(tmp_path, data, out), "reviews.csv", "no column 'text'", "--text-column")
    assert "expected" in line and "fix:" in line
    assert_nothing_written(out)


def test_misnamed_column_suggestion_then_fixed_by_the_flag(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("txt,label\ngood,pos\nbad,neg\n")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out), "reviews.csv", "fix: pass --text-column txt")
    assert_nothing_written(out)


def test_non_utf8_file(tmp_path):
    data = tmp_path / "latin1.csv"
    data.write_bytes(b"text,label\ngood,pos\ncaf\xe9 \xff\xfe,neg\n")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out), "latin1.csv", "line 3", "not valid utf-8", "fix:")
    assert_nothing_written(out)


def test_empty_file(tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_bytes(b"")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out), "empty.jsonl", "the file is empty", "fix:")
    assert_nothing_written(out)


def test_single_class(tmp_path):
    data = tmp_path / "mono.tsv"
    data.write_text("text\tlabel\ngood\tpos\ngreat\tpos\n")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out), "mono.tsv", "single class 'pos'", "expected at least two classes")
    assert_nothing_written(out)


def test_class_smaller_than_k(tmp_path):
    data = tmp_path / "small.csv"
    data.write_text("text,label\na,pos\nb,pos\nc,pos\nd,neg\n")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out, "--k", "2"), "small.csv", "class 'neg' has 1 examples",
                      "expected at least 2", "fix: lower k")
    assert_nothing_written(out)


def test_empty_text_row(tmp_path):
    data = tmp_path / "holes.csv"
    data.write_text("text,label\ngood,pos\n   ,neg\n")
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, data, out), "holes.csv", "row 2 (line 3)", "column 'text' is empty")
    assert_nothing_written(out)


def test_missing_data_file(tmp_path):
    out = tmp_path / "run"
    assert_user_error(generate(tmp_path, tmp_path / "nope.csv", out), "nope.csv", "file not found")
    assert_nothing_written(out)


def test_existing_run_dir_keeps_no_partial_output(tmp_path):
    data = tmp_path / "mono.csv"
    data.write_text("text,label\ngood,pos\ngreat,pos\n")
    out = tmp_path / "run"
    out.mkdir()
    assert_user_error(generate(tmp_path, data, out), "mono.csv")
    assert list(out.iterdir()) == []


# ----------------------------------------------------------------------------------- bad config


def test_experiment_bad_config_key(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "name: t\ndatasets: [{name: sst2}]\nk: [5]\nseeds: 2\nclassifiers: [{name: lr}]\n"
        "conditions:\n  - {name: real, kind: real, ratio: 2}\n"
    )
    out = tmp_path / "run"
    line = assert_user_error(run_cli("experiment", str(cfg), "--out", str(out), cwd=tmp_path),
                             "exp.yaml", "conditions.0.ratio", "unknown key")
    assert line == f"error: {cfg}: conditions.0.ratio: unknown key (check spelling)."
    assert not out.exists()
    assert not (tmp_path / "runs").exists()


def test_experiment_invalid_yaml_and_missing_config(tmp_path):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("name: t\nk: [5\n")
    assert_user_error(run_cli("experiment", str(cfg), cwd=tmp_path), "broken.yaml", "not valid YAML", "line")
    assert_user_error(run_cli("experiment", "no-such-config.yaml", cwd=tmp_path), "no-such-config.yaml", "not found")


def test_generate_needs_exactly_one_seed_source(tmp_path):
    out = tmp_path / "run"
    assert_user_error(run_cli("generate", "eda", "-n", "4", "--out", str(out), cwd=tmp_path),
                      "--dataset", "--data")
    assert not out.exists()


def test_model_inside_backend_params_is_a_clear_error(tmp_path):
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("backend_params: {model: qwen2.5-0.5b-instruct, n_threads: 1}\n")
    out = tmp_path / "run"
    assert_user_error(run_cli("generate", "hierarchical", "--instruction", "Classify sentiment.", "--labels", "neg,pos",
                              "-n", "4", "--config", str(cfg), "--out", str(out), cwd=tmp_path),
                      "backend_params set 'model'", "fix: move it out of backend_params")
    assert not out.exists()


def test_a_bad_tree_cap_from_set_or_the_flag_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    base = ("generate", "hierarchical", "--instruction", "Classify sentiment.", "--labels", "neg,pos", "-n", "400", "--out", str(out))
    for extra in (("--set", "max_sample_per_subtopic=0"), ("--max-sample-per-subtopic", "0")):
        assert_user_error(run_cli(*base, *extra, cwd=tmp_path),
                          "'max_sample_per_subtopic' parameter of HierarchicalGenerator must be an int >= 1", "got 0 instead")
        assert not out.exists()
    assert_user_error(run_cli(*base, "--set", "grounding", cwd=tmp_path), "expected KEY=VALUE")
    assert not out.exists()


# ----------------------------------------------------------------------------------- help and imports


def test_help_is_fast_and_exits_zero(tmp_path):
    t0 = time.perf_counter()
    proc = run_cli("--help", cwd=tmp_path, timeout=30)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert "generate" in proc.stdout and "experiment" in proc.stdout
    assert elapsed < 5, f"--help took {elapsed:.1f} s"


def test_importing_the_cli_loads_no_heavy_libraries(tmp_path):
    code = (
        "import sentisynth.cli, sys; "
        "heavy = [m for m in ('torch', 'sklearn', 'pandas', 'transformers', 'pyarrow', 'sentence_transformers') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------------------- happy path


@pytest.mark.skipif(not (SYSTEM_WORDNET / "data.noun").is_file(), reason="no WordNet at /usr/share/wordnet")
def test_generate_eda_happy_path(tmp_path):
    data = tmp_path / "small.csv"
    data.write_text(
        "text,label\n"
        '"a warm, funny and moving film",positive\n'
        "the actors give wonderful performances,positive\n"
        "a tedious and boring story,negative\n"
        "the plot makes no sense at all,negative\n"
    )
    out = tmp_path / "run"
    proc = generate(tmp_path, data, out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    synth = out / "synthetic.jsonl"
    lines = synth.read_text().splitlines()
    assert len(lines) == 8
    records = [json.loads(x) for x in lines]
    assert all(r["text"].strip() for r in records)
    assert {r["label"] for r in records} == {"positive", "negative"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["synthetic"] == 8
    assert manifest["seed_set"]["n"] == 4
    assert not (out / "synthetic.jsonl.partial").exists()
    assert f"wrote 8 records to {synth}" in proc.stdout
