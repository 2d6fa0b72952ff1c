"""The filter protocol, the registry and the chain that runs filters in order.

A filter's ``__init__`` only stores keyword arguments; ``fit(seed_examples, eval_texts=())``
learns what it needs from the real seed set only (its own perplexities, a seed classifier) — the
evaluation texts are given to the contamination filter and nothing else; ``apply(records)``
returns ``(kept, rejected)`` where every rejected entry carries the record, the filter's name,
the score, the threshold and a one-line reason. Nothing is ever silently dropped.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, ClassVar, Sequence

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from ..registry import Registry, constructor_params

FILTERS: Registry["Filter"] = Registry("filter")
register_filter = FILTERS.register


def rejection(record: SyntheticExample, filter_name: str, score: Any, threshold: Any, reason: str) -> dict[str, Any]:
    """One line of ``rejected.jsonl``."""
    return {"filter": filter_name, "score": score, "threshold": threshold, "reason": reason, "record": record.to_dict()}


class Filter:
    """Base class: parameters, fitted check, and the score-and-threshold split most filters use."""

    name: ClassVar[str] = "base"
    #: True when ``fit`` needs the evaluation texts (contamination); the chain passes them only then.
    needs_eval_texts: ClassVar[bool] = False
    #: True when ``apply`` decides each record on its own (no state carried between records or
    #: batches), so batches may be scored in parallel on other workers (``--executor ray``);
    #: False (deduplication) means the filter must see every record, in order, in one place.
    per_record: ClassVar[bool] = False

    def get_params(self) -> dict[str, Any]:
        return constructor_params(self)

    def fit(self, seed_examples: Sequence[Example] = (), eval_texts: Sequence[str] = ()) -> "Filter":
        self.fitted_ = True
        return self

    def apply(self, records: Sequence[SyntheticExample]) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        raise NotImplementedError  # pragma: no cover - abstract

    def fit_report(self) -> dict[str, Any]:
        """What ``fit`` learned that a reader of the manifest should see (a threshold, a calibration); {} if nothing."""
        return {}

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise ConfigError(f"{type(self).__name__} is not fitted; call fit(seed_examples) before apply(records).")

    def _split(self, records: Sequence[SyntheticExample], scores: Sequence[Any], keep: Sequence[bool],
               threshold: Any, reason: Callable[[SyntheticExample, Any], str]):
        kept, rejected = [], []
        for rec, score, ok in zip(records, scores, keep):
            if ok:
                kept.append(rec)
            else:
                rejected.append(rejection(rec, self.name, score, threshold, reason(rec, score)))
        return kept, rejected


def unit_embeddings(owner: Any, texts: Sequence[str]) -> Any:
    """L2-normalised sentence embeddings of ``texts`` with ``owner.encoder`` (loaded once, as
    ``owner.encoder_``), so cosine similarity is a dot product."""
    import numpy as np

    from ..backends.encoders import make_encoder

    if not hasattr(owner, "encoder_"):
        owner.encoder_ = make_encoder(owner.encoder)
    v = np.asarray(owner.encoder_.encode(list(texts)), dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def make_filter(name: str, **params: Any) -> Filter:
    """Instantiate a registered filter by name, with a clear error for unknown names/params."""
    from . import contamination, diversity, length, perplexity, teacher  # noqa: F401  (registers built-in filters)

    return FILTERS.make(name, **params)


def filter_names() -> list[str]:
    from . import contamination, diversity, length, perplexity, teacher  # noqa: F401

    return FILTERS.names()


class FilterChain:
    """Filters applied in order; counts what each one saw, kept and rejected, per label."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)

    @classmethod
    def from_config(cls, specs: Sequence[dict[str, Any]] | None) -> "FilterChain":
        """``[{name: teacher, params: {...}}, ...]`` (the YAML shape) → a chain."""
        filters = []
        for i, spec in enumerate(specs or []):
            if not isinstance(spec, dict) or "name" not in spec or set(spec) - {"name", "params"}:
                raise ConfigError(f"filter #{i + 1}: expected {{name: ..., params: {{...}}}}; got {spec!r}.")
            filters.append(make_filter(spec["name"], **(spec.get("params") or {})))
        return cls(filters)

    def fit(self, seed_examples: Sequence[Example] = (), eval_texts: Sequence[str] = (), start: int = 0) -> "FilterChain":
        """Fit the filters from position ``start`` on (the ones before run on workers, fitted there)."""
        for f in self.filters[start:]:
            f.fit(seed_examples, eval_texts if f.needs_eval_texts else ())
        names = [f.name for f in self.filters]
        # report keys: the filter's name, numbered when a chain uses one filter twice
        self.keys_ = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
        self.counts_: dict[str, dict[str, Any]] = {}
        return self

    def apply(self, records: Sequence[SyntheticExample], start: int = 0) -> tuple[list[SyntheticExample], list[dict[str, Any]]]:
        """Run ``records`` through the filters from position ``start`` on: (kept, rejected entries)."""
        kept, rejected = list(records), []
        for key, f in zip(self.keys_[start:], self.filters[start:]):
            seen = Counter(r.label for r in kept)
            kept, out = f.apply(kept)
            c = self.counts_.setdefault(key, {"seen": Counter(), "rejected": Counter()})
            c["seen"].update(seen)
            c["rejected"].update(r["record"]["label"] for r in out)
            rejected.extend(out)
        return kept, rejected

    def per_record_prefix(self) -> int:
        """How many leading filters decide record by record (they can run on any worker)."""
        n = 0
        while n < len(self.filters) and self.filters[n].per_record:
            n += 1
        return n

    def add_counts(self, position: int, counts: dict[str, Counter]) -> None:
        """Merge the seen/rejected counts a worker's copy of filter ``position`` made into this chain's report."""
        c = self.counts_.setdefault(self.keys_[position], {"seen": Counter(), "rejected": Counter()})
        c["seen"].update(counts["seen"])
        c["rejected"].update(counts["rejected"])

    def report(self) -> dict[str, Any]:
        """Per filter: records seen and rejected, in total and per label (for the manifest)."""
        fitted = {key: f.fit_report() for key, f in zip(getattr(self, "keys_", []), self.filters)}
        return {name: {"seen": sum(c["seen"].values()), "rejected": sum(c["rejected"].values()),
                       "seen_per_label": dict(c["seen"]), "rejected_per_label": dict(c["rejected"]),
                       **fitted.get(name, {})}
                for name, c in getattr(self, "counts_", {}).items()}
