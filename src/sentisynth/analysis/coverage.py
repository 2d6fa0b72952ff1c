"""Imbalance vs coverage: how much of the test set a training set "covers", and who flips.

Synthetic data can help a small or skewed seed set two ways: by *rebalancing* classes (more
minority examples, nothing new) or by *coverage* (words and meanings the seed set lacks). These
measures separate them, per training set, against the evaluation texts:

* vocabulary coverage — the share of the test set's running tokens whose word occurs somewhere in
  the training texts (type coverage too);
* embedding coverage — the share of test sentences with a training sentence inside their own
  k-nearest-neighbour ball among test sentences (Naeem et al. 2020's "coverage", with the test set
  as the reference manifold): does the training set reach that region of meaning at all?

``flip_profile`` then asks what the test sentences that augmentation fixed (wrong → right) share
compared with those it broke or left alone: out-of-vocabulary rate against the real seed set,
distance to the nearest real vs nearest synthetic training sentence, label, length.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes)."""
    return _WORD.findall(text.lower())


def vocabulary_coverage(train_texts: Sequence[str], test_texts: Sequence[str]) -> dict[str, float]:
    """Percent of test tokens (and of test word types) seen in the training texts."""
    vocab = {w for t in train_texts for w in words(t)}
    tokens = [w for t in test_texts for w in words(t)]
    types = set(tokens)
    return {"token_coverage": 100.0 * sum(w in vocab for w in tokens) / max(len(tokens), 1),
            "type_coverage": 100.0 * len(types & vocab) / max(len(types), 1), "train_vocabulary": len(vocab)}


class TestManifold:
    """The evaluation set's embeddings with each point's k-NN radius (computed once per dataset)."""

    def __init__(self, test_X: np.ndarray, k: int = 5):
        self.test_X = test_X
        self.k = k

    def fit(self) -> "TestManifold":
        from .embeddings import _knn_radius

        self.X_ = np.asarray(self.test_X, dtype=np.float32)
        self.radius_ = _knn_radius(self.X_.astype(np.float64), self.k).astype(np.float32)
        return self

    def coverage(self, train_X: np.ndarray) -> float:
        """Percent of test points with at least one training point within their k-NN radius."""
        from sklearn.metrics import pairwise_distances

        near = pairwise_distances(self.X_, np.asarray(train_X, dtype=np.float32)).min(axis=1)
        return 100.0 * float(np.mean(near <= self.radius_))


def flip_profile(test_texts: Sequence[str], test_labels: Sequence[str], real_correct: np.ndarray, aug_correct: np.ndarray,
                 real_texts: Sequence[str], test_X: np.ndarray, real_X: np.ndarray, syn_X: np.ndarray) -> dict[str, Any]:
    """Per group of test sentences (fixed, broken, unchanged), what they share.

    ``real_correct`` / ``aug_correct`` are booleans per test sentence (one seed) or rates over seeds.
    Cosines assume unit-norm embeddings (MiniLM's are).
    """
    vocab = {w for t in real_texts for w in words(t)}
    fixed = (real_correct < 0.5) & (aug_correct >= 0.5)
    broken = (real_correct >= 0.5) & (aug_correct < 0.5)
    groups = {"fixed (wrong → right)": fixed, "broken (right → wrong)": broken, "unchanged": ~(fixed | broken)}
    near_real = (test_X @ real_X.T).max(axis=1)
    near_syn = (test_X @ syn_X.T).max(axis=1) if len(syn_X) else np.full(len(test_X), np.nan)
    tokens = [words(t) for t in test_texts]
    oov = np.array([np.mean([w not in vocab for w in ws]) if ws else 0.0 for ws in tokens])
    length = np.array([len(ws) for ws in tokens])
    out = {}
    for name, m in groups.items():
        if not m.any():
            out[name] = {"n": 0}
            continue
        out[name] = {
            "n": int(m.sum()),
            "oov_rate_vs_real_seed": float(100 * oov[m].mean()),
            "nearest_real_cosine": float(near_real[m].mean()),
            "nearest_synthetic_cosine": float(np.nanmean(near_syn[m])) if len(syn_X) else None,
            "closer_to_synthetic": float(100 * np.mean(near_syn[m] > near_real[m])) if len(syn_X) else None,
            "mean_words": float(length[m].mean()),
            "labels": dict(Counter(np.asarray(test_labels)[m].tolist())),
        }
    return out
