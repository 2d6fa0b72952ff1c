"""Contamination filter: no synthetic copy of an evaluation sentence may reach training.

An LLM that memorised SST-2 can "generate" a test sentence verbatim; training on it inflates the
score that is supposed to prove synthetic data helped. The filter indexes the evaluation texts
(given to ``fit``, and/or loaded from a named dataset's splits) and rejects a record when

- it shares a word ``ngram``-gram with an evaluation text (after normalisation), or, for a record
  shorter than ``ngram`` words, it equals an evaluation text; or
- its sentence embedding has cosine >= ``embedding_threshold`` with an evaluation text.

How many were found is always reported (``found_`` and the chain's per-filter counts), also when
the answer is zero.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from .base import Filter, register_filter, rejection, unit_embeddings
from .diversity import normalize


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    return ngrams_of(normalize(text).split(), n)


def ngrams_of(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@register_filter("contamination")
class ContaminationFilter(Filter):
    """Reject records that copy or closely paraphrase evaluation data.

    Parameters
    ----------
    dataset : a dataset name (built-in, ``hf:ID``) whose ``splits`` are the evaluation data;
        ``None`` to rely only on the texts passed to ``fit``.
    splits : which splits of ``dataset`` to protect (default dev and test).
    ngram : length in words of the shared n-gram that counts as a copy.
    embedding_threshold : cosine at or above which a record is a paraphrase (``None``: off).
    encoder : sentence encoder for the cosine check.
    """

    per_record = True  # a record's fate depends on it alone: batches can be scored anywhere

    needs_eval_texts = True

    def __init__(
        self,
        dataset: str | None = None,
        splits: Sequence[str] = ("dev", "test"),
        ngram: int = 8,
        embedding_threshold: float | None = 0.95,
        encoder: str = "all-MiniLM-L6-v2",
    ):
        self.dataset = dataset
        self.splits = splits
        self.ngram = ngram
        self.embedding_threshold = embedding_threshold
        self.encoder = encoder

    def fit(self, seed_examples: Sequence[Example] = (), eval_texts: Sequence[str] = ()) -> "ContaminationFilter":
        if not isinstance(self.ngram, int) or self.ngram < 3:
            raise ConfigError(f"The 'ngram' parameter of ContaminationFilter must be an int >= 3; got {self.ngram!r}.")
        texts = list(eval_texts)
        if self.dataset:
            from ..data import load_splits

            ds = load_splits(self.dataset)
            for split in self.splits:
                part = ds.split(split, where="ContaminationFilter")
                if part is not None:  # a dataset without a dev split protects what it has
                    texts.extend(part.texts)
        if not texts:
            raise ConfigError("ContaminationFilter has no evaluation texts; expected a 'dataset' or eval texts passed to fit(); "
                              "fix: set dataset: NAME in the filter's params.")
        self.n_eval_ = len(texts)
        self.grams_: set[tuple[str, ...]] = set()
        self.short_: set[str] = set()
        for t in texts:
            norm = normalize(t)
            self.grams_ |= ngrams_of(norm.split(), self.ngram)
            self.short_.add(norm)
        self.vecs_ = self._embed(texts) if self.embedding_threshold is not None else None
        self.found_ = 0
        self.fitted_ = True
        return self

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return unit_embeddings(self, texts)

    def apply(self, records: Sequence[SyntheticExample]) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        self._check_fitted()
        texts = [r.text or "" for r in records]
        sims = (self._embed(texts) @ self.vecs_.T).max(axis=1) if self.vecs_ is not None and records else None
        kept, rejected = [], []
        for i, rec in enumerate(records):
            norm = normalize(texts[i])
            words = norm.split()
            if len(words) >= self.ngram:
                shared = len(ngrams_of(words, self.ngram) & self.grams_)
                copied = shared > 0
                why = f"shares {shared} {self.ngram}-word n-gram(s) with the evaluation data"
            else:
                copied = norm in self.short_
                shared = int(copied)
                why = "equals an evaluation text"
            if copied:
                rejected.append(rejection(rec, self.name, shared, 1, why))
            elif sims is not None and sims[i] >= self.embedding_threshold:
                rejected.append(rejection(rec, self.name, round(float(sims[i]), 4), self.embedding_threshold,
                                          f"cosine {float(sims[i]):.3f} >= {self.embedding_threshold} with an evaluation text"))
            else:
                kept.append(rec)
        self.found_ += len(rejected)
        return kept, rejected
