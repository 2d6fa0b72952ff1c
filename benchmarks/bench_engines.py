"""Benchmark: the in-process parallel decoder against llama.cpp's own ``llama-server --parallel N``.

Issue 22 asks whether the maintained server (continuous batching, in C++) is as fast as the
hand-written decoder (``backends/llamacpp_parallel.py``, on private llama-cpp-python APIs). Both
run the same workload, one after the other in one invocation (this machine's speed varies from
minute to minute), on the same GGUF, thread count and fresh call cache:

* the main job's generation: ``HierarchicalGenerator`` grounded in 8 SST-2 train examples per label
  (as ``sentisynth augment`` grounds it), ``--n`` records, default model;
* engine ``decoder-P``: the in-process decoder with ``n_parallel = P``;
* engine ``server-P``: ``llama-server --parallel P`` (built from the llama.cpp that llama-cpp-python
  vendors, ``scripts/build_llama_server.sh``), ``P`` slots of the same context size, driven through
  the project's OpenAI-compatible backend with ``P`` requests in flight and JSON-schema outputs.

For the decoder, each ``llama_decode`` is timed and classed as prompt evaluation or a decode step
of R rows, so the table shows where its time goes.

A generation run's work depends on what the model wrote (copies and duplicates are asked again), so
two runs of different engines do not do the same work. ``--replay`` removes that: one generation
run (the first engine) records every ``chat_many`` call it made, and each engine then answers exactly
those calls, in order, ``--repeats`` times alternated; the table then compares completion tokens/s
on identical requests.

    python benchmarks/bench_engines.py --server build/llama-server --engines decoder-4 server-4 server-8
    python benchmarks/bench_engines.py --server build/llama-server --replay --engines decoder-4 decoder-2 decoder-8 server-4 server-8

``--rows 1 4 8 16`` measures the engines themselves, not a generation run: for each R, the decoder
with ``n_parallel = R`` and the server with ``--parallel R`` (alternated, same process), each given
one long prompt (``max_tokens`` 1: prompt evaluation tokens/s) and then R requests at once that each
write ``--max-tokens`` tokens (continuing a list of numbers, which runs past the limit, so every row
decodes every step; no schema; decode tokens/s over all R rows, the short prompts included; the table
shows the completion tokens, R x max-tokens when every row ran to the end):

    python benchmarks/bench_engines.py --server build/llama-server --rows 1 4 8 16 --out runs/bench-engines/rows

Results: ``OUT/results.json`` and a table on stdout (unique records/s, ratio to the first engine).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

INSTRUCTION = "Classify the sentiment of movie reviews."
N_CTX = 4096  # per request (slot), the local backend's default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(binary: Path, model_path: str, parallel: int, threads: int, log: Path) -> Iterator[str]:
    """``llama-server`` on 127.0.0.1 with ``parallel`` slots of ``N_CTX`` tokens; yields its /v1 URL."""
    port = free_port()
    cmd = [str(binary), "-m", model_path, "--host", "127.0.0.1", "--port", str(port), "-t", str(threads),
           "-tb", str(threads), "-np", str(parallel), "-c", str(N_CTX * parallel), "--no-webui", "-lv", "1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited ({proc.returncode}); log: {log}\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"llama-server did not start in 120 s; log: {log}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


class StepTimer:
    """Times every ``llama_decode`` of the parallel decoder: prompt chunks vs R-row decode steps."""

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0.0])  # calls, tokens, seconds

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from sentisynth.backends import llamacpp_parallel

        original = llamacpp_parallel.ParallelDecoder._decode

        def timed(decoder, entries):
            t = time.perf_counter()
            original(decoder, entries)
            seconds = time.perf_counter() - t
            seqs = {e[2] for e in entries}
            kind = f"step {len(entries)} rows" if len(seqs) == len(entries) and all(e[3] for e in entries) else "prompt"
            row = self.steps[kind]
            row[0] += 1
            row[1] += len(entries)
            row[2] += seconds

        llamacpp_parallel.ParallelDecoder._decode = timed
        try:
            yield
        finally:
            llamacpp_parallel.ParallelDecoder._decode = original

    def table(self) -> dict:
        return {k: {"calls": v[0], "tokens": v[1], "seconds": round(v[2], 2), "tokens_per_s": round(v[1] / v[2], 1) if v[2] else None}
                for k, v in sorted(self.steps.items())}


@contextlib.contextmanager
def recording(calls: list) -> Iterator[None]:
    """Record the requests of every ``chat_many`` call of the local backend (the generator's batches)."""
    from sentisynth.backends.llamacpp import LlamaCppBackend

    original = LlamaCppBackend.chat_many

    def recorded(backend, requests, on_answer=None):
        calls.append(list(requests))
        return original(backend, requests, on_answer)

    LlamaCppBackend.chat_many = recorded
    try:
        yield
    finally:
        LlamaCppBackend.chat_many = original


def replay(engine: str, model: str, model_path: str, calls: list, threads: int, server: Path | None, tmp: Path) -> dict:
    """Answer the recorded calls, in order, with one engine (no call cache); tokens and seconds."""
    from sentisynth.backends.llamacpp import LlamaCppBackend
    from sentisynth.backends.openai_compat import OpenAICompatBackend

    kind, parallel = engine.rsplit("-", 1)
    parallel = int(parallel)
    timer = StepTimer()
    with contextlib.ExitStack() as stack:
        if kind == "decoder":
            backend = LlamaCppBackend(model=model, n_threads=threads, n_parallel=parallel).load()
            stack.enter_context(timer.installed())
        else:
            url = stack.enter_context(llama_server(server, model_path, parallel, threads, tmp / "server.log"))
            backend = OpenAICompatBackend(base_url=url, api_key="sk-local", schema_mode="json_schema",
                                          max_concurrency=parallel, timeout=900.0).load()
        stack.callback(backend.close)
        t = time.perf_counter()
        answers = [a for call in calls for a in backend.chat_many(call)]
        seconds = time.perf_counter() - t
    completion = sum(a.completion_tokens for a in answers)
    out = {"engine": engine, "seconds": round(seconds, 1), "requests": len(answers),
           "prompt_tokens": sum(a.prompt_tokens for a in answers), "completion_tokens": completion,
           "completion_tokens_per_s": round(completion / seconds, 2)}
    if kind == "decoder":
        out["decode_calls"] = timer.table()
    return out


LONG_PROMPT = ("Here are notes from a film critic's screening diary. " + " ".join(
    f"Day {i}: the critic watched a film, took notes on its acting, pacing, music, dialogue and ending, "
    f"and compared it with the director's earlier work." for i in range(1, 21)) + " Summarise the notes in one word.")


def rows_benchmark(kind: str, rows: int, model: str, model_path: str, threads: int, server: Path | None, tmp: Path,
                   max_tokens: int) -> dict:
    """Prompt evaluation and R-row decode tokens/s of one engine (``kind`` decoder or server) with R slots."""
    from sentisynth.backends.base import ChatRequest
    from sentisynth.backends.llamacpp import LlamaCppBackend
    from sentisynth.backends.openai_compat import OpenAICompatBackend

    with contextlib.ExitStack() as stack:
        if kind == "decoder":
            backend = LlamaCppBackend(model=model, n_threads=threads, n_parallel=rows).load()
        else:
            if server is None:
                raise SystemExit("--rows needs --server PATH (scripts/build_llama_server.sh builds it)")
            url = stack.enter_context(llama_server(server, model_path, rows, threads, tmp / "server.log"))
            backend = OpenAICompatBackend(base_url=url, api_key="sk-local", max_concurrency=rows, timeout=900.0).load()
        stack.callback(backend.close)
        backend.chat_many([ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=4, seed=1)])  # warm-up
        t = time.perf_counter()
        [prompt] = backend.chat_many([ChatRequest(messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=1,
                                                  temperature=0.0, seed=2)])
        prompt_s = time.perf_counter() - t
        # A list to continue runs far past max_tokens, so every row decodes every step (free prose, or a
        # counting request the coder model answers with a two-line loop, ends early).
        requests = [ChatRequest(messages=[{"role": "system", "content": "Answer in plain text only, never with code."},
                                          {"role": "user", "content": "Continue this list without stopping until 1000: "
                                           + ", ".join(str(x) for x in range(i + 1, i + 8)) + ","}],
                                max_tokens=max_tokens, temperature=0.9, seed=100 + i) for i in range(rows)]
        t = time.perf_counter()
        answers = backend.chat_many(requests)
        decode_s = time.perf_counter() - t
    completion = sum(a.completion_tokens for a in answers)
    return {"engine": kind, "rows": rows, "prompt_tokens": prompt.prompt_tokens, "prompt_seconds": round(prompt_s, 2),
            "prompt_tokens_per_s": round(prompt.prompt_tokens / prompt_s, 1), "completion_tokens": completion,
            "decode_seconds": round(decode_s, 2), "decode_tokens_per_s": round(completion / decode_s, 1)}


def rows_all(args, model_path: str) -> None:
    results = {"model": args.model, "threads": args.threads, "max_tokens": args.max_tokens, "runs": []}
    with tempfile.TemporaryDirectory(prefix="sentisynth-engines-") as tmp:
        for rows in args.rows:
            for kind in ("decoder", "server"):
                print(f"{kind} with {rows} rows ...", flush=True)
                r = rows_benchmark(kind, rows, args.model, model_path, args.threads, args.server, Path(tmp), args.max_tokens)
                results["runs"].append(r)
                print(json.dumps(r), flush=True)
    print("\n| rows | engine | prompt eval tok/s | decode tok/s (all rows) | completion tokens | server / decoder (decode) |")
    print("|---:|---|---:|---:|---:|---:|")
    by = {(r["rows"], r["engine"]): r for r in results["runs"]}
    for r in results["runs"]:
        ratio = r["decode_tokens_per_s"] / by[(r["rows"], "decoder")]["decode_tokens_per_s"]
        print(f"| {r['rows']} | {r['engine']} | {r['prompt_tokens_per_s']} | {r['decode_tokens_per_s']} | "
              f"{r['completion_tokens']} | {ratio:.2f}x |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def run_engine(engine: str, model: str, model_path: str, seeds, n: int, threads: int, server: Path | None, tmp: Path) -> dict:
    """One engine's run on a fresh call cache (a directory of its own under ``tmp``)."""
    from sentisynth.generators.hierarchical import HierarchicalGenerator, normalize

    kind, parallel = engine.rsplit("-", 1)
    parallel = int(parallel)
    common = dict(instruction=INSTRUCTION, labels=seeds.label_set.names, model=model, n_record_to_generate=n,
                  cache_path=str(tmp / "calls.sqlite"), random_state=0, grounding=True, style_examples=2)
    timer = StepTimer()
    with contextlib.ExitStack() as stack:
        if kind == "decoder":
            gen = HierarchicalGenerator(**common, backend_params={"n_threads": threads, "n_parallel": parallel})
            stack.enter_context(timer.installed())
        elif kind == "server":
            if server is None:
                raise SystemExit("engine server-P needs --server PATH (scripts/build_llama_server.sh builds it)")
            url = stack.enter_context(llama_server(server, model_path, parallel, threads, tmp / "server.log"))
            gen = HierarchicalGenerator(**common, backend="openai", backend_params={
                "base_url": url, "api_key": "sk-local", "schema_mode": "json_schema",
                "max_concurrency": parallel, "timeout": 900.0})
        else:
            raise SystemExit(f"unknown engine {engine!r}; expected decoder-P or server-P")
        t = time.perf_counter()
        gen.fit(seeds.examples())
        records = [r for batch in gen.generate(n) for r in batch]
        seconds = time.perf_counter() - t
    stages = gen.report()["stages"] if hasattr(gen, "report") else {}
    texts = [r.text for r in records]
    unique = len({normalize(x) for x in texts})
    out = {"engine": engine, "seconds": round(seconds, 1), "records": len(texts), "unique_records": unique,
           "unique_records_per_s": round(unique / seconds, 4),
           "calls": sum(s.get("calls", 0) for s in stages.values()),
           "prompt_tokens": sum(s.get("prompt_tokens", 0) for s in stages.values()),
           "completion_tokens": sum(s.get("completion_tokens", 0) for s in stages.values()),
           "stages": stages}
    if kind == "decoder":
        out["decode_calls"] = timer.table()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-0.5b-instruct", help="short name or .gguf path (default: the default model)")
    ap.add_argument("--n", type=int, default=40, help="records per engine (default: 40)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", nargs="+", default=["decoder-4", "server-4"], help="decoder-P and/or server-P, first is the baseline")
    ap.add_argument("--server", type=Path, default=None, help="the llama-server binary")
    ap.add_argument("--replay", action="store_true", help="record the first engine's calls, then replay them on every engine")
    ap.add_argument("--calls", type=Path, default=None,
                    help="with --replay: replay the calls saved in this JSONL file, or record into it when it does not exist")
    ap.add_argument("--repeats", type=int, default=2, help="replays per engine, alternated (with --replay; default: 2)")
    ap.add_argument("--rows", type=int, nargs="+", default=None,
                    help="measure prompt and R-row decode tokens/s of both engines at these R instead of a generation run")
    ap.add_argument("--max-tokens", type=int, default=96, help="with --rows: tokens each row writes (default: 96)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-engines"))
    args = ap.parse_args()

    import sentisynth as ss
    from sentisynth.backends.llamacpp import configure_openmp_waiting
    from sentisynth.backends.models import resolve_model

    configure_openmp_waiting()  # before llama.cpp loads here or in a server, so every engine waits alike

    model_path = str(resolve_model(args.model).path)
    if args.rows:
        return rows_all(args, model_path)
    seeds = ss.sample(ss.load_dataset("sst2"), k=8, seed=0)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"model": args.model, "n": args.n, "threads": args.threads, "runs": []}
    if args.replay:
        return replay_all(args, model_path, seeds)
    with tempfile.TemporaryDirectory(prefix="sentisynth-engines-") as tmp:
        for i, engine in enumerate(args.engines):
            print(f"{engine} ...", flush=True)
            run_dir = Path(tmp) / str(i)
            run_dir.mkdir()
            r = run_engine(engine, args.model, model_path, seeds, args.n, args.threads, args.server, run_dir)
            results["runs"].append(r)
            print(json.dumps(r), flush=True)
    base = results["runs"][0]["unique_records_per_s"]
    print(f"\n| engine | s | records | unique | unique records/s | vs {args.engines[0]} | prompt tok | completion tok |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        print(f"| {r['engine']} | {r['seconds']} | {r['records']} | {r['unique_records']} | {r['unique_records_per_s']:.3f} | "
              f"{r['unique_records_per_s'] / base:.2f}x | {r['prompt_tokens']} | {r['completion_tokens']} |")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def replay_all(args, model_path: str, seeds) -> None:
    from dataclasses import asdict

    from sentisynth.backends.base import ChatRequest

    calls: list = []
    results = {"model": args.model, "n": args.n, "threads": args.threads, "replay": True}
    with tempfile.TemporaryDirectory(prefix="sentisynth-engines-") as tmp:
        if args.calls is not None and args.calls.is_file():
            calls = [[ChatRequest(**r) for r in json.loads(line)] for line in args.calls.read_text().splitlines()]
            results["recorded_in"] = str(args.calls)
        else:
            print(f"recording the calls of a generation run with {args.engines[0]} ...", flush=True)
            with recording(calls):
                results["recorded_run"] = run_engine(args.engines[0], args.model, model_path, seeds, args.n, args.threads,
                                                     args.server, Path(tmp))
            if args.calls is not None:
                args.calls.parent.mkdir(parents=True, exist_ok=True)
                args.calls.write_text("".join(json.dumps([asdict(r) for r in call]) + "\n" for call in calls))
        results["calls"] = len(calls)
        results["runs"] = []
        for rep in range(args.repeats):
            for engine in args.engines:
                print(f"replay {rep + 1}: {engine} ...", flush=True)
                r = replay(engine, args.model, model_path, calls, args.threads, args.server, Path(tmp))
                results["runs"].append({"repeat": rep, **r})
                print(json.dumps(r), flush=True)
    base = [r["completion_tokens_per_s"] for r in results["runs"] if r["engine"] == args.engines[0]]
    print(f"\n{len(calls)} calls, {results['runs'][0]['requests']} requests replayed")
    print(f"| engine | repeat | s | prompt tok | completion tok | completion tok/s | vs {args.engines[0]} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        ref = base[r["repeat"]]
        print(f"| {r['engine']} | {r['repeat'] + 1} | {r['seconds']} | {r['prompt_tokens']} | {r['completion_tokens']} | "
              f"{r['completion_tokens_per_s']:.1f} | {r['completion_tokens_per_s'] / ref:.2f}x |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
