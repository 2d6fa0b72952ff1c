"""In-memory labeled datasets and their splits.

A :class:`TextDataset` is parallel lists of texts and label names plus the :class:`LabelSet` that
fixes label order. It is deliberately small: loaders build it, subsampling slices it, the harness
reads it. Content hashes make every figure traceable to the exact data it came from.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..records import Example, LabelSet


@dataclass
class TextDataset:
    """Texts and label names, aligned by position."""

    texts: list[str]
    labels: list[str]
    label_set: LabelSet
    name: str = "data"

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels.")

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        """Examples per label, in label-set order (labels with no example show 0)."""
        c = Counter(self.labels)
        return {name: c.get(name, 0) for name in self.label_set.names}

    def subset(self, indices: Sequence[int], name: str | None = None) -> "TextDataset":
        return TextDataset(
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            label_set=self.label_set,
            name=name or self.name,
        )

    def examples(self) -> list[Example]:
        return [Example(text=t, label=y) for t, y in zip(self.texts, self.labels)]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with columns ``text`` and ``label`` (label names)."""
        import pandas as pd

        return pd.DataFrame({"text": list(self.texts), "label": list(self.labels)})

    def to_hf(self) -> Any:
        """A Hugging Face ``datasets.Dataset`` with columns ``text`` and ``label`` (needs ``datasets``)."""
        from datasets import Dataset

        return Dataset.from_dict({"text": list(self.texts), "label": list(self.labels)})

    def content_hash(self) -> str:
        """sha256 over (label, text) pairs in order: identifies exactly this data."""
        h = hashlib.sha256()
        for t, y in zip(self.texts, self.labels):
            h.update(y.encode("utf-8") + b"\x1f" + t.encode("utf-8") + b"\x1e")
        return h.hexdigest()


@dataclass
class DatasetSplits:
    """A named dataset with fixed train/test (and optional dev) splits."""

    name: str
    train: TextDataset
    test: TextDataset
    dev: TextDataset | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label_set(self) -> LabelSet:
        return self.train.label_set

    def split(self, name: str, where: str = "split") -> TextDataset | None:
        """The ``train``/``dev``/``test`` split by name (``None`` when this dataset has no such split);
        ConfigError naming ``where`` for any other name."""
        if name not in ("train", "dev", "test"):
            from ..errors import ConfigError

            raise ConfigError(f"{where}: unknown split {name!r}; expected train, dev or test.")
        return getattr(self, name)

    def summary(self) -> dict[str, Any]:
        """Sizes and per-label counts of each split, plus provenance (for manifests and listings)."""
        splits = {"train": self.train, "test": self.test}
        if self.dev is not None:
            splits["dev"] = self.dev
        return {
            "name": self.name,
            "labels": list(self.label_set.names),
            "splits": {k: {"n": len(v), "counts": v.counts(), "sha256": v.content_hash()} for k, v in splits.items()},
            **self.info,
        }
