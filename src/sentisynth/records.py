"""The record types that travel the whole pipeline.

One record type goes from loading, through generation and filtering, to the evaluator:
:class:`Example` for real data and :class:`SyntheticExample` for generated data. A record carries
either text or an embedding (the GAN emits embeddings), a label *name*, and free-form provenance in
``meta``. :class:`LabelSet` fixes the order of labels so ids are stable across runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np


@dataclass
class Example:
    """A labeled example: ``text`` or ``embedding`` (or both), and a label name."""

    text: str | None
    label: str
    meta: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.text is None and self.embedding is None:
            raise ValueError("An Example needs a text or an embedding; got neither.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (embeddings as lists)."""
        d = asdict(self)
        if self.embedding is not None:
            d["embedding"] = np.asarray(self.embedding, dtype=float).tolist()
        else:
            d.pop("embedding")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Example":
        d = dict(d)
        if d.get("embedding") is not None:
            d["embedding"] = np.asarray(d["embedding"], dtype=np.float32)
        return cls(**d)


@dataclass
class SyntheticExample(Example):
    """A generated example; ``generator`` names what made it, ``meta`` holds provenance and scores."""

    generator: str = ""


@dataclass(frozen=True)
class LabelSet:
    """Ordered label names with optional human descriptions (used in prompts and reports)."""

    names: tuple[str, ...]
    descriptions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_labels(cls, labels: Iterable[str], descriptions: dict[str, str] | None = None) -> "LabelSet":
        names = tuple(sorted(set(labels), key=_natural_key))
        desc = tuple((k, v) for k, v in (descriptions or {}).items() if k in names)
        return cls(names=names, descriptions=desc)

    def description(self, name: str) -> str | None:
        return dict(self.descriptions).get(name)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "descriptions": dict(self.descriptions)}


def _natural_key(s: str) -> tuple:
    """Sort "2" before "10" while still sorting words alphabetically."""
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def label_counts(examples: Sequence[Example]) -> dict[str, int]:
    """Number of examples per label, sorted by label name."""
    return dict(sorted(Counter(e.label for e in examples).items()))
