"""Benchmark: the same experiment grid with a cold vs a warm embedding cache.

Both runs are fresh processes writing fresh run directories (so every cell is computed); they
differ only in whether ``$SENTISYNTH_CACHE`` already holds the embeddings. Measured in one
invocation, back to back, because this machine's speed varies from minute to minute.

    python benchmarks/bench_embedding_cache.py                 # the shipped quick grid
    python benchmarks/bench_embedding_cache.py --config my.yaml
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_grid(config: str, out: Path, cache: Path) -> float:
    env = dict(os.environ, SENTISYNTH_CACHE=str(cache), TQDM_DISABLE="1")
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sentisynth.cli", "experiment", config, "--out", str(out), "--no-progress"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="quick", help="experiment config path or shipped name (default: quick)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentisynth-bench-") as tmp:
        tmp = Path(tmp)
        cold = run_grid(args.config, tmp / "cold-run", tmp / "cache")
        warm = run_grid(args.config, tmp / "warm-run", tmp / "cache")
        same = (tmp / "cold-run" / "summary.csv").read_text() == (tmp / "warm-run" / "summary.csv").read_text()
    print(f"config: {args.config}")
    print(f"cold embedding cache: {cold:8.1f} s")
    print(f"warm embedding cache: {warm:8.1f} s")
    print(f"speed-up (cold / warm): {cold / warm:.1f}x   identical summaries: {same}")
    if not same:
        sys.exit("warm and cold runs disagree: the cache changed a result")


if __name__ == "__main__":
    main()
