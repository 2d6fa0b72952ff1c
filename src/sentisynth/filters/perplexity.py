"""Perplexity filter: drop text a reference LM finds implausible (garbled, truncated, off-language).

The threshold is relative by default: the ``percentile``-th perplexity of the *seed set's own*
texts under the same model, so "too surprising" means "more surprising than nearly all real
examples of this task" — tweets and movie reviews get different cut-offs without tuning. An
absolute ``max_perplexity`` overrides it. ``min_perplexity`` (off by default) catches degenerate
repetition, which an LM finds too predictable.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from .base import Filter, register_filter


@register_filter("perplexity")
class PerplexityFilter(Filter):
    """Reject records whose perplexity under ``model`` is above the threshold.

    Parameters
    ----------
    model : reference causal LM (short name, GGUF path or hub id); default SmolLM2-135M.
    backend : ``transformers`` (batched scoring) or ``llamacpp``.
    backend_params : extra backend settings (``batch_size``, ``n_threads``...).
    percentile : the threshold as this percentile of the seed set's perplexities.
    max_perplexity : an absolute threshold instead (``None``: use ``percentile``).
    min_perplexity : reject records below this (``None``: off).
    """

    per_record = True  # a record's fate depends on it alone: batches can be scored anywhere

    def __init__(
        self,
        model: str = "smollm2-135m",
        backend: str = "transformers",
        backend_params: dict[str, Any] | None = None,
        percentile: float = 95.0,
        max_perplexity: float | None = None,
        min_perplexity: float | None = None,
    ):
        self.model = model
        self.backend = backend
        self.backend_params = backend_params
        self.percentile = percentile
        self.max_perplexity = max_perplexity
        self.min_perplexity = min_perplexity

    def _backend(self):
        if not hasattr(self, "backend_"):
            from ..backends.base import make_backend

            self.backend_ = make_backend(self.backend, model=self.model, **(self.backend_params or {})).load()
        return self.backend_

    def perplexities(self, texts: Sequence[str]) -> np.ndarray:
        """exp(mean negative token log-probability) per text (``inf`` for texts with no scored token)."""
        lps = self._backend().token_logprobs(list(texts))
        return np.asarray([math.exp(-sum(lp) / len(lp)) if lp else math.inf for lp in lps])

    def fit(self, seed_examples: Sequence[Example] = (), eval_texts: Sequence[str] = ()) -> "PerplexityFilter":
        if not 0 < float(self.percentile) <= 100:
            raise ConfigError(f"The 'percentile' parameter of PerplexityFilter must be in (0, 100]; got {self.percentile!r}.")
        if self.max_perplexity is not None:
            self.threshold_ = float(self.max_perplexity)
        else:
            seed_texts = [e.text for e in seed_examples if e.text]
            if len(seed_texts) < 2:
                raise ConfigError(f"PerplexityFilter needs seed texts to set its threshold (got {len(seed_texts)}); "
                                  "fix: pass the seed set to fit() or set max_perplexity.")
            self.seed_perplexities_ = self.perplexities(seed_texts)
            self.threshold_ = float(np.percentile(self.seed_perplexities_, self.percentile))
        self.fitted_ = True
        return self

    def apply(self, records: Sequence[SyntheticExample]) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        self._check_fitted()
        ppl = self.perplexities([r.text or "" for r in records]) if records else np.zeros(0)
        lo = self.min_perplexity if self.min_perplexity is not None else 0.0
        keep = [lo <= p <= self.threshold_ for p in ppl]
        return self._split(records, [round(float(p), 2) for p in ppl], keep, [self.min_perplexity, round(self.threshold_, 2)],
                           lambda r, p: f"perplexity {p:.1f} outside [{lo}, {self.threshold_:.1f}]")

    def close(self) -> None:
        """Release the model; a later use opens it again (so a closed filter is never half-usable)."""
        if hasattr(self, "backend_"):
            self.backend_.close()
            del self.backend_
