"""Low-resource subsets: k examples per class, or explicit per-class counts, seeded.

Each class draws from its own random stream seeded by ``(seed, class index)``, so a subset of one
class does not change when another class's count changes (useful for imbalance studies), and the
same ``(dataset, k, seed)`` always gives the same subset on any machine.
"""

from __future__ import annotations

import numbers
from typing import Mapping

import numpy as np

from ..errors import DataError
from .dataset import TextDataset


def subsample_counts(data: TextDataset, counts: Mapping[str, int], seed: int) -> TextDataset:
    """Draw ``counts[label]`` examples of each label without replacement."""
    unknown = [lab for lab in counts if lab not in data.label_set]
    if unknown:
        raise DataError(
            f"{data.name}: label(s) {unknown} in the requested counts are not in the label set "
            f"[{', '.join(data.label_set.names)}]; expected names from that set; fix: use those label names."
        )
    bad = {lab: c for lab, c in counts.items() if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0}
    if bad:
        lab, c = next(iter(bad.items()))
        raise DataError(
            f"{data.name}: count for class {lab!r} is {c!r}; expected an int >= 0; fix: give a whole number of examples."
        )
    if sum(1 for c in counts.values() if c > 0) < 2:
        raise DataError(
            f"{data.name}: the requested counts {dict(counts)} select fewer than two classes; "
            f"expected at least two classes with count > 0 to train a classifier; "
            f"fix: give a count > 0 for at least two labels."
        )
    by_label: dict[str, list[int]] = {lab: [] for lab in data.label_set.names}
    for i, lab in enumerate(data.labels):
        by_label[lab].append(i)
    chosen: list[int] = []
    for li, lab in enumerate(data.label_set.names):
        want = int(counts.get(lab, 0))
        have = len(by_label[lab])
        if want > have:
            raise DataError(
                f"{data.name}: class {lab!r} has {have} examples; expected at least {want} to draw a subset "
                f"of that size; fix: lower k (or the count for {lab!r}) or add examples of {lab!r}."
            )
        rng = np.random.default_rng([seed, li])
        chosen.extend(by_label[lab][j] for j in rng.choice(have, size=want, replace=False))
    return data.subset(sorted(chosen), name=f"{data.name}[seed={seed}]")


def subsample_per_class(data: TextDataset, k: int, seed: int) -> TextDataset:
    """A stratified subset with exactly ``k`` examples of every class."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise DataError(f"The 'k' parameter of subsample_per_class must be an int >= 1; got {k!r} instead.")
    if len(data.label_set) < 2:
        raise DataError(
            f"{data.name}: a single class; expected at least two classes to train a classifier; "
            f"fix: add examples of another class."
        )
    return subsample_counts(data, {lab: int(k) for lab in data.label_set.names}, seed)
