"""Print the classifier x condition table of docs/CLASSIFIERS.md from experiment run directories.

Reads every cell result (``eval/**/*.json``) of the runs given and prints, per dataset and k, one
row per classifier: real only, + synthetic at each ratio, synthetic only, the all-labels ceiling and
the gap closed by the best real + synthetic ratio ((aug - real) / (ceiling - real)); mean ± std over
seeds of the metric (macro-F1 by default), and the mean seconds per cell.

    python scripts/classifier_table.py runs/classifiers-real runs/classifiers-ceiling runs/classifiers-synthetic-*
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def collect(runs: list[Path], metric: str) -> dict:
    by_seed: dict = {}
    secs: dict = defaultdict(list)
    for run in runs:
        for f in sorted((run / "eval").rglob("*.json")):
            r = json.loads(f.read_text())
            tag = r["condition"] if r["kind"] in ("real", "ceiling") else f"{r['condition']}@{r['ratio']:g}"
            key = (r["dataset"], r["classifier"], r["k"] if r["kind"] != "ceiling" else "all", tag)
            by_seed[(key, r.get("seed"))] = r[metric]  # a real-only cell in two runs is the same cell: count it once
            secs[(r["dataset"], r["classifier"])].append(r.get("seconds", 0.0))
    cells: dict = defaultdict(list)
    for (key, _), value in sorted(by_seed.items(), key=lambda kv: (str(kv[0][0]), kv[0][1] or 0)):
        cells[key].append(value)
    return cells, secs


def _tag_order(tag: str) -> tuple:
    name, _, ratio = tag.partition("@")
    return ("only" in name, name, float(ratio or 0))


def fmt(values: list[float]) -> str:
    if not values:
        return ""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--metric", default="macro_f1")
    args = ap.parse_args()
    cells, secs = collect(args.runs, args.metric)
    datasets = sorted({k[0] for k in cells}, key=lambda d: ["sst2", "rt-snippets", "tweets", "trec"].index(d)
                      if d in ("sst2", "rt-snippets", "tweets", "trec") else 9)
    for ds in datasets:
        ks = sorted({k[2] for k in cells if k[0] == ds and k[2] != "all"})
        clfs = sorted({k[1] for k in cells if k[0] == ds}, key=lambda c: ["minilm-lr", "mpnet-lr", "gemma-lr"].index(c)
                      if c in ("minilm-lr", "mpnet-lr", "gemma-lr") else 9)
        for k in ks:
            tags = sorted({t for (d, c, kk, t) in cells if d == ds and kk == k and t != "real"}, key=_tag_order)
            print(f"\n**{ds}, k = {k}** ({args.metric}, mean ± std over seeds)\n")
            head = ["classifier", "real only", *tags, "ceiling (all labels)", "gap closed", "s/cell"]
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for c in clfs:
                real = cells.get((ds, c, k, "real"), [])
                if not real:
                    continue
                ceiling = cells.get((ds, c, "all", "ceiling"), [])
                aug = [statistics.mean(cells[(ds, c, k, t)]) for t in tags
                       if (ds, c, k, t) in cells and "only" not in t]
                gap = (f"{(max(aug) - statistics.mean(real)) / (ceiling[0] - statistics.mean(real)):.2f}"
                       if aug and ceiling and ceiling[0] > statistics.mean(real) else "")
                row = [c, fmt(real), *[fmt(cells.get((ds, c, k, t), [])) for t in tags], fmt(ceiling), gap,
                       f"{statistics.mean(secs[(ds, c)]):.2f}"]
                print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
