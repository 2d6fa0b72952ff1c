"""Levers measured over several pools each (issue 20): how far one pool lies from another made with the same settings
and another generation seed, and whether a lever's gain stands out of that spread.

A grid's condition ``<lever>`` is the pool of generation seed 0, ``<lever>-seed<N>`` the others
(experiments/grounding/grid-sst2-seeds.yaml). Per classifier and lever: each pool's ratio chosen on the dev entry
(best mean over the grid's data seeds) and its test mean there; the mean and standard deviation of those over the
lever's pools; at each fixed ratio the mean over pools and their spread; and the difference of two levers' means with a
Welch t-test over their pools (few pools: a weak test, said as such).

    python scripts/pool_seeds_table.py runs/grounding/grid-sst2-seeds --levers prefix cap2
    python scripts/pool_seeds_table.py runs/grounding/grid-sst2-echo --levers pool noecho --paired
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--levers", nargs="+", required=True, help="condition names of generation seed 0")
    ap.add_argument("--metric", default="macro_f1")
    ap.add_argument("--paired", action="store_true",
                    help="the two levers' pools are pairs in order (the same pool with and without a change): paired t-test")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.run / "summary.csv")))
    m = f"{args.metric}_mean"
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    dev = next((d for d in datasets if d.endswith("-dev")), None)
    test = next(d for d in datasets if d != dev)
    conditions = list(dict.fromkeys(r["condition"] for r in rows))

    def pools_of(lever: str) -> list[str]:
        """The lever's conditions, generation seed 0 (``<lever>``) first, then ``<lever>-seed<N>`` by N."""
        pools = [c for c in conditions if re.fullmatch(rf"{re.escape(lever)}(-seed\d+)?", c)]
        return sorted(pools, key=lambda c: int(c.rsplit("seed", 1)[1]) if "-seed" in c else 0)

    for clf in dict.fromkeys(r["classifier"] for r in rows):
        def mean(ds: str, cond: str, ratio: str | None = None) -> float:
            for r in rows:
                if r["dataset"] == ds and r["classifier"] == clf and r["condition"] == cond and (ratio is None or r["ratio"] == ratio):
                    return float(r[m])
            raise KeyError((ds, clf, cond, ratio))

        def ratios(cond: str) -> list[str]:
            return [r["ratio"] for r in rows if r["dataset"] == test and r["classifier"] == clf and r["condition"] == cond]

        real = mean(test, "real")
        print(f"\n{test}, {clf}: real only {real:.1f}" + (f" (dev {mean(dev, 'real'):.1f})" if dev else ""))
        print("| lever | pool (generation seed) | ratio chosen on dev | dev Δ there | test there | test Δ |")
        print("|---|---|---:|---:|---:|---:|")
        chosen: dict[str, list[float]] = {}
        for lever in args.levers:
            for cond in pools_of(lever):
                if dev:
                    best = max(ratios(cond), key=lambda q: mean(dev, cond, q))
                    dev_delta = f"{mean(dev, cond, best) - mean(dev, 'real'):+.1f}"
                else:
                    best, dev_delta = ratios(cond)[-1], "–"
                score = mean(test, cond, best)
                chosen.setdefault(lever, []).append(score)
                seed = cond.rsplit("seed", 1)[1] if "-seed" in cond else "0"
                print(f"| {lever} | {seed} | {float(best):g} | {dev_delta} | {score:.1f} | {score - real:+.1f} |")
        print("\n| lever | pools | test at the dev ratio, mean ± std over pools | "
              + " | ".join(f"ratio {float(q):g}" for q in ratios(args.levers[0])) + " |")
        print("|---|---:|---:|" + "---:|" * len(ratios(args.levers[0])))
        for lever, scores in chosen.items():
            per_ratio = []
            for q in ratios(args.levers[0]):
                vals = [mean(test, c, q) for c in pools_of(lever)]
                per_ratio.append(f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals) if len(vals) > 1 else 0:.1f}")
            sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
            print(f"| {lever} | {len(scores)} | {statistics.mean(scores):.1f} ± {sd:.1f} | " + " | ".join(per_ratio) + " |")
        if len(chosen) >= 2:
            (a, xa), (b, xb) = list(chosen.items())[:2]
            diff = statistics.mean(xb) - statistics.mean(xa)
            p, test_name = (paired_p(xa, xb), f"paired t-test over {len(xa)} pairs of pools") if args.paired else \
                (welch_p(xa, xb), f"Welch t-test over {len(xa)} + {len(xb)} pools")
            print(f"\n{b} − {a}: {diff:+.2f} points on test at the dev ratios ({test_name}: p = {p:.2f})" if p == p
                  else f"\n{b} − {a}: {diff:+.2f} points (too few pools for a test)")


def paired_p(a: list[float], b: list[float]) -> float:
    """Two-sided paired t-test p-value over pairs in order (nan with fewer than two pairs or unequal lengths)."""
    if len(a) < 2 or len(a) != len(b):
        return float("nan")
    from scipy.stats import ttest_rel

    return float(ttest_rel(a, b).pvalue)


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided Welch t-test p-value (nan with fewer than two values on a side)."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    from scipy.stats import ttest_ind

    return float(ttest_ind(a, b, equal_var=False).pvalue)


if __name__ == "__main__":
    main()
