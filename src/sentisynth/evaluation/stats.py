"""Summaries of an experiment grid: mean ± std, 95% CI, paired tests, gap closed.

Every augmented condition is compared with real-only *over the same seeds*: the seed fixes the
real subset, so the pairing removes the (large) subset-to-subset variance that would otherwise
swamp a one- or two-point effect. Gap closed = (aug − real) / (ceiling − real): 1.0 means the
augmented few-shot model matches the model trained on the whole training pool.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np


def mean_std_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean, sample std (ddof=1) and the half-width of the t-based confidence interval."""
    from scipy import stats

    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    if v.size == 1:
        return float(v[0]), 0.0, math.nan
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * std / math.sqrt(v.size))
    return float(v.mean()), std, half


def paired_tests(treated: dict[int, float], baseline: dict[int, float]) -> dict[str, Any]:
    """Paired t-test and Wilcoxon signed-rank over the seeds both have."""
    from scipy import stats

    seeds = sorted(set(treated) & set(baseline))
    out: dict[str, Any] = {"n_pairs": len(seeds), "diff_mean": math.nan, "diff_ci95": math.nan, "p_ttest": math.nan, "p_wilcoxon": math.nan}
    if not seeds:
        return out
    d = np.array([treated[s] - baseline[s] for s in seeds])
    out["diff_mean"], _, out["diff_ci95"] = mean_std_ci(d)
    if len(seeds) >= 2 and np.any(d != 0):
        out["p_ttest"] = float(stats.ttest_rel([treated[s] for s in seeds], [baseline[s] for s in seeds]).pvalue)
        try:
            out["p_wilcoxon"] = float(stats.wilcoxon(d).pvalue)
        except ValueError:
            pass
    elif len(seeds) >= 2:
        out["p_ttest"] = out["p_wilcoxon"] = 1.0
    return out


def summarize(rows: list[dict[str, Any]], metric: str = "accuracy"):
    """One row per (dataset, classifier, k, condition, ratio) from per-cell result rows."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    ceilings = {
        (r["dataset"], r["classifier"]): r[metric] for r in rows if r["kind"] == "ceiling"
    }
    cells = df[df["kind"] != "ceiling"]
    out: list[dict[str, Any]] = []
    keys = ["dataset", "classifier", "k", "condition", "ratio"]
    for key, g in cells.groupby(keys, sort=False, dropna=False):
        dataset, classifier, k, condition, ratio = key
        vals = dict(zip(g["seed"], g[metric]))
        mean, std, ci = mean_std_ci(vals.values())
        base = cells[(cells.dataset == dataset) & (cells.classifier == classifier) & (cells.k == k) & (cells.kind == "real")]
        base_vals = dict(zip(base["seed"], base[metric]))
        real_mean = float(np.mean(list(base_vals.values()))) if base_vals else math.nan
        kind = g["kind"].iloc[0]
        row = {
            "dataset": dataset, "classifier": classifier, "k": int(k), "condition": condition, "kind": kind,
            "ratio": ratio, "n_seeds": len(vals), f"{metric}_mean": mean, f"{metric}_std": std, f"{metric}_ci95": ci,
            "macro_f1_mean": float(g["macro_f1"].mean()) if "macro_f1" in g else math.nan,
            "n_train_mean": float(g["n_train"].mean()),
        }
        if kind != "real":
            t = paired_tests(vals, base_vals)
            row.update({"delta_vs_real": t["diff_mean"], "delta_ci95": t["diff_ci95"], "p_ttest": t["p_ttest"], "p_wilcoxon": t["p_wilcoxon"]})
        ceiling = ceilings.get((dataset, classifier))
        row["ceiling"] = ceiling
        if ceiling is not None and kind != "real" and ceiling != real_mean:
            row["gap_closed"] = (mean - real_mean) / (ceiling - real_mean)
        out.append(row)
    for (dataset, classifier), value in ceilings.items():
        out.append({"dataset": dataset, "classifier": classifier, "k": None, "condition": "ceiling", "kind": "ceiling",
                    "ratio": None, "n_seeds": 1, f"{metric}_mean": value, "ceiling": value})
    return pd.DataFrame(out)


def _fmt(x: Any, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return format(x, spec)


def summary_markdown(summary, metric: str = "accuracy") -> str:
    """A Markdown table: mean ± std, 95% CI, Δ vs real-only with paired p, gap closed."""
    lines = [
        f"| dataset | classifier | k | condition | ratio | seeds | {metric} (%) mean ± std | 95% CI | Δ vs real | paired p | gap closed |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.to_dict("records"):
        m, s, ci = r.get(f"{metric}_mean"), r.get(f"{metric}_std"), r.get(f"{metric}_ci95")
        k = "all" if r["kind"] == "ceiling" else str(int(r["k"]))
        ratio = "" if r["kind"] in ("real", "ceiling") else _fmt(r.get("ratio"), "g")
        mean_std = f"{_fmt(m)} ± {_fmt(s)}" if r["kind"] != "ceiling" else _fmt(m)
        ci_txt = f"[{_fmt(m - ci)}, {_fmt(m + ci)}]" if ci is not None and not (isinstance(ci, float) and math.isnan(ci)) else ""
        delta = r.get("delta_vs_real")
        delta_txt = f"{delta:+.1f}" if delta is not None and not (isinstance(delta, float) and math.isnan(delta)) else ""
        lines.append(
            f"| {r['dataset']} | {r['classifier']} | {k} | {r['condition']} | {ratio} | {r.get('n_seeds', '')} | "
            f"{mean_std} | {ci_txt} | {delta_txt} | {_fmt(r.get('p_ttest'), '.3g')} | {_fmt(r.get('gap_closed'), '.2f')} |"
        )
    return "\n".join(lines) + "\n"
