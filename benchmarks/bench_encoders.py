"""Benchmark: encoding speed and memory of the offline encoders, side by side in one run.

Each encoder embeds the same SST-2 test sentences (no embedding cache) in a fresh subprocess, so
its peak RSS is its own: load time, texts/s after a warm-up batch, and the process's peak RSS.
Speeds are also given as ratios to MiniLM measured in the same run (this machine is noisy).

    python benchmarks/bench_encoders.py                    # 400 sentences, 2 threads
    python benchmarks/bench_encoders.py --n 1000 --encoders all-MiniLM-L6-v2,embeddinggemma-300m
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(int(sys.argv[3]))
from sentisynth.backends.encoders import SentenceEncoder
texts = json.loads(open(sys.argv[2]).read())
enc = SentenceEncoder(sys.argv[1], cache=False)
t = time.perf_counter(); enc._load(); load = time.perf_counter() - t
enc.encode(texts[:32])  # warm-up (and first-batch allocations)
enc.memo_ = {}
t = time.perf_counter(); X = enc.encode(texts); secs = time.perf_counter() - t
print(json.dumps({"load_s": load, "texts_per_s": len(texts) / secs, "dim": int(X.shape[1]),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="SST-2 test sentences to embed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--encoders", default="all-MiniLM-L6-v2,all-mpnet-base-v2,embeddinggemma-300m")
    args = ap.parse_args()
    from sentisynth.data.builtin import load_builtin

    texts = load_builtin("sst2").test.texts[: args.n]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-encoders-{os.getpid()}.json")
    with open(path, "w") as fh:
        json.dump(list(texts), fh)
    rows = {}
    try:
        for name in args.encoders.split(","):
            out = subprocess.run([sys.executable, "-c", CHILD, name, path, str(args.threads)], check=True,
                                 capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(path)
    base = rows.get("all-MiniLM-L6-v2")
    print(f"{len(texts)} SST-2 test sentences, {args.threads} threads, no embedding cache")
    print(f"| encoder | dim | load s | texts/s | vs MiniLM | peak RSS MB |")
    print(f"|---|---|---|---|---|---|")
    for name, r in rows.items():
        ratio = f"{r['texts_per_s'] / base['texts_per_s']:.2f}x" if base else "-"
        print(f"| {name} | {r['dim']} | {r['load_s']:.1f} | {r['texts_per_s']:.1f} | {ratio} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
