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
        for col in ("coverage_token", "coverage_type", "coverage_embedding"):
            if col in g and g[col].notna().any():
                row[f"{col}_mean"] = float(g[col].mean())
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


COVERAGE_COLUMNS = ["dataset", "classifier", "k", "condition", "ratio", "seeds", "vocabulary (token %)",
                    "vocabulary (type %)", "embedding coverage %"]
FLIP_COLUMNS = ["dataset", "classifier", "k", "condition", "ratio", "group", "test sentences (all seeds)", "OOV % vs real seed",
                "nearest real cos", "nearest synthetic cos", "closer to synthetic %", "words"]


def coverage_tables(results: Iterable[dict[str, Any]]) -> tuple[list[list[Any]], list[list[Any]]]:
    """From cells' results (``coverage: true``): coverage of the test set per condition (mean over seeds),
    and the pooled profile of the test sentences that augmentation fixed, broke or left alone."""
    from collections import defaultdict

    cov: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r.get("kind") != "ceiling" and "coverage_embedding" in r:
            cov[(r["dataset"], r["classifier"], r["k"], r["condition"], r.get("ratio"))].append(r)
    cov_rows, flip_rows = [], []
    for (ds, clf, k, cond, ratio), rs in cov.items():
        mean = lambda key: round(float(np.mean([r[key] for r in rs])), 1)  # noqa: E731
        cov_rows.append([ds, clf, k, cond, _fmt(ratio, "g"), len(rs), mean("coverage_token"), mean("coverage_type"),
                         mean("coverage_embedding")])
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rs:
            for name, g in (r.get("flips") or {}).items():
                if g.get("n"):
                    groups[name].append(g)
        for name, gs in groups.items():
            n = sum(g["n"] for g in gs)
            w = lambda key, d=1: round(sum(g[key] * g["n"] for g in gs if g.get(key) is not None) / n, d)  # noqa: E731
            flip_rows.append([ds, clf, k, cond, _fmt(ratio, "g"), name, n, w("oov_rate_vs_real_seed"), w("nearest_real_cosine", 3),
                              w("nearest_synthetic_cosine", 3), w("closer_to_synthetic"), w("mean_words")])
    return cov_rows, flip_rows


def coverage_markdown(results: Iterable[dict[str, Any]]) -> str:
    """:func:`coverage_tables` as Markdown (``coverage.md`` of an experiment run)."""
    cov_rows, flip_rows = coverage_tables(results)

    def md(columns: list[str], rows: list[list[Any]]) -> str:
        return "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] +
                         ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])

    return ("## Coverage of the test set by the training set\n\n" + md(COVERAGE_COLUMNS, cov_rows) +
            "\n\n## Test sentences that flipped against real-only (same seed), pooled over seeds\n\n" +
            md(FLIP_COLUMNS, flip_rows) + "\n")
