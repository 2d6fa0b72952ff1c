"""The hierarchical generator end to end on a real model (Qwen2.5-0.5B through llama.cpp).

In-process llama.cpp, the OpenAI-compatible HTTP backend against a real llama.cpp server started
on 127.0.0.1, and a kill -9 in the middle of a run followed by a rerun that must finish with
exactly the requested records, none lost or duplicated, with cached calls reused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from sentisynth.generators.base import make_generator
from sentisynth.generators.hierarchical import normalize
from sentisynth.store import read_json

from .llama_server import running_llama_server

pytestmark = pytest.mark.slow
MODEL = "qwen2.5-0.5b-instruct"
LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def llama_server():
    """A real llama.cpp OpenAI-compatible server on 127.0.0.1 serving Qwen2.5-0.5B."""
    from sentisynth.backends.models import resolve_model

    with running_llama_server(resolve_model(MODEL).path, n_ctx=4096, n_threads=2) as url:
        yield url


def _cli(out, cfg_path, n):
    env = dict(os.environ)  # the child sets the library's OpenMP waiting when it loads llama.cpp
    return [sys.executable, "-m", "sentisynth.cli", "generate", "hierarchical", "--config", str(cfg_path), "-n", str(n), "--out", str(out)], env


def _write_cfg(tmp_path, **extra):
    cfg = {"instruction": "Classify the sentiment of movie reviews.", "labels": LABELS, "model": MODEL,
           "backend": "llamacpp", "cache_path": str(tmp_path / "calls.sqlite"), "batch_size": 2, **extra}
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _check_records(path, n):
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(recs) == n
    assert sorted(r["label"] for r in recs) == sorted(LABELS * (n // 2))
    assert len({normalize(r["text"]) for r in recs}) == n, "duplicate texts"
    assert all(r["text"].strip() and r["meta"]["topic"] and r["meta"]["subtopic"] and r["meta"]["source_type"] for r in recs)
    return recs


def test_in_process_llamacpp_generates_a_small_real_set(tmp_path):
    cmd, env = _cli(tmp_path / "run", _write_cfg(tmp_path), 6)
    subprocess.run(cmd, env=env, check=True, timeout=600, capture_output=True)
    _check_records(tmp_path / "run" / "synthetic.jsonl", 6)
    m = read_json(tmp_path / "run" / "manifest.json")
    stages = m["generator_report"]["stages"]
    assert all(stages[s]["calls"] >= 1 for s in ("source_types", "topics", "subtopics", "examples"))
    assert stages["examples"]["completion_tokens"] > 0
    assert m["model"]["backend"] == "llamacpp" and m["model"].get("sha256", m["model"].get("gguf_sha256"))
    assert "AVX" in m["environment"]["llama_cpp_system_info"]  # which llama.cpp build made the tokens
    assert (tmp_path / "run" / "synthetic.parquet").exists()


def test_a_capped_real_tree_grows_subtopics_instead_of_texts_per_subtopic(tmp_path):
    """--max-sample-per-subtopic 1 with 12 records per label and one source type: the fixed tree (1 x 5 x 2)
    would write 2 texts per subtopic; the capped one asks the real model for a third subtopic per topic."""
    cmd, env = _cli(tmp_path / "run", _write_cfg(tmp_path, n_source_type=1, batch_size=16), 24)
    subprocess.run(cmd + ["--max-sample-per-subtopic", "1"], env=env, check=True, timeout=900, capture_output=True)
    recs = _check_records(tmp_path / "run" / "synthetic.jsonl", 24)
    combos = [(r["label"], r["meta"]["topic"], r["meta"]["subtopic"]) for r in recs]
    assert len(set(combos)) == 24  # one text per (label, topic, subtopic)
    m = read_json(tmp_path / "run" / "manifest.json")
    assert m["generator_report"]["tree"]["shape"] == [1, 5, 3, 1]
    assert m["generator_report"]["stages"]["subtopics"]["calls"] >= 10  # 2 labels x 5 topics, 3 subtopics each


def test_kill_9_mid_run_then_rerun_finishes_exactly(tmp_path):
    n = 12
    cfg = _write_cfg(tmp_path)
    out = tmp_path / "run"
    cmd, env = _cli(out, cfg, n)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / "synthetic.jsonl.partial"
    deadline = time.time() + 540
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(partial.read_text().splitlines())
    assert 2 <= written < n and not (out / "synthetic.jsonl").exists()

    subprocess.run(cmd, env=env, check=True, timeout=600, capture_output=True)
    recs = _check_records(out / "synthetic.jsonl", n)
    m = read_json(out / "manifest.json")
    assert m["counts"]["resumed_from"] == written
    hits = sum(s["cache_hits"] for s in m["generator_report"]["stages"].values())
    assert hits >= written // 2, "the rerun must reuse the calls made before the kill"
    # A third run of the same command is a no-op on a complete run.
    subprocess.run(cmd, env=env, check=True, timeout=120, capture_output=True)
    assert [json.loads(x) for x in (out / "synthetic.jsonl").read_text().splitlines()] == recs


def test_http_backend_against_a_real_llama_server(tmp_path, llama_server):
    gen = make_generator(
        "hierarchical", instruction="Classify the sentiment of movie reviews.", labels=LABELS, model=MODEL,
        backend="openai", backend_params={"base_url": llama_server, "api_key": "sk-test-not-a-secret", "schema_mode": "llamacpp"},
        cache_path=str(tmp_path / "calls.sqlite"),
    ).fit([])
    recs = [r for batch in gen.generate(6) for r in batch]
    assert len(recs) == 6 and {r.label for r in recs} == set(LABELS)
    assert len({normalize(r.text) for r in recs}) == 6
    assert gen.stats_["examples"]["calls"] >= 3
    assert "sk-test" not in json.dumps(gen.get_params()) and "sk-test" not in json.dumps(gen.backend_.identity())


def test_real_model_through_a_faulty_proxy_is_exact_and_counted(tmp_path, llama_server):
    """The fault server in front of the real llama.cpp server: 30 % of requests fail on the wire
    (500, 429, truncated and malformed bodies, empty choices). Timeouts are left to the fixture-only
    test: a real model's healthy answer takes longer than any timeout short enough to test."""
    from .fault_server import running_fault_server

    rates = {"http_500": 0.1, "http_429": 0.05, "truncated": 0.05, "malformed_body": 0.05, "empty_choices": 0.05}
    with running_fault_server(rates=rates, seed=2, upstream=llama_server, retry_after=0.2) as (url, server):
        gen = make_generator(
            "hierarchical", instruction="Classify the sentiment of movie reviews.", labels=LABELS, model=MODEL,
            backend="openai", backend_params={"base_url": url, "schema_mode": "llamacpp", "timeout": 300, "max_retries": 10,
                                              "backoff_base": 0.01, "max_concurrency": 1},
            cache_path=str(tmp_path / "calls.sqlite"), style_examples=0,
        ).fit([])
        recs = [r for batch in gen.generate(6) for r in batch]
    assert len(recs) == 6 and sorted(r.label for r in recs) == sorted(LABELS * 3)
    assert len({normalize(r.text) for r in recs}) == 6
    faults = {k: v for k, v in server.served.items() if k != "ok"}
    assert sum(faults.values()) >= 2, server.served
    causes = {}
    for s in gen.stats_.values():
        for k, v in s["retry_causes"].items():
            causes[k] = causes.get(k, 0) + v
    renamed = {"truncated": "connection"}
    assert causes == {renamed.get(k, k): v for k, v in faults.items()}
