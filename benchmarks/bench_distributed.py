"""Benchmark: EDA generation on the local executor vs on Ray, records/s and driver peak memory.

    .venv/bin/python benchmarks/bench_distributed.py                        # n = 100000 and 10000
    .venv/bin/python benchmarks/bench_distributed.py --n 20000 --batch-size 1000 --json out.json --keep

For ``--n`` and a 10x smaller n, ``write_generation_run`` writes an EDA run (seed set: 50 SST-2
training sentences per class, ``batch_size`` = shard size) once with ``executor="local"`` and
once on a local Ray instance (``num_cpus = os.cpu_count()``, one actor per CPU). Every run is
its own fresh Python process, so each peak-RSS figure belongs to one run. Reported per run:

* **seconds**: wall time of ``write_generation_run`` (fit, shards, JSONL, Parquet copy, manifest).
  For Ray it includes creating the actors and building a generator in each, but not ``ray.init``,
  which is timed separately (``ray start s``: ``RayExecutor.start()`` before the clock starts).
* **records/s** = n / seconds, and its **ratio** to the local run of the same n (same invocation:
  this machine is noisy).
* **driver peak RSS**: ``getrusage(RUSAGE_SELF).ru_maxrss`` of the run's process at the end of the
  run, and the same value just before the Parquet copy is written (``before parquet``):
  ``_write_parquet`` builds a DataFrame of all records, so only the earlier figure speaks for the
  shard-by-shard JSONL streaming. Comparing n with n/10 shows whether it grows with n.
* **Ray worker peak RSS** (Ray runs only): a thread samples, every ``--sample-interval`` s, the
  RSS of every descendant process of the driver with psutil; reported are the largest RSS seen
  of any one process whose name or command line starts with ``ray::`` (an actor or idle worker),
  and the largest sum over all descendants (raylet, GCS, workers; shared pages such as the object
  store are counted once per process that maps them, so this sum over-states real use). Sampled
  figures can miss a short peak.
* **identical**: sha256 of the Ray run's ``synthetic.jsonl`` equals the local run's.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MIB = 1024.0  # ru_maxrss is in KiB on Linux


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB


class _RaySampler(threading.Thread):
    """Samples the RSS of this process's descendants (Ray's daemons and workers) until stopped."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval, self.stop_ = interval, threading.Event()
        self.worker_peak = self.total_peak = 0.0
        self.workers_seen: set[int] = set()
        self.samples = 0

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.stop_.is_set():
            total = 0.0
            for p in me.children(recursive=True):
                try:
                    rss = p.memory_info().rss / 2**20
                    name = p.name()
                    cmd = p.cmdline()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                total += rss
                if name.startswith("ray::") or (cmd and cmd[0].startswith("ray::")):
                    self.workers_seen.add(p.pid)
                    self.worker_peak = max(self.worker_peak, rss)
            self.total_peak = max(self.total_peak, total)
            self.samples += 1
            self.stop_.wait(self.interval)


def child(args: argparse.Namespace) -> None:
    """One run in this (fresh) process; writes its figures as JSON to ``args.child_result``."""
    import sentisynth.pipeline as pipeline
    from sentisynth.data import load_splits, subsample_per_class
    from sentisynth.distributed import make_executor
    from sentisynth.generators.base import make_generator

    seed_set = subsample_per_class(load_splits("sst2").train, 50, seed=0)
    gen = make_generator("eda", batch_size=args.batch_size)
    before_parquet: dict[str, float] = {}
    write_parquet = pipeline._write_parquet

    def timed_parquet(jsonl: Path, parquet: Path) -> None:  # benchmark-only wrapper: RSS and time around it
        before_parquet["rss_mib"] = _peak_rss_mib()
        t = time.perf_counter()
        write_parquet(jsonl, parquet)
        before_parquet["parquet_s"] = time.perf_counter() - t

    pipeline._write_parquet = timed_parquet
    row: dict = {"n": args.n, "executor": args.executor, "batch_size": args.batch_size}
    sampler = None
    if args.executor == "ray":
        executor = make_executor({"name": "ray", "num_cpus": os.cpu_count()})
        t = time.perf_counter()
        executor.start()
        row["ray_start_s"] = time.perf_counter() - t
        row["ray_cluster_cpus"] = executor.ray_.cluster_resources().get("CPU")
        if importlib.util.find_spec("psutil") is not None:  # optional: without it, no Ray worker RSS
            sampler = _RaySampler(args.sample_interval)
            sampler.start()
    else:
        executor = make_executor("local")
    row["driver_rss_before_mib"] = _peak_rss_mib()
    t = time.perf_counter()
    path = pipeline.write_generation_run(Path(args.out), gen, seed_set, args.n, seed=0, source="sst2",
                                         executor=executor)
    row["seconds"] = time.perf_counter() - t
    row["driver_peak_rss_mib"] = _peak_rss_mib()
    row["driver_peak_rss_before_parquet_mib"] = before_parquet.get("rss_mib")
    row["parquet_s"] = before_parquet.get("parquet_s")
    if sampler is not None:
        sampler.stop_.set()
        sampler.join()
        row.update(ray_worker_peak_rss_mib=sampler.worker_peak, ray_all_processes_peak_rss_mib=sampler.total_peak,
                   ray_workers_seen=len(sampler.workers_seen), rss_samples=sampler.samples)
    manifest = json.loads((Path(args.out) / "manifest.json").read_text(encoding="utf-8"))
    row["manifest_executor"] = manifest.get("executor")
    row["records"] = manifest["counts"]["synthetic"]
    row["records_per_s"] = args.n / row["seconds"]
    row["jsonl"] = str(path)
    t = time.perf_counter()
    executor.close()
    row["close_s"] = time.perf_counter() - t
    Path(args.child_result).write_text(json.dumps(row), encoding="utf-8")


def run_child(executor: str, n: int, batch_size: int, out: Path, interval: float) -> dict:
    result = out.with_suffix(".result.json")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # always a fresh local Ray instance
    env["TQDM_DISABLE"] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--executor", executor, "--n", str(n),
           "--batch-size", str(batch_size), "--out", str(out), "--child-result", str(result),
           "--sample-interval", str(interval)]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    row = json.loads(result.read_text(encoding="utf-8"))
    row["process_s"] = time.perf_counter() - t  # interpreter start, imports, seed set, Ray start and stop too
    return row


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _f(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="records of the large run; a run of n/10 is added (default 100000)")
    ap.add_argument("--batch-size", type=int, default=1000, help="EDA batch_size = shard size (default 1000)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (the folder is printed)")
    ap.add_argument("--sample-interval", type=float, default=0.2, help="seconds between RSS samples of Ray's processes")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--executor", choices=("local", "ray"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--child-result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    sizes = sorted({max(1, args.n // 10), args.n})
    tmp = Path(tempfile.mkdtemp(prefix="sentisynth-bench-distributed-"))
    rows = []
    try:
        for n in sizes:
            by_executor = {}
            for executor in ("local", "ray"):
                row = run_child(executor, n, args.batch_size, tmp / f"{executor}-{n}", args.sample_interval)
                row["sha256"] = sha256(Path(row["jsonl"]))
                by_executor[executor] = row
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "jsonl"}), flush=True)
            base = by_executor["local"]
            for row in by_executor.values():
                row["ratio_vs_local"] = row["records_per_s"] / base["records_per_s"]
                row["identical"] = row["sha256"] == base["sha256"] and row["records"] == n
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nEDA, batch_size (shard size) {args.batch_size}, Ray num_cpus {os.cpu_count()}, "
          f"python {sys.version.split()[0]}")
    print("\n| n | executor | seconds | records/s | ratio vs local | ray start s | driver peak RSS MiB "
          "| driver peak before parquet MiB | Ray worker peak RSS MiB (max one / all procs) | identical |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        workers = (f"{r['ray_worker_peak_rss_mib']:.0f} / {r['ray_all_processes_peak_rss_mib']:.0f}"
                   if r.get("ray_worker_peak_rss_mib") is not None else "–")
        print(f"| {r['n']} | {r['executor']} | {r['seconds']:.2f} | {r['records_per_s']:.0f} | {r['ratio_vs_local']:.2f} "
              f"| {_f(r.get('ray_start_s'), '.2f')} | {r['driver_peak_rss_mib']:.0f} "
              f"| {_f(r.get('driver_peak_rss_before_parquet_mib'), '.0f')} | {workers} "
              f"| {'yes' if r['identical'] else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "jsonl"} for r in rows], indent=2))
        print(f"\nrows: {args.json}")
    if args.keep:
        print(f"run directories: {tmp}")
    if not all(r["identical"] for r in rows):
        sys.exit("the Ray and local runs wrote different synthetic.jsonl files")


if __name__ == "__main__":
    main()
