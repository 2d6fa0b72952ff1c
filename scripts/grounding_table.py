"""Print the "what moved it" table of docs/studies/grounding.md from the grounding grids.

Per dataset and classifier: real only, each lever (zero-shot pool, grounded pool, profile-only pool,
with the LLM teacher) at the ratio chosen on the dataset's dev entry (best mean there; a dataset
without a dev split takes the ratio most often chosen on the other datasets' dev entries for that
lever and classifier, the smaller on a tie, else ``--ratio``), the all-labels ceiling
and the gap closed by today's default pool (``prefix``, else ``grounded``; ``--gap-of``),
(pool - real) / (ceiling - real). Mean over seeds of the
grid's metric, with the paired Δ vs real and its p-value (* when p < 0.05).

    python scripts/grounding_table.py runs/grounding/grid-*
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

LEVERS = ["zero", "grounded", "profile", "blocked", "reordered", "prefix", "prefix15", "prefix1k", "prefix-seedclf",
          "prefix-judge15", "prefix-teacher", "zero-teacher", "grounded-teacher"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--ratio", type=float, default=2.0, help="ratio for datasets without a dev entry")
    ap.add_argument("--metric", default="macro_f1")
    ap.add_argument("--gap-of", default="prefix,grounded",
                    help="the lever whose gap closed is shown: the first of these the grids have (today's default first)")
    args = ap.parse_args()
    rows = [r for run in args.runs if (run / "summary.csv").exists() for r in csv.DictReader(open(run / "summary.csv"))]
    cell = {(r["dataset"], r["classifier"], r["condition"], r["ratio"]): r for r in rows}
    datasets = sorted({r["dataset"] for r in rows if not r["dataset"].endswith("-dev")})
    classifiers = sorted({r["classifier"] for r in rows})
    levers = [lv for lv in LEVERS if any(r["condition"] == lv for r in rows)]
    gap_of = next((lv for lv in args.gap_of.split(",") if lv in levers), "grounded")
    print("| dataset | classifier | real | " + " | ".join(levers) + f" | ceiling | gap closed ({gap_of}) |")
    print("|---|---|---:|" + "---:|" * len(levers) + "---:|---:|")
    for ds in datasets:
        for clf in classifiers:
            real = cell.get((ds, clf, "real", ""))
            if real is None:
                continue
            m = float(real[f"{args.metric}_mean"])
            out = [ds, clf, f"{m:.1f}"]
            grounded = None
            for lever in levers:
                ratio = _dev_ratio(cell, ds, clf, lever, args.metric) or _other_dev_ratio(cell, clf, lever, args.metric) or args.ratio
                r = cell.get((ds, clf, lever, f"{ratio:g}" if ratio != int(ratio) else f"{ratio:.1f}"))
                if r is None:
                    out.append("")
                    continue
                v, d, p = float(r[f"{args.metric}_mean"]), float(r["delta_vs_real"]), float(r["p_ttest"])
                out.append(f"{v:.1f} ({d:+.1f}{'*' if p < 0.05 else ''}) @{ratio:g}")
                if lever == gap_of:
                    grounded = v
            ceil = cell.get((ds, clf, "ceiling", ""))
            c = float(ceil[f"{args.metric}_mean"]) if ceil else None
            out.append(f"{c:.1f}" if c is not None else "")
            out.append(f"{(grounded - m) / (c - m):.2f}" if c is not None and grounded is not None and c > m else "")
            print("| " + " | ".join(out) + " |")


def _dev_ratio(cell: dict, ds: str, clf: str, lever: str, metric: str) -> float | None:
    """The lever's best ratio on ``ds``'s dev entry, if the grid has one."""
    dev = [(float(r[f"{metric}_mean"]), float(r["ratio"])) for (d, c, cond, _), r in cell.items()
           if d == f"{ds}-dev" and c == clf and cond == lever and r["ratio"]]
    return max(dev)[1] if dev else None


def _other_dev_ratio(cell: dict, clf: str, lever: str, metric: str) -> float | None:
    from collections import Counter

    devs = sorted({d[: -len("-dev")] for (d, *_rest) in cell if d.endswith("-dev")})
    picks = Counter(r for r in (_dev_ratio(cell, d, clf, lever, metric) for d in devs) if r is not None)
    if not picks:
        return None
    top = max(picks.values())
    return min(r for r, n in picks.items() if n == top)


if __name__ == "__main__":
    main()
