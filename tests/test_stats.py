"""Summary statistics: CI, paired tests and gap closed on hand-checkable numbers."""

import math

import pytest

from sentisynth.evaluation.stats import mean_std_ci, paired_tests, summarize, summary_markdown


def test_mean_std_ci_matches_t_interval():
    m, s, h = mean_std_ci([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5
    assert s == pytest.approx(1.2909944, rel=1e-6)
    assert h == pytest.approx(3.182446 * 1.2909944 / 2, rel=1e-5)  # t(0.975, 3) * s / sqrt(4)


def test_paired_test_detects_consistent_gain_unpaired_variance_ignored():
    base = {s: 60.0 + 5 * (s % 3) for s in range(10)}  # large between-seed variance
    treated = {s: v + 1.0 + 0.01 * s for s, v in base.items()}  # small, consistent gain
    t = paired_tests(treated, base)
    assert t["n_pairs"] == 10
    assert t["diff_mean"] == pytest.approx(1.045)
    assert t["p_ttest"] < 1e-6


def test_paired_test_no_difference():
    base = {0: 1.0, 1: 2.0}
    assert paired_tests(dict(base), base)["p_ttest"] == 1.0


def _row(kind, cond, seed, acc, ratio=None, k=10):
    return {"dataset": "d", "classifier": "c", "k": None if kind == "ceiling" else k, "seed": seed, "condition": cond,
            "kind": kind, "ratio": ratio, "accuracy": acc, "macro_f1": acc, "n_train": 20}


def test_summarize_gap_closed_and_markdown():
    rows = [_row("real", "real", s, 60.0 + s) for s in range(3)]
    rows += [_row("augment", "aug", s, 70.0 + s, ratio=1.0) for s in range(3)]
    rows += [_row("ceiling", "ceiling", None, 81.0)]
    df = summarize(rows)
    aug = df[df.condition == "aug"].iloc[0]
    assert aug["delta_vs_real"] == pytest.approx(10.0)
    assert aug["gap_closed"] == pytest.approx(10.0 / (81.0 - 61.0))
    real = df[df.condition == "real"].iloc[0]
    assert real["accuracy_mean"] == 61.0 and math.isnan(real.get("gap_closed", math.nan))
    md = summary_markdown(df)
    assert "| d | c | 10 | aug | 1 | 3 | 71.0 ± 1.0 |" in md
    assert "| d | c | all | ceiling |" in md
