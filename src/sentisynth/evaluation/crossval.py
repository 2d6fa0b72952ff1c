"""Does synthetic data help *this* user's data? Repeated stratified cross-validation, paired per example.

A user with 40 labeled examples has no test set to spare. So the real examples are split into K
stratified folds, R times with different shuffles; on every fold the same classifier is trained on
the real training part alone and on the real training part plus synthetic records at each ratio,
and both predict the same held-out real part. Every example is thus predicted out-of-fold once per
repeat, by both conditions: the comparison is paired example by example.

The interval answers the user's question — "will *my* model, trained on *my* examples plus these
records, do better?" — so it is conditional on the user's sample: a stratified bootstrap over the
user's examples of the out-of-fold metric difference (averaged over the R repeats, which removes
most of the fold-assignment noise). It reflects how few examples there are to test on, which at
N = 40 is the dominant uncertainty. The recommended ratio is the best of several tried, so the
interval is Bonferroni-widened over the ratios (family-wise 95 %).

For reference the table also carries the Nadeau–Bengio corrected resampled t-test (Bouckaert &
Frank 2004) on per-fold differences: it answers the unconditional question (would the method help
on a *new* sample of N examples?), inflating the variance by ``n_test / n_train`` for overlapping
training sets, and at N = 40 it is so conservative that a +15-point gain from 80 extra real labels
is not significant (measured in tests/test_crossval.py's data). It is reported, not used to decide.

Synthetic records never enter a held-out fold; they are shuffled once with the seed and each ratio
takes a per-label prefix of that order, so larger ratios contain the smaller ones (nested), and the
augmented dataset written for the recommended ratio is exactly what was measured.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DataError
from ..records import Example, SyntheticExample
from .allocation import per_label_prefix, synthetic_need

METRICS = ("accuracy", "macro_f1")


def corrected_resampled_ttest(diffs: Sequence[float], n_train: float, n_test: float, confidence: float = 0.95) -> dict[str, float]:
    """Mean difference, its confidence interval and p-value under the Nadeau–Bengio correction."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    J = d.size
    mean = float(d.mean()) if J else math.nan
    if J < 2:
        return {"mean": mean, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan}
    var = float(d.var(ddof=1))
    se = math.sqrt((1.0 / J + n_test / n_train) * var)
    if se == 0.0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "p": 1.0 if mean == 0 else 0.0}
    half = float(stats.t.ppf(0.5 + confidence / 2, J - 1)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, J - 1))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "p": p}


def synthetic_order(synthetic: Sequence[SyntheticExample], seed: int) -> list[SyntheticExample]:
    """The records in one seeded shuffled order (generators emit topic by topic; a prefix of the raw
    stream would cover few topics)."""
    order = np.random.default_rng(seed).permutation(len(synthetic))
    return [synthetic[i] for i in order]


def chosen_synthetic(ordered: Sequence[SyntheticExample], ratio: float, real_labels: Sequence[str]) -> list[SyntheticExample]:
    """The synthetic records trained on at ``ratio`` beside real examples with ``real_labels``:
    balanced over the real labels, a per-label prefix of ``ordered`` (see :func:`synthetic_order`)."""
    counts = Counter(real_labels)
    return per_label_prefix(ordered, synthetic_need("balanced", ratio, counts, sorted(counts)))


def stratified_bootstrap_weights(y: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, N) counts: how often each example is drawn when every class is resampled to its own size."""
    W = np.zeros((n_boot, len(y)))
    for c in np.unique(y):
        ix = np.flatnonzero(y == c)
        W[:, ix] = rng.multinomial(len(ix), np.full(len(ix), 1.0 / len(ix)), size=n_boot)
    return W


def weighted_scores(W: np.ndarray, y: np.ndarray, pred: np.ndarray, n_labels: int) -> dict[str, np.ndarray]:
    """Accuracy, per-class F1 and macro-F1 (percentages) of ``pred`` under each row of example weights ``W``.

    One matrix product per class instead of a metric call per bootstrap sample (2,000 samples x
    repeats x ratios would otherwise take a minute). Matches sklearn with ``zero_division=0``.
    """
    total = W.sum(axis=1)
    acc = 100 * (W @ (pred == y)) / total
    f1 = np.zeros((W.shape[0], n_labels))
    for c in range(n_labels):
        tp = W @ ((y == c) & (pred == c))
        fp = W @ ((y != c) & (pred == c))
        fn = W @ ((y == c) & (pred != c))
        denom = 2 * tp + fp + fn
        f1[:, c] = np.divide(200 * tp, denom, out=np.zeros_like(tp, dtype=float), where=denom > 0)
    return {"accuracy": acc, "macro_f1": f1.mean(axis=1), "per_class_f1": f1}


def paired_bootstrap(y: np.ndarray, base: np.ndarray, treated: np.ndarray, n_labels: int, metric: str,
                     confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Difference in ``metric`` (treated − base; out-of-fold predictions, shape (repeats, N)) averaged over
    repeats, with a stratified-bootstrap percentile interval and a two-sided bootstrap p-value."""
    ones = np.ones((1, len(y)))
    point = float(np.mean([weighted_scores(ones, y, t, n_labels)[metric][0] - weighted_scores(ones, y, b, n_labels)[metric][0]
                           for b, t in zip(base, treated)]))
    W = stratified_bootstrap_weights(y, n_boot, np.random.default_rng(seed))
    diffs = np.mean([weighted_scores(W, y, t, n_labels)[metric] - weighted_scores(W, y, b, n_labels)[metric]
                     for b, t in zip(base, treated)], axis=0)
    alpha = 1 - confidence
    p = float(min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0))))
    return {"mean": point, "ci_low": float(np.quantile(diffs, alpha / 2)), "ci_high": float(np.quantile(diffs, 1 - alpha / 2)), "p": p}


def check_class_sizes(counts: dict[str, int]) -> None:
    """Cross-validation needs two examples of every class: one to train on, one to hold out."""
    rare = sorted(lab for lab, c in counts.items() if c < 2)
    if rare:
        raise DataError(f"class(es) {rare} have fewer than 2 examples; cross-validation needs at least 2 per class "
                        "(one to train, one to test); fix: add labeled examples for them or drop the class.")


class AugmentationCV:
    """Repeated stratified K-fold comparison of real-only vs real + synthetic at several ratios.

    ``classifier`` is a registered classifier name with ``classifier_params``; ``metric`` decides the
    verdict (macro-F1 by default, because users' small sets are often imbalanced).
    """

    def __init__(self, ratios: Sequence[float] = (0.5, 1, 2, 4), n_splits: int = 5, n_repeats: int = 5,
                 classifier: str = "embedding-lr", classifier_params: dict[str, Any] | None = None,
                 metric: str = "macro_f1", confidence: float = 0.95, random_state: int = 0):
        self.ratios = ratios
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.metric = metric
        self.confidence = confidence
        self.random_state = random_state

    def _check(self, real: Sequence[Example], labels: list[str]) -> int:
        if self.metric not in METRICS:
            raise DataError(f"The 'metric' parameter of AugmentationCV must be one of {list(METRICS)}; got {self.metric!r} instead.")
        if not self.ratios or any(not isinstance(r, (int, float)) or r <= 0 for r in self.ratios):
            raise DataError(f"The 'ratios' parameter must be a non-empty list of numbers > 0; got {self.ratios!r} instead.")
        if self.n_splits < 2 or self.n_repeats < 1:
            raise DataError(f"cross-validation needs n_splits >= 2 and n_repeats >= 1; got {self.n_splits} and {self.n_repeats}.")
        counts = Counter(e.label for e in real)
        check_class_sizes(counts)
        return min(self.n_splits, min(counts.values()))

    def run(self, real: Sequence[Example], synthetic: Sequence[SyntheticExample],
            progress: Callable[[int], None] | None = None, always_train: Sequence[Example] = ()) -> dict[str, Any]:
        """Score every fold and ratio; return folds, a per-condition summary, the verdict and flips.

        ``always_train`` are real examples in every fold's training part and never held out: the ones
        a grounded generator was shown, so that every score is on examples the generator never saw.
        """
        from sklearn.model_selection import RepeatedStratifiedKFold

        from .classifiers import evaluate_predictions, make_classifier

        real = list(real)
        labels = sorted({e.label for e in real})
        n_splits = self._check(real, labels)
        ordered = synthetic_order(list(synthetic), self.random_state)
        available = Counter(r.label for r in ordered)
        y = [e.label for e in real]
        ratios, skipped = [], []
        for ratio in sorted(set(float(r) for r in self.ratios)):
            need = synthetic_need("balanced", ratio, Counter(y), labels)
            short = {lab: available.get(lab, 0) for lab in labels if available.get(lab, 0) < need[lab]}
            (skipped.append({"ratio": ratio, "need_per_label": max(need.values()), "available": short}) if short
             else ratios.append(ratio))
        if not ratios and all(available.get(lab, 0) > 0 for lab in labels):
            # None of the asked ratios fits what the filters kept: still measure what there is.
            feasible = math.floor(100 * min(available[lab] for lab in labels) * len(labels) / len(real)) / 100
            if feasible > 0:
                ratios.append(feasible)
        splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=self.n_repeats, random_state=self.random_state)
        params = dict(self.classifier_params or {})
        params.setdefault("random_state", self.random_state)
        clf = make_classifier(self.classifier, **params)
        folds: list[dict[str, Any]] = []
        # out-of-fold predictions (label indices), one row per repeat: every example is held out once per
        # repeat, so these feed the paired bootstrap, the pooled scores and the flipped examples alike
        oof = {c: np.full((self.n_repeats, len(real)), -1) for c in ["real", *map(ratio_key, ratios)]}
        for i, (train_ix, test_ix) in enumerate(splitter.split(np.zeros(len(y)), y)):
            train = [real[j] for j in train_ix] + list(always_train)
            test = [real[j] for j in test_ix]
            truth = [e.label for e in test]
            truth_train = [e.label for e in train]
            fold = {"repeat": i // n_splits, "fold": i % n_splits, "n_train": len(train), "n_test": len(test), "conditions": {}}
            for cond, ratio in [("real", None), *[(ratio_key(r), r) for r in ratios]]:
                extra = [] if ratio is None else chosen_synthetic(ordered, ratio, truth_train)
                pred = clf.fit(train + extra).predict(test)
                scores = evaluate_predictions(truth, pred, labels)
                scores["n_synthetic"] = len(extra)
                fold["conditions"][cond] = scores
                oof[cond][i // n_splits, test_ix] = [labels.index(p) for p in pred]
            folds.append(fold)
            if progress:
                progress(1)
        y_ix = np.array([labels.index(v) for v in y])
        summary = self._summary(folds, oof, y_ix, ratios, labels)
        return {
            "labels": labels, "n_real": len(real), "n_always_train": len(always_train), "real_counts": dict(Counter(y)), "n_synthetic_available": dict(available),
            "n_splits": n_splits, "n_repeats": self.n_repeats, "metric": self.metric, "ratios": ratios,
            "skipped_ratios": skipped, "folds": folds, "summary": summary,
            "verdict": self.verdict(summary, ratios, len(real)), "flips": _flips(real, oof, y_ix, ratios),
        }

    def _summary(self, folds: list[dict[str, Any]], oof: dict[str, np.ndarray], y: np.ndarray, ratios: list[float],
                 labels: list[str]) -> list[dict[str, Any]]:
        """Per condition: out-of-fold metrics (averaged over repeats), fold std, and for each ratio the paired
        difference with its family-wise bootstrap interval and the corrected t-test p-value."""
        n_train = float(np.mean([f["n_train"] for f in folds]))
        n_test = float(np.mean([f["n_test"] for f in folds]))
        level = 1 - (1 - self.confidence) / max(len(ratios), 1)  # Bonferroni over the ratios tried
        ones = np.ones((1, len(y)))
        rows = []
        for cond, ratio in [("real", None), *[(ratio_key(r), r) for r in ratios]]:
            row: dict[str, Any] = {"condition": "real only" if ratio is None else f"real + synthetic x{ratio:g}", "ratio": ratio}
            pooled = [weighted_scores(ones, y, p, len(labels)) for p in oof[cond]]
            for m in METRICS:
                vals = np.array([f["conditions"][cond][m] for f in folds])
                row[f"{m}_mean"] = float(np.mean([s[m][0] for s in pooled]))
                row[f"{m}_fold_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
                if ratio is not None:
                    b = paired_bootstrap(y, oof["real"], oof[cond], len(labels), m, level, seed=self.random_state)
                    row.update({f"{m}_delta": b["mean"], f"{m}_ci_low": b["ci_low"], f"{m}_ci_high": b["ci_high"], f"{m}_p": b["p"]})
                    base = np.array([f["conditions"]["real"][m] for f in folds])
                    row[f"{m}_p_corrected_t"] = corrected_resampled_ttest(vals - base, n_train, n_test)["p"]
            per_class = np.mean([s["per_class_f1"][0] for s in pooled], axis=0)
            row["per_class_f1"] = {lab: float(v) for lab, v in zip(labels, per_class)}
            row["n_synthetic_mean"] = float(np.mean([f["conditions"][cond]["n_synthetic"] for f in folds]))
            rows.append(row)
        real = rows[0]["per_class_f1"]
        for row in rows[1:]:
            row["per_class_f1_delta"] = {lab: row["per_class_f1"][lab] - real[lab] for lab in labels}
        return rows

    def verdict(self, summary: list[dict[str, Any]], ratios: list[float], n_real: int) -> dict[str, Any]:
        """The decision from a run's summary (recomputed on every rerun, so wording follows the code)."""
        m = self.metric
        family = (f"{self.confidence:.0%} family-wise over {len(ratios)} ratio(s); paired stratified bootstrap over your "
                  f"examples of the out-of-fold difference, averaged over {self.n_repeats} repeats")
        if not ratios:
            return {"decision": "not measured", "recommended_ratio": None, "metric": m, "interval": family,
                    "message": "No ratio could be measured: too few synthetic records survived generation and filtering."}
        established = [r for r in summary[1:] if r[f"{m}_ci_low"] > 0]
        # the best ratio whose gain the interval establishes; else the best point estimate
        best = max(established or summary[1:], key=lambda r: r[f"{m}_delta"])
        gain = f"{best[f'{m}_delta']:+.1f} points {m} (CI [{best[f'{m}_ci_low']:+.1f}, {best[f'{m}_ci_high']:+.1f}], p {format_p(best[f'{m}_p'])})"
        base = {"metric": m, "interval": family, "best_ratio": best["ratio"], "delta": best[f"{m}_delta"],
                "ci_low": best[f"{m}_ci_low"], "ci_high": best[f"{m}_ci_high"], "p": best[f"{m}_p"]}
        if best[f"{m}_ci_low"] > 0:
            return {**base, "decision": "use", "recommended_ratio": best["ratio"],
                    "message": f"Synthetic data helps: at ratio {best['ratio']:g} it adds {gain}. Recommended ratio: {best['ratio']:g}."}
        if all(r[f"{m}_ci_high"] < 0 for r in summary[1:]):
            return {**base, "decision": "do not use", "recommended_ratio": None,
                    "message": f"Synthetic data hurts at every ratio tried (best: ratio {best['ratio']:g}, {gain}). Do not use it."}
        n = n_real
        if best[f"{m}_delta"] > 0:
            message = (f"The best ratio, {best['ratio']:g}, gives {gain}, but the interval includes zero — "
                       f"{n} examples cannot establish a gain of this size. Not recommended by default; if you take the "
                       f"risk, use ratio {best['ratio']:g} (synthetic.jsonl holds every kept record). More labeled examples "
                       "would settle it.")
        else:
            message = (f"No gain measured: the best ratio, {best['ratio']:g}, gives {gain}. Not recommended; a stronger "
                       "generator or more labeled examples may change this.")
        return {**base, "decision": "inconclusive", "recommended_ratio": None, "message": message}


def format_p(p: float) -> str:
    """``= 0.03`` or ``< 0.001`` (a bootstrap p-value of 0 only means "below 1 / n_boot")."""
    return "< 0.001" if p < 0.001 else f"= {p:.2g}"


def ratio_key(ratio: float) -> str:
    """The key of a ratio's results in folds and flips (``x0.5``, ``x2``)."""
    return f"x{ratio:g}"


def _flips(real: list[Example], oof: dict[str, np.ndarray], y: np.ndarray, ratios: list[float]) -> dict[str, Any]:
    """Per ratio, the held-out examples the synthetic data moved: fixed (wrong in most repeats without it,
    right in most with it) and broken (the reverse); rates over the repeats' out-of-fold predictions."""
    before = (oof["real"] == y).mean(axis=0)
    out = {}
    for ratio in ratios:
        after = (oof[ratio_key(ratio)] == y).mean(axis=0)
        rows = [{"text": e.text, "label": e.label, "real_only_correct": float(b), "augmented_correct": float(a)}
                for e, b, a in zip(real, before, after)]
        out[ratio_key(ratio)] = {"ratio": ratio,
                                 "fixed": [r for r in rows if r["real_only_correct"] < 0.5 <= r["augmented_correct"]],
                                 "broken": [r for r in rows if r["augmented_correct"] < 0.5 <= r["real_only_correct"]]}
    return out
