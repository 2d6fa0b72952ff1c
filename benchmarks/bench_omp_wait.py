"""Benchmark: how llama.cpp's OpenMP threads wait between operations, on a quiet and on a busy machine.

SentiSynth set ``OMP_WAIT_POLICY=PASSIVE`` before loading llama.cpp because spinning threads had
collapsed decoding (~20 to < 1 token/s) when another process held a core. Passive waiting puts a
thread to sleep at every barrier — hundreds per token for a small model — so it costs speed when
the cores are free. This compares wait settings, each in a fresh process (the OpenMP runtime reads
them once), alternated, on the parallel decoder's own steps (``ParallelDecoder._decode``):
prompt evaluation (4 × 300 tokens), 1-row and 4-row decode steps; then the same while a
CPU-bound process (``--busy``) holds one of the two cores.

    python benchmarks/bench_omp_wait.py                       # quiet machine
    python benchmarks/bench_omp_wait.py --busy                # one core taken by a busy loop

Results: a table on stdout and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "default": {},
    "spin-1k": {"GOMP_SPINCOUNT": "1000"},
    "spin-3k": {"GOMP_SPINCOUNT": "3000"},
    "spin-10k": {"GOMP_SPINCOUNT": "10000"},
    "spin-100k": {"GOMP_SPINCOUNT": "100000"},
}

CHILD = r"""
import json, sys, time
from sentisynth.backends.llamacpp import LlamaCppBackend
from sentisynth.backends.llamacpp_parallel import ParallelDecoder
b = LlamaCppBackend(model=sys.argv[1], n_parallel=4).load()
llm = b._llm
toks = llm.tokenize(("The film is a long, slow and beautiful meditation on memory, loss and love. " * 40).encode())[:300]
d = ParallelDecoder(llm, 4); d._open()
t = time.perf_counter()
for s in range(4):
    d._evaluate(s, toks, 0, logits_last=True)
prompt = 4 * len(toks) / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(40):
    d._decode([(toks[-1], len(toks) + i, 0, True)])
one = 40 / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(30):
    d._decode([(toks[-1], len(toks) + (40 if s == 0 else 0) + i, s, True) for s in range(4)])
four = 120 / (time.perf_counter() - t)
print(json.dumps({"prompt_tokens_per_s": round(prompt, 1), "one_row_tokens_per_s": round(one, 1), "four_row_tokens_per_s": round(four, 1)}))
"""


def measure(model: str, env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_extra)
    if "OMP_WAIT_POLICY" not in env_extra:
        env["OMP_WAIT_POLICY"] = ""  # keep sentisynth's setdefault from choosing for this child
    out = subprocess.run([sys.executable, "-c", CHILD, model], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-0.5b-instruct")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--busy", action="store_true", help="run a CPU-bound process on one core meanwhile")
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--out", type=Path, default=Path("runs/bench-omp-wait.json"))
    args = ap.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    rows = []
    try:
        for rep in range(args.repeats):
            for name in args.settings:
                t = time.perf_counter()
                r = {"setting": name, "repeat": rep + 1, **measure(args.model, SETTINGS[name]),
                     "wall_s": round(time.perf_counter() - t, 1)}
                rows.append(r)
                print(json.dumps(r), flush=True)
    finally:
        if busy is not None:
            busy.kill()
    print(f"\n{args.model}, {'one core busy' if args.busy else 'quiet machine'}; tokens/s")
    print("| setting | repeat | prompt | 1-row steps | 4-row steps |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['setting']} | {r['repeat']} | {r['prompt_tokens_per_s']} | {r['one_row_tokens_per_s']} | {r['four_row_tokens_per_s']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "busy": args.busy, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
