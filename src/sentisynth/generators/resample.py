"""Random oversampling: copies of real seed examples, as a generator.

The classic imbalance fix (duplicate minority examples) adds no new content, so it is the control
that tells whether synthetic data helps an imbalanced seed set by *rebalancing* it or by adding
*coverage*: with ``allocation: rebalance`` both fill the same deficit, and only the synthetic
records can bring words and meanings the seed set lacks.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from .base import Generator, register_generator


@register_generator("resample")
class RandomOversampler(Generator):
    """Draw seed examples of each label uniformly with replacement (``random_state`` seeds the draw)."""

    seed_use = "learns"  # trains on (or copies) every seed example

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, seed_examples: Sequence[Example]) -> "RandomOversampler":
        self.pool_: dict[str, list[Example]] = {}
        for e in seed_examples:
            if e.text is None:
                raise ConfigError("RandomOversampler copies texts; got a seed example with only an embedding.")
            self.pool_.setdefault(e.label, []).append(e)
        if not self.pool_:
            raise ConfigError("RandomOversampler needs seed examples to copy; got none.")
        self.labels_ = sorted(self.pool_)
        return self

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        quota = self._quota(n, labels)
        rng = np.random.default_rng(self.random_state)
        out = []
        for lab, want in quota.items():
            pool = self.pool_[lab]
            for i in rng.integers(0, len(pool), size=want):
                out.append(SyntheticExample(text=pool[i].text, label=lab, generator=self.name, meta={"copy_of": int(i)}))
        yield out
