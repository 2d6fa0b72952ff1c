"""Diversity filter: exact duplicates, near duplicates, and near-copies of the seed examples.

Four checks, cheapest first, each of which can be switched off:

- exact duplicates after normalisation (case, punctuation and spacing ignored);
- near duplicates by MinHash (datasketch LSH over character 5-gram shingles, Jaccard threshold):
  catches the same sentence with a word swapped;
- near duplicates by embedding cosine (sentence encoder): catches paraphrases;
- near-copies of seed examples (either of the two near-duplicate tests against the seed set): a
  generator that parrots its few-shot examples adds nothing but over-weights them.

The first record of a group is kept; the filter remembers what it kept, so duplicates across
``apply`` calls (batches of one run) are caught too.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, ResourceError
from ..records import Example, SyntheticExample
from .base import Filter, register_filter, rejection, unit_embeddings


def normalize(text: str) -> str:
    from ..generators.hierarchical import normalize as _normalize

    return _normalize(text)


def shingles(text: str, k: int = 5) -> set[bytes]:
    t = normalize(text)
    return {t[i : i + k].encode("utf-8") for i in range(max(1, len(t) - k + 1))}


@register_filter("diversity")
class DiversityFilter(Filter):
    """Reject duplicates, near duplicates and near-copies of seed examples.

    Parameters
    ----------
    exact : reject normalised exact duplicates.
    minhash_threshold : estimated Jaccard similarity of character 5-gram sets at or above which a
        record is a near duplicate (``None``: off).
    embedding_threshold : cosine similarity at or above which a record is a paraphrase of a kept
        one (``None``: off).
    seed_threshold : the cosine (and MinHash) threshold for near-copies of seed examples
        (``None``: off).
    encoder : sentence encoder for the cosine checks.
    num_perm : MinHash permutations.
    random_state : MinHash seed.
    """

    def __init__(
        self,
        exact: bool = True,
        minhash_threshold: float | None = 0.8,
        embedding_threshold: float | None = 0.95,
        seed_threshold: float | None = 0.9,
        encoder: str = "all-MiniLM-L6-v2",
        num_perm: int = 128,
        random_state: int = 0,
    ):
        self.exact = exact
        self.minhash_threshold = minhash_threshold
        self.embedding_threshold = embedding_threshold
        self.seed_threshold = seed_threshold
        self.encoder = encoder
        self.num_perm = num_perm
        self.random_state = random_state

    def fit(self, seed_examples: Sequence[Example] = (), eval_texts: Sequence[str] = ()) -> "DiversityFilter":
        for name in ("minhash_threshold", "embedding_threshold", "seed_threshold"):
            v = getattr(self, name)
            if v is not None and not (0.0 < float(v) <= 1.0):
                raise ConfigError(f"The '{name}' parameter of DiversityFilter must be in (0, 1] or null; got {v!r}.")
        self.seen_: set[str] = set()
        self.kept_vecs_: list[np.ndarray] = []
        self.lsh_ = self._new_lsh(self.minhash_threshold)
        self.minhashes_: dict[str, Any] = {}
        self.n_kept_ = 0
        seed_texts = [e.text for e in seed_examples if e.text]
        self.seed_lsh_ = None
        self.seed_vecs_ = None
        if self.seed_threshold is not None and seed_texts:
            self.seed_lsh_ = self._new_lsh(self.seed_threshold)
            for i, t in enumerate(seed_texts):
                self.minhashes_[f"s{i}"] = m = self._minhash(t)
                self.seed_lsh_.insert(f"s{i}", m)
            self.seed_vecs_ = self._embed(seed_texts)
        self.fitted_ = True
        return self

    # ------------------------------------------------------------------------------ helpers

    def _new_lsh(self, threshold: float | None):
        if threshold is None:
            return None
        try:
            from datasketch import MinHashLSH
        except ImportError as e:
            raise ResourceError("the diversity filter's MinHash check needs datasketch; fix: pip install 'datasketch==2.0.0' "
                                "or set minhash_threshold and seed_threshold to null.") from e
        return MinHashLSH(threshold=float(threshold), num_perm=self.num_perm)

    def _lsh_match(self, lsh, m) -> float | None:
        """The highest estimated Jaccard among LSH candidates, or None when there is none."""
        hits = lsh.query(m) if lsh is not None else []
        return round(max(m.jaccard(self.minhashes_[h]) for h in hits), 4) if hits else None

    def _minhash(self, text: str):
        from datasketch import MinHash

        m = MinHash(num_perm=self.num_perm, seed=self.random_state)
        m.update_batch(list(shingles(text)))
        return m

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return unit_embeddings(self, texts)

    # ------------------------------------------------------------------------------ apply

    def apply(self, records: Sequence[SyntheticExample]) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        self._check_fitted()
        use_vecs = self.embedding_threshold is not None or self.seed_vecs_ is not None
        texts = [r.text or "" for r in records]
        vecs = self._embed(texts) if use_vecs and records else None
        kept, rejected = [], []
        use_minhash = self.seed_lsh_ is not None or self.lsh_ is not None
        for i, rec in enumerate(records):
            key = normalize(rec.text or "")
            m = self._minhash(rec.text or "") if use_minhash else None
            why = self._reason(key, m, vecs[i] if vecs is not None else None)
            if why is not None:
                check, score, threshold, reason = why
                rejected.append(rejection(rec, self.name, score, threshold, f"{check}: {reason}"))
                continue
            kept.append(rec)
            self.seen_.add(key)
            if self.lsh_ is not None:
                self.minhashes_[f"k{self.n_kept_}"] = m
                self.lsh_.insert(f"k{self.n_kept_}", m)
            if vecs is not None:
                self.kept_vecs_.append(vecs[i])
            self.n_kept_ += 1
        return kept, rejected

    def _reason(self, key: str, m: Any, vec: np.ndarray | None) -> tuple[str, Any, Any, str] | None:
        """Why a record (normalised text, MinHash, unit embedding) is rejected, or None to keep it."""
        if self.exact and key in self.seen_:
            return "exact", 1.0, 1.0, "same text as an earlier record (after normalisation)"
        j = self._lsh_match(self.seed_lsh_, m)
        if j is not None:
            return "seed_copy", j, self.seed_threshold, f"MinHash Jaccard ~{j:.2f} (LSH threshold {self.seed_threshold}) with a seed example"
        if vec is not None and self.seed_vecs_ is not None and len(self.seed_vecs_):
            sim = float((self.seed_vecs_ @ vec).max())
            if sim >= self.seed_threshold:
                return "seed_copy", round(sim, 4), self.seed_threshold, f"cosine {sim:.3f} >= {self.seed_threshold} with a seed example"
        j = self._lsh_match(self.lsh_, m)
        if j is not None:
            return "near_duplicate", j, self.minhash_threshold, f"MinHash Jaccard ~{j:.2f} (LSH threshold {self.minhash_threshold}) with a kept record"
        if vec is not None and self.embedding_threshold is not None and self.kept_vecs_:
            sim = float((np.asarray(self.kept_vecs_) @ vec).max())
            if sim >= self.embedding_threshold:
                return "paraphrase", round(sim, 4), self.embedding_threshold, f"cosine {sim:.3f} >= {self.embedding_threshold} with a kept record"
        return None
