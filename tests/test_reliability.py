"""Reliability: faults on the wire, kill -9 mid-run, and files that are never left corrupt.

The HTTP backend talks to a real HTTP server on 127.0.0.1 (``tests/fault_server.py``) that fails
at set rates; the CLI runs as a real subprocess and is killed with SIGKILL at points chosen by its
progress on disk (seeded), so the outcome does not depend on how fast the machine is.
Every figure asserted here is also in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import yaml

from sentisynth.generators.base import make_generator
from sentisynth.generators.hierarchical import normalize
from sentisynth.pipeline import write_generation_run
from sentisynth.store import read_json

from .fault_server import CONTENT_FAULTS, TRANSPORT_FAULTS, running_fault_server
from .helpers import cli_command, sst2_rows, write_csv

LABELS = ["negative", "positive"]
#: 40 % of requests faulted, every kind represented.
MIXED_RATES = {"http_500": 0.08, "http_429": 0.04, "timeout": 0.04, "truncated": 0.06, "malformed_body": 0.05,
               "empty_choices": 0.05, "bad_json": 0.05, "schema": 0.03}
#: What the backend calls each transport fault when it retries it.
CAUSE_OF = {"http_500": "http_500", "http_429": "http_429", "timeout": "timeout", "truncated": "connection",
            "malformed_body": "malformed_body", "empty_choices": "empty_choices"}
#: The client's timeout is far above what a healthy answer from 127.0.0.1 takes even on a loaded machine (a
#: slow healthy answer would be counted as a timeout the server never sent), and the server's ``timeout``
#: fault (HANG) holds the connection past it.
FAST_RETRIES = {"timeout": 6.0, "max_retries": 15, "backoff_base": 0.01, "backoff_max": 0.05, "max_concurrency": 4}
HANG = 8.0


def _generator(url: str, tmp_path: Path, **backend_params):
    return make_generator(
        "hierarchical", instruction="Classify the sentiment of movie reviews.", labels=LABELS, model="fault-model",
        backend="openai", backend_params={"base_url": url, **FAST_RETRIES, **backend_params},
        cache_path=str(tmp_path / "calls.sqlite"), style_examples=0,
        # A broken model answer costs one of the job's attempts; at 8 % content faults (12 % of final
        # answers after transport retries) the default 4 attempts leave a job short once in ~5,000.
        max_attempts=6,
    )


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _check_exact(recs: list[dict], n: int) -> None:
    """Exactly ``n`` labeled, balanced, distinct records, each grounded on its own slot."""
    assert len(recs) == n
    assert Counter(r["label"] for r in recs) == {lab: n // len(LABELS) for lab in LABELS}
    assert len({normalize(r["text"]) for r in recs}) == n
    grounding = {(r["label"], r["meta"]["source_type"], r["meta"]["topic"], r["meta"]["subtopic"], r["meta"]["slot"]) for r in recs}
    assert len(grounding) == n and len({r["meta"]["id"] for r in recs}) == n


def test_generation_through_every_fault_kind_is_exact_and_counted(tmp_path):
    n = 300
    with running_fault_server(rates=MIXED_RATES, seed=1, hang=HANG, retry_after=1) as (url, server):
        path = write_generation_run(tmp_path / "run", _generator(url, tmp_path), None, n, seed=0, source="none")
    _check_exact(_records(path), n)
    served = server.served
    print(f"\nRELIABILITY mixed faults: {dict(served)}")
    assert all(served[f] >= 2 for f in MIXED_RATES), served  # every kind of fault really happened
    faulted = sum(served[f] for f in MIXED_RATES)
    assert 0.3 < faulted / sum(served.values()) < 0.5

    stages = read_json(tmp_path / "run" / "manifest.json")["generator_report"]["stages"]
    causes: Counter[str] = Counter()
    for s in stages.values():
        causes.update(s["retry_causes"])
    # Every transport fault the server sent was seen and retried exactly once, under its own name ...
    assert causes == Counter({CAUSE_OF[f]: served[f] for f in TRANSPORT_FAULTS}), (causes, served)
    assert sum(s["retries"] for s in stages.values()) == sum(served[f] for f in TRANSPORT_FAULTS)
    # ... and every broken model answer was counted as a failed parse, kept with its reason, and asked again.
    assert sum(s["parse_failures"] for s in stages.values()) == sum(served[f] for f in CONTENT_FAULTS)
    failed = _records(tmp_path / "run" / "failed_parses.jsonl")
    assert len(failed) == sum(served[f] for f in CONTENT_FAULTS)
    assert {f["reason"] for f in failed} <= {"empty or unparseable output", "json without a list of strings: dict"}


def test_a_server_that_never_recovers_fails_clearly_and_leaves_nothing_half_written(tmp_path):
    with running_fault_server(rates={"http_500": 1.0}) as (url, server):
        gen = _generator(url, tmp_path, max_retries=2)
        with pytest.raises(Exception) as info:
            write_generation_run(tmp_path / "run", gen, None, 20, seed=0, source="none")
    msg = str(info.value)
    assert "after 2 retries" in msg and "HTTP 500" in msg and "fix:" in msg
    assert server.served["http_500"] == 3
    assert not (tmp_path / "run").exists()  # failed before its first record: no run directory that looks started


# ------------------------------------------------------------------------------ kill -9 loops


ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "OMP_NUM_THREADS": "1"}


def _assert_nothing_corrupt(folder: Path) -> None:
    """Every file a killed run leaves parses: JSON whole, JSONL complete up to at most one torn last
    line (cut off and repaired on resume), SQLite passes its integrity check."""
    for f in folder.rglob("*"):
        if not f.is_file() or f.name.endswith(".tmp"):
            continue  # a write_atomic temporary: never read, removed when the run reopens
        if f.suffix == ".json":
            json.loads(f.read_text(encoding="utf-8"))
        elif f.suffix in (".jsonl", ".partial"):
            lines = f.read_text(encoding="utf-8").split("\n")
            for line in lines[:-1]:
                json.loads(line)
        elif f.suffix == ".yaml":
            yaml.safe_load(f.read_text(encoding="utf-8"))
        elif f.suffix == ".sqlite":
            con = sqlite3.connect(f)
            try:
                assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f
            finally:
                con.close()


def _kill_loop(cmd: list[str], out: Path, progress: Callable[[], int], steps: list[int]) -> int:
    """Start ``cmd`` and SIGKILL it each time ``progress()`` (units of work on disk) has grown by the
    next of ``steps`` since that start, then start it again; after every kill nothing in ``out`` may
    be corrupt. Kill points are chosen by progress, never by the clock, so every machine kills at
    the same stages; ``steps`` must add up to less than the whole run, so that each kill lands
    mid-run. Returns the kills (each one asserted to have hit a running process)."""
    kills = 0
    for step in steps:
        target = progress() + step
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 600  # a hang, not a slow machine: the run makes progress in seconds
        while proc.poll() is None and progress() < target and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, (
            f"the run ended (exit {proc.returncode}) at progress {progress()} before reaching {target}: "
            f"steps {steps} must add up to less than the whole run; stderr: {proc.stderr.read().decode()[-2000:]}")
        assert progress() >= target, f"no progress past {progress()} in 600 s (wanted {target})"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills += 1
        _assert_nothing_corrupt(out)
    return kills


def _kill_steps(rng: random.Random, total: int, kills: int) -> list[int]:
    """``kills`` progress steps drawn from the seeded ``rng`` that together cover 20–80 % of ``total``
    units, so the last kill still leaves a fifth of the run (far more than one poll can miss)."""
    cuts = sorted(rng.sample(range(total // 5, 4 * total // 5), kills))
    return [b - a for a, b in zip([0, *cuts], cuts)]


def _rows(sqlite_path: Path) -> int:
    """Answers in a call cache (0 before it exists); read-only, so it never disturbs the writer."""
    if not sqlite_path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def test_kill_9_loop_during_generation_ends_with_the_uninterrupted_records(tmp_path):
    """Transport faults and kills change nothing: the records equal a clean run's with the same seed."""
    n = 120

    def command(out: Path, cache: Path, url: str) -> list[str]:
        cfg = tmp_path / f"{out.name}.yaml"
        cfg.write_text(yaml.safe_dump({"backend_params": FAST_RETRIES, "cache_path": str(cache), "style_examples": 0}))
        return cli_command("generate", "hierarchical", "--backend", "openai", "--base-url", url, "--model", "fault-model",
                    "--labels", ",".join(LABELS), "--instruction", "Classify the sentiment of movie reviews.",
                    "-n", str(n), "--out", str(out), "--config", str(cfg))

    transport = {f: r for f, r in MIXED_RATES.items() if f in TRANSPORT_FAULTS}
    with running_fault_server(seed=3) as (url, _):
        subprocess.run(command(tmp_path / "clean", tmp_path / "clean.sqlite", url), env=ENV, check=True, timeout=300,
                       capture_output=True)
    with running_fault_server(rates=transport, seed=4, latency=0.25, hang=HANG, retry_after=0.2) as (url, server):
        out = tmp_path / "killed"
        cmd = command(out, tmp_path / "killed.sqlite", url)
        calls = _rows(tmp_path / "clean.sqlite")  # the answers a whole run caches
        steps = _kill_steps(random.Random(7), calls, kills=4)
        kills = _kill_loop(cmd, out, lambda: _rows(tmp_path / "killed.sqlite"), steps)
        subprocess.run(cmd, env=ENV, check=True, timeout=300, capture_output=True)  # finish the run
    print(f"\nRELIABILITY generation kill loop: {kills} kills after {steps} of {calls} answers, "
          f"faults served {dict(server.served)}")
    assert kills == 4
    assert sum(server.served[f] for f in transport) > 0
    clean, killed = _records(tmp_path / "clean" / "synthetic.jsonl"), _records(out / "synthetic.jsonl")
    _check_exact(killed, n)
    assert killed == clean
    assert not list(out.rglob("*.tmp")) and not (out / "synthetic.jsonl.partial").exists()
    _assert_nothing_corrupt(out)


def test_kill_9_loop_during_an_experiment_grid_ends_with_the_uninterrupted_results(tmp_path):
    train = write_csv(tmp_path / "train.csv", sst2_rows("dev", 300))
    test = write_csv(tmp_path / "test.csv", sst2_rows("test", 300))
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "kill-loop", "datasets": [{"name": "mini", "train": str(train), "test": str(test)}],
        "k": [4, 8, 16], "seeds": 16, "classifiers": [{"name": "tfidf", "type": "tfidf-lr"}],
        "conditions": [{"name": "real", "kind": "real"},
                       {"name": "eda", "kind": "augment", "generator": "eda", "params": {"alpha_sr": 0.1}, "ratios": [1, 2, 4]},
                       {"name": "ceiling", "kind": "ceiling"}],
    }))

    def results(out: Path) -> dict[str, dict]:
        return {str(p.relative_to(out)): {k: v for k, v in read_json(p).items() if k != "seconds"}
                for p in sorted((out / "eval").rglob("*.json"))}

    subprocess.run(cli_command("experiment", str(cfg), "--out", str(tmp_path / "clean"), "--no-progress"), env=ENV, check=True,
                   timeout=600, capture_output=True)
    out = tmp_path / "killed"
    cmd = cli_command("experiment", str(cfg), "--out", str(out), "--no-progress")
    clean = results(tmp_path / "clean")
    assert len(clean) == 3 * 16 * 4 + 1
    steps = _kill_steps(random.Random(11), len(clean), kills=4)
    cells = lambda: sum(1 for _ in (out / "eval").rglob("*.json")) if (out / "eval").exists() else 0  # noqa: E731
    kills = _kill_loop(cmd, out, cells, steps)
    subprocess.run(cmd, env=ENV, check=True, timeout=600, capture_output=True)
    print(f"\nRELIABILITY experiment kill loop: {kills} kills after {steps} of {len(clean)} cells")
    assert kills == 4
    assert results(out) == clean
    synthetic = sorted(p.relative_to(out) for p in (out / "synthetic").rglob("*.jsonl"))
    assert synthetic == sorted(p.relative_to(tmp_path / "clean") for p in (tmp_path / "clean" / "synthetic").rglob("*.jsonl"))
    for rel in synthetic:
        assert (out / rel).read_bytes() == (tmp_path / "clean" / rel).read_bytes()
    assert (out / "summary.csv").read_text() == (tmp_path / "clean" / "summary.csv").read_text()
    assert read_json(out / "manifest.json")["status"] == "complete"
    assert not list(out.rglob("*.tmp"))
    _assert_nothing_corrupt(out)


def test_a_model_that_never_answers_in_shape_fails_clearly_and_keeps_its_raw_answers(tmp_path):
    with running_fault_server(rates={"schema": 1.0}) as (url, server):
        with pytest.raises(Exception) as info:
            write_generation_run(tmp_path / "run", _generator(url, tmp_path), None, 20, seed=0, source="none")
    assert "failed_parses.jsonl" in str(info.value) and "fix:" in str(info.value)
    failed = _records(tmp_path / "run" / "failed_parses.jsonl")
    assert len(failed) == server.served["schema"] == 6  # the source-types job, asked max_attempts (6) times
    assert all(f["reason"] == "json without a list of strings: dict" and f["raw"] for f in failed)
    m = read_json(tmp_path / "run" / "manifest.json")
    assert m["status"] == "failed" and "failed_parses.jsonl" in m["error"]
    assert not (tmp_path / "run" / "synthetic.jsonl").exists()


def test_http_answers_are_cached_as_they_arrive_even_when_another_request_of_the_batch_fails(tmp_path):
    """A batch whose one request never gets an answer still keeps the answers that did arrive."""
    from sentisynth.backends.base import ChatRequest, make_backend
    from sentisynth.backends.call_cache import CachedBackend, CallCache

    reqs = [ChatRequest(messages=[{"role": "user", "content": f"topic {i}: Return ...2 strings"}], seed=i) for i in range(12)]
    with running_fault_server(rates={"http_500": 0.3}, seed=1) as (url, server):
        backend = make_backend("openai", base_url=url, model="fault-model", **{**FAST_RETRIES, "max_retries": 0})
        cached = CachedBackend(backend, CallCache(tmp_path / "calls.sqlite"))
        with pytest.raises(Exception, match="HTTP 500"):
            cached.chat_many(reqs)
        answered = server.served["ok"]
    assert 0 < answered < len(reqs)
    with sqlite3.connect(tmp_path / "calls.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == answered
