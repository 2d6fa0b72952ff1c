"""Length filter: drop fragments and run-ons, in words (what a reader sees, tokenizer-free)."""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import ConfigError
from ..records import SyntheticExample
from .base import Filter, register_filter


@register_filter("length")
class LengthFilter(Filter):
    """Keep records with ``min_words <= words <= max_words`` (``max_words=None``: no upper bound)."""

    per_record = True  # a record's fate depends on it alone: batches can be scored anywhere

    def __init__(self, min_words: int = 2, max_words: int | None = 120):
        self.min_words = min_words
        self.max_words = max_words

    def fit(self, seed_examples=(), eval_texts=()) -> "LengthFilter":
        if not isinstance(self.min_words, int) or self.min_words < 0:
            raise ConfigError(f"The 'min_words' parameter of LengthFilter must be an int >= 0; got {self.min_words!r}.")
        if self.max_words is not None and (not isinstance(self.max_words, int) or self.max_words < self.min_words):
            raise ConfigError(f"The 'max_words' parameter of LengthFilter must be an int >= min_words ({self.min_words}) or null; got {self.max_words!r}.")
        return super().fit(seed_examples, eval_texts)

    def apply(self, records: Sequence[SyntheticExample]) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        self._check_fitted()
        words = [len((r.text or "").split()) for r in records]
        hi = self.max_words if self.max_words is not None else float("inf")
        keep = [self.min_words <= w <= hi for w in words]
        return self._split(records, words, keep, [self.min_words, self.max_words],
                           lambda r, w: f"{w} words, outside [{self.min_words}, {self.max_words}]")
