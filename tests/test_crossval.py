"""Repeated stratified cross-validation of augmentation on the user's own examples (real SST-2, MiniLM)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentisynth.errors import DataError
from sentisynth.evaluation.allocation import synthetic_need
from sentisynth.evaluation.crossval import AugmentationCV, chosen_synthetic, corrected_resampled_ttest, synthetic_order
from sentisynth.records import Example, SyntheticExample

from .helpers import sst2_by_label


def test_corrected_ttest_matches_hand_computation():
    d = np.array([2.0, -1.0, 3.0, 0.5, 1.5, 2.5])
    out = corrected_resampled_ttest(d, n_train=40, n_test=10)
    se = math.sqrt((1 / 6 + 10 / 40) * d.var(ddof=1))
    from scipy import stats

    assert out["mean"] == pytest.approx(d.mean())
    assert out["ci_high"] - out["mean"] == pytest.approx(stats.t.ppf(0.975, 5) * se)
    assert out["p"] == pytest.approx(2 * stats.t.sf(d.mean() / se, 5))
    # the correction makes the interval wider than the naive one
    naive = stats.t.ppf(0.975, 5) * d.std(ddof=1) / math.sqrt(6)
    assert out["ci_high"] - out["mean"] > naive


def test_ratios_are_nested_prefixes_of_one_seeded_order():
    recs = [SyntheticExample(text=f"t{i}", label=["a", "b"][i % 2]) for i in range(40)]
    order = synthetic_order(recs, 3)
    assert order == synthetic_order(recs, 3) and order != synthetic_order(recs, 4)
    small, big = chosen_synthetic(order, 1, ["a", "b"] * 3), chosen_synthetic(order, 1, ["a", "b"] * 7)
    assert set(r.text for r in small) <= set(r.text for r in big)
    assert sum(r.label == "a" for r in big) == 7 and sum(r.label == "b" for r in big) == 7
    assert synthetic_need("balanced", 2, {"a": 5, "b": 5}, ["a", "b"]) == {"a": 10, "b": 10}
    assert synthetic_need("balanced", 0.5, {"a": 5, "b": 4}, ["a", "b"]) == {"a": 3, "b": 3}


@pytest.fixture(scope="module")
def real_and_pools():
    neg, pos = sst2_by_label("train", 2000)
    real = [Example(text=t, label=y) for t, y in neg[:20] + pos[:20]]
    good = [SyntheticExample(text=t, label=y, generator="test") for t, y in neg[100:260] + pos[100:260]]
    flip = {"negative": "positive", "positive": "negative"}
    bad = [SyntheticExample(text=t, label=flip[y], generator="test") for t, y in neg[100:260] + pos[100:260]]
    return real, good, bad


def test_correctly_labeled_extra_data_is_recommended(real_and_pools):
    real, good, _ = real_and_pools
    out = AugmentationCV(ratios=(2, 8), n_splits=4, n_repeats=3, random_state=0).run(real, good)
    assert [r["ratio"] for r in out["summary"]] == [None, 2.0, 8.0]
    assert len(out["folds"]) == 12 and all(f["n_test"] == 10 for f in out["folds"])
    x8 = out["summary"][2]
    assert x8["macro_f1_delta"] > 5, x8
    assert out["verdict"]["decision"] == "use"
    assert out["verdict"]["recommended_ratio"] in (2.0, 8.0)
    assert out["summary"][1]["n_synthetic_mean"] == pytest.approx(2 * 30)  # ratio x the 30 training examples
    assert set(out["flips"]) == {"x2", "x8"}


def test_wrongly_labeled_data_is_rejected(real_and_pools):
    real, _, bad = real_and_pools
    out = AugmentationCV(ratios=(2, 8), n_splits=4, n_repeats=3, random_state=0).run(real, bad)
    assert out["summary"][2]["macro_f1_delta"] < -10
    assert out["verdict"]["decision"] == "do not use"
    assert out["verdict"]["recommended_ratio"] is None
    assert out["flips"]["x8"]["broken"], "label-flipped data must break held-out examples"


def test_short_pool_skips_ratios_it_cannot_fill(real_and_pools):
    real, good, _ = real_and_pools
    pool = good[:25] + good[160:185]  # 25 per label at most: ratio 1 needs 20 per label, ratio 4 needs 80
    out = AugmentationCV(ratios=(1, 4), n_splits=2, n_repeats=1, classifier="tfidf-lr").run(real, pool)
    assert out["ratios"] == [1.0]
    assert out["skipped_ratios"][0]["ratio"] == 4.0 and out["skipped_ratios"][0]["need_per_label"] == 80
    # nothing fits: the largest ratio the pool allows is measured instead of nothing
    out = AugmentationCV(ratios=(4,), n_splits=2, n_repeats=1, classifier="tfidf-lr").run(real, pool)
    assert out["ratios"] and out["ratios"][0] <= 1.5


def test_class_with_one_example_is_a_clear_error(real_and_pools):
    real, good, _ = real_and_pools
    odd = real[:20] + real[20:21]
    with pytest.raises(DataError, match="fewer than 2 examples"):
        AugmentationCV(n_splits=2, n_repeats=1).run(odd, good)
    with pytest.raises(DataError, match="metric"):
        AugmentationCV(metric="auc").run(real, good)


def test_verdict_wording_follows_the_interval():
    cv = AugmentationCV(ratios=(1, 2))

    def summary(*rows):
        base = {"condition": "real only", "ratio": None}
        return [base] + [{"ratio": r, "macro_f1_delta": d, "macro_f1_ci_low": lo, "macro_f1_ci_high": hi, "macro_f1_p": p}
                         for r, d, lo, hi, p in rows]

    v = cv.verdict(summary((1, 3.0, 0.5, 6.0, 0.01), (2, 5.0, -1.0, 11.0, 0.1)), [1, 2], 40)
    assert v["decision"] == "use" and v["recommended_ratio"] == 1  # the best *established* ratio
    v = cv.verdict(summary((1, 4.0, -2.0, 10.0, 0.2), (2, 10.5, -4.5, 24.5, 0.053)), [1, 2], 40)
    assert v["decision"] == "inconclusive" and v["recommended_ratio"] is None
    assert "40 examples cannot establish" in v["message"] and "ratio 2" in v["message"]
    v = cv.verdict(summary((1, -4.0, -9.0, -1.0, 0.01), (2, -6.0, -12.0, -0.5, 0.02)), [1, 2], 40)
    assert v["decision"] == "do not use" and "hurts" in v["message"]
