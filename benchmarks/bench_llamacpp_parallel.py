"""Benchmark: chat requests decoded together (``n_parallel``) against one at a time, same run.

The requests are the hierarchical generator's own kind: a chat prompt asking for a few short
review sentences, constrained to the generator's JSON schema, sampled at temperature 0.9 with
per-request seeds. Each setting answers the same requests on a fresh backend (model load
excluded); the baseline is the smallest setting, by default ``n_parallel=1`` (llama-cpp-python's
``create_chat_completion``, one request at a time). Reported per setting: completion tokens/s, the
ratio to the baseline, and how many answers are the same text as the baseline's.

    python benchmarks/bench_llamacpp_parallel.py                                  # Qwen2.5-1.5B, 16 requests
    python benchmarks/bench_llamacpp_parallel.py --requests 32 --parallel 4 16    # against n_parallel=4
    python benchmarks/bench_llamacpp_parallel.py --model qwen2.5-0.5b-instruct --requests 8 --parallel 1 4
    python benchmarks/bench_llamacpp_parallel.py --parallel 1 --no-schema   # one at a time without the grammar

Results: a table on stdout and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ASPECTS = ["the acting", "the plot", "the soundtrack", "the pacing", "the dialogue", "the visual effects", "the ending",
           "the casting", "the cinematography", "the humour", "the villain", "the running time"]


def requests(n: int, seed: int = 0, schema: bool = True) -> list:
    from sentisynth.backends.base import ChatRequest
    from sentisynth.generators.hierarchical import items_schema

    out = []
    for i in range(n):
        label = ("negative", "positive")[i % 2]
        aspect = ASPECTS[(i // 2) % len(ASPECTS)]
        out.append(ChatRequest(
            messages=[{"role": "user", "content": f"Write 4 different short {label} sentences from movie reviews about "
                                                  f"{aspect}. Answer with JSON: {{\"items\": [...]}}."}],
            schema=items_schema(4) if schema else None, temperature=0.9, top_p=0.95, max_tokens=300, seed=seed * 1000 + i))
    return out


def run(model: str, threads: int, n_parallel: int, reqs: list) -> dict:
    from sentisynth.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(model=model, n_threads=threads, n_parallel=n_parallel).load()
    try:
        t = time.perf_counter()
        answers = backend.chat_many(reqs)
        seconds = time.perf_counter() - t
    finally:
        backend.close()
    tokens = sum(a.completion_tokens for a in answers)
    return {"n_parallel": n_parallel, "seconds": round(seconds, 2), "completion_tokens": tokens,
            "prompt_tokens": sum(a.prompt_tokens for a in answers), "tokens_per_s": tokens / seconds,
            "texts": [a.text for a in answers]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-1.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 16], help="settings; the smallest is the baseline")
    ap.add_argument("--no-schema", action="store_true", help="unconstrained requests (what the JSON grammar costs)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-llamacpp-parallel.json"))
    args = ap.parse_args()
    from sentisynth.backends.llamacpp import configure_openmp_waiting

    configure_openmp_waiting()  # the library's setting, before llama_cpp loads
    reqs = requests(args.requests, schema=not args.no_schema)
    # the baseline is the smallest setting: one at a time unless --parallel leaves 1 out (a slow 1.5B baseline)
    settings = sorted(set(args.parallel))
    results = [run(args.model, args.threads, p, reqs) for p in settings]
    base = results[0]
    rows = []
    for r in results:
        same = sum(a == b for a, b in zip(r["texts"], base["texts"]))
        rows.append({k: v for k, v in r.items() if k != "texts"} | {"baseline_n_parallel": base["n_parallel"],
                                                                     "vs_baseline": r["tokens_per_s"] / base["tokens_per_s"],
                                                                     "same_text_as_baseline": f"{same}/{len(reqs)}"})
    print(f"{args.model}, {args.threads} threads, {len(reqs)} requests{'' if reqs[0].schema else ', no schema'}")
    print(f"| n_parallel | seconds | completion tokens | tokens/s | vs n_parallel={base['n_parallel']} | same text |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n_parallel']} | {r['seconds']:.1f} | {r['completion_tokens']} | {r['tokens_per_s']:.1f} | "
              f"{r['vs_baseline']:.2f} | {r['same_text_as_baseline']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "threads": args.threads, "requests": len(reqs), "rows": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
