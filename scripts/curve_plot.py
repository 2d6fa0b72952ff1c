"""The accuracy-vs-records curve of a grid (issue 20, lever 3): a pool's augment and synthetic-only conditions
at every ratio, mean ± std over seeds, against real only and the all-labels ceiling, one panel per dataset entry.

    python scripts/curve_plot.py runs/grounding/grid-sst2 --augment prefix1k --synthetic-only prefix1k-only \\
        --out docs/figures/curve-sst2-prefix1k.png
    python scripts/curve_plot.py runs/grounding/grid-sst2-breadth --augment prefix1k broad1k \\
        --synthetic-only prefix1k-only broad1k-only --classifiers gemma-lr --out docs/figures/curve-sst2-breadth.png

Also prints the curve as a Markdown table (synthetic records on the x axis: ratio x real records).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--augment", required=True, nargs="+", help="augment conditions (real + synthetic), one curve each")
    ap.add_argument("--synthetic-only", nargs="*", default=[], help="synthetic_only conditions on the same pools")
    ap.add_argument("--classifiers", default="", help="comma-separated; default: every classifier in the grid")
    ap.add_argument("--metric", default="macro_f1")
    ap.add_argument("--out", type=Path, help="PNG to write")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.run / "summary.csv")))
    m = args.metric
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    classifiers = [c for c in args.classifiers.split(",") if c] or list(dict.fromkeys(r["classifier"] for r in rows))
    conds = [*args.augment, *args.synthetic_only]

    def cells(ds: str, clf: str, cond: str) -> list[tuple[float, float, float, str]]:
        """(synthetic records, mean, std, paired-p marker) per ratio."""
        out = []
        for r in rows:
            if r["dataset"] == ds and r["classifier"] == clf and r["condition"] == cond and r["ratio"]:
                real_n = float(r["n_train_mean"]) / (1 + float(r["ratio"])) if r["kind"] == "augment" else float(r["n_train_mean"]) / float(r["ratio"])
                star = "*" if r["p_ttest"] and float(r["p_ttest"]) < 0.05 else ""
                out.append((round(float(r["ratio"]) * real_n), float(r[f"{m}_mean"]), float(r[f"{m}_std"]), star))
        return sorted(out)

    def single(ds: str, clf: str, cond: str) -> float | None:
        r = next((r for r in rows if r["dataset"] == ds and r["classifier"] == clf and r["condition"] == cond), None)
        return float(r[f"{m}_mean"]) if r else None

    for ds in datasets:
        for clf in classifiers:
            print(f"\n{ds}, {clf}: real {single(ds, clf, 'real'):.1f}, every label "
                  f"{(single(ds, clf, 'ceiling') or float('nan')):.1f}")
            print("| synthetic records | " + " | ".join(conds) + " |")
            print("|---:|" + "---:|" * len(conds))
            table: dict[int, dict[str, str]] = {}
            for cond in conds:
                for n, mean, std, star in cells(ds, clf, cond):
                    table.setdefault(n, {})[cond] = f"{mean:.1f} ± {std:.1f}{star}"
            for n in sorted(table):
                print(f"| {n} | " + " | ".join(table[n].get(c, "") for c in conds) + " |")
    if not args.out:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for i, clf in enumerate(classifiers):
            color = f"C{i}"
            styles = [*("-o", "-^", "-v", "-D")[: len(args.augment)], *("--s", "--x", "--+", "--*")[: len(args.synthetic_only)]]
            for cond, style in zip(conds, styles):
                pts = cells(ds, clf, cond)
                if pts:
                    x, y, s = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
                    ax.errorbar(x, y, yerr=s, fmt=style, color=color, capsize=3, label=f"{clf}: {cond}")
            for cond, ls in (("real", ":"), ("ceiling", "-.")):
                v = single(ds, clf, cond)
                if v is not None:
                    ax.axhline(v, color=color, ls=ls, lw=1, label=f"{clf}: {'real only' if cond == 'real' else 'every label'}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("synthetic records")
        ax.set_ylabel(m)
        ax.set_title(ds)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
