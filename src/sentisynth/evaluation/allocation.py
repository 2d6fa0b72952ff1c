"""How many synthetic records each label gets, and which ones: shared by the experiment grid and by
``sentisynth augment``'s cross-validation, so both measure synthetic data chosen the same way."""

from __future__ import annotations

import math
from typing import Sequence

from ..records import SyntheticExample


def records_to_generate(n_real: int, n_labels: int, ratios: Sequence[float], oversample: float) -> int:
    """Balanced records to generate for ``n_real`` real examples: enough for the largest ratio after
    filtering rejects up to 1 - 1/oversample of them (the main job and the grid both size draws so)."""
    return math.ceil(max(ratios) * oversample * n_real / n_labels) * n_labels


def synthetic_need(allocation: str, ratio: float, counts: dict[str, int], labels: Sequence[str]) -> dict[str, int]:
    """Synthetic records per label for ``ratio`` x the real count under ``allocation``: ``balanced``
    (equal per label), ``proportional`` (the real class proportions) or ``rebalance`` (each label's
    deficit against the largest class); see ConditionConfig.allocation."""
    n_real = sum(counts.values())
    if allocation == "proportional":
        return {lab: math.ceil(ratio * counts.get(lab, 0)) for lab in labels}
    if allocation == "rebalance":
        top = max(counts.values())
        return {lab: math.ceil(ratio * (top - counts.get(lab, 0))) for lab in labels}
    return {lab: math.ceil(ratio * n_real / len(labels)) for lab in labels}


def per_label_prefix(records: Sequence[SyntheticExample], need: dict[str, int]) -> list[SyntheticExample]:
    """The first ``need[label]`` records of each label, in the given order (so larger ratios contain the
    smaller ones); labels not in ``need`` are skipped."""
    taken: dict[str, int] = {}
    out = []
    for r in records:
        if taken.get(r.label, 0) < need.get(r.label, 0):
            taken[r.label] = taken.get(r.label, 0) + 1
            out.append(r)
    return out
