"""Fault rates survived: hierarchical generation through the fault-injecting server at rising rates.

    .venv/bin/python benchmarks/bench_faults.py [--n 300] [--rates 0,0.2,0.4,0.6,0.8] [--out runs/bench-faults]

For each total fault rate the eight fault kinds of ``tests/fault_server.py`` share it in the
proportions of the reliability test (500 20 %, 429 10 %, timeout 10 %, truncated body 15 %,
malformed body 12.5 %, empty choices 12.5 %, cut-off JSON 12.5 %, schema-violating JSON 7.5 %).
Each run generates ``--n`` records into its own run directory with its own call cache and checks
the outcome: exactly ``n`` records, balanced, distinct, every transport fault retried once under
its own name. Reported: faults served, retries, failed parses, wall time and records/s as a ratio
to the fault-free run measured in the same invocation (this machine is noisy).
Settings: client timeout 1 s (a "timeout" fault holds 1.5 s), Retry-After 1 s, max_retries 40,
generator max_attempts 20 (a broken model answer costs one of a job's attempts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fault_server import CONTENT_FAULTS, TRANSPORT_FAULTS, running_fault_server  # noqa: E402

SHARES = {"http_500": 0.2, "http_429": 0.1, "timeout": 0.1, "truncated": 0.15, "malformed_body": 0.125,
          "empty_choices": 0.125, "bad_json": 0.125, "schema": 0.075}
CAUSE_OF = {"http_500": "http_500", "http_429": "http_429", "timeout": "timeout", "truncated": "connection",
            "malformed_body": "malformed_body", "empty_choices": "empty_choices"}


def run_once(rate: float, n: int, out: Path) -> dict:
    from sentisynth.generators.base import make_generator
    from sentisynth.generators.hierarchical import normalize
    from sentisynth.pipeline import write_generation_run
    from sentisynth.store import read_json

    rates = {k: rate * v for k, v in SHARES.items()} if rate else {}
    with running_fault_server(rates=rates, seed=1, hang=1.5, retry_after=1) as (url, server):
        gen = make_generator(
            "hierarchical", instruction="Classify the sentiment of movie reviews.", labels=["negative", "positive"],
            model="fault-model", backend="openai", style_examples=0, max_attempts=20,
            backend_params={"base_url": url, "timeout": 1.0, "max_retries": 40, "backoff_base": 0.01, "backoff_max": 0.05,
                            "max_concurrency": 4},
            cache_path=str(out / "calls.sqlite"),
        )
        t0 = time.perf_counter()
        error = None
        try:
            path = write_generation_run(out / "run", gen, None, n, seed=0, source="none")
        except Exception as e:  # reported, not hidden
            error, path = f"{type(e).__name__}: {e}", None
        seconds = time.perf_counter() - t0
    served = dict(server.served)
    row = {"rate": rate, "requests": sum(served.values()), "faults": sum(v for k, v in served.items() if k != "ok"),
           "served": served, "seconds": round(seconds, 2), "error": error}
    if path is None:
        return row
    recs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    stages = read_json(out / "run" / "manifest.json")["generator_report"]["stages"]
    causes: Counter = Counter()
    for s in stages.values():
        causes.update(s["retry_causes"])
    row.update(
        records=len(recs),
        distinct=len({normalize(r["text"]) for r in recs}),
        per_label=dict(Counter(r["label"] for r in recs)),
        retries=sum(causes.values()),
        retries_match=causes == Counter({CAUSE_OF[f]: served.get(f, 0) for f in TRANSPORT_FAULTS if served.get(f)}),
        parse_failures=sum(s["parse_failures"] for s in stages.values()),
        content_faults=sum(served.get(f, 0) for f in CONTENT_FAULTS),
        records_per_s=round(len(recs) / seconds, 1),
    )
    row["exact"] = row["records"] == n and row["distinct"] == n and row["retries_match"] and \
        row["parse_failures"] == row["content_faults"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rates", default="0,0.2,0.4,0.6,0.8")
    ap.add_argument("--out", type=Path, default=None, help="Folder for results.json (default: a temporary folder).")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-faults-"))
    rows = []
    for rate in [float(x) for x in args.rates.split(",")]:
        row = run_once(rate, args.n, out / f"rate-{rate:g}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["rate"] == 0 and r.get("records_per_s")), None)
    print("\n| total fault rate | requests | faults served | retries (all matched) | failed parses re-asked | records (distinct) | exact | time (s) | records/s vs no faults |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.get("error"):
            print(f"| {r['rate']:.0%} | {r['requests']} | {r['faults']} | – | – | failed: {r['error'][:80]} | no | {r['seconds']} | – |")
            continue
        ratio = f"{r['records_per_s'] / base['records_per_s']:.2f}" if base else "–"
        print(f"| {r['rate']:.0%} | {r['requests']} | {r['faults']} | {r['retries']} ({'yes' if r['retries_match'] else 'NO'}) | "
              f"{r['parse_failures']} | {r['records']} ({r['distinct']}) | {'yes' if r['exact'] else 'NO'} | {r['seconds']} | {ratio} |")
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    print(f"\nresults: {out / 'results.json'}")


if __name__ == "__main__":
    main()
