"""Records generated earlier, replayed as a generator.

LLM generation is slow and does not depend on the few-shot subset when it runs zero-shot, so an
experiment generates a pool once (``sentisynth generate … --out RUN``) and every grid cell draws
from it. Each draw is a seeded per-label sample, so seeds see different synthetic subsets (the
variance of the synthetic draw is part of the reported std, as it should be).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import ConfigError, DataError
from ..records import Example, SyntheticExample
from .base import Generator, register_generator


@register_generator("file")
class FileGenerator(Generator):
    """Serve records from ``path``: a ``synthetic.jsonl`` or a generation run directory, or a list
    of them (pooled in order)."""

    def __init__(self, path: str | list[str] = "", random_state: int = 0):
        self.path = path
        self.random_state = random_state

    def fit(self, seed_examples: Sequence[Example] = ()) -> "FileGenerator":
        from ..store import read_jsonl

        paths = [self.path] if isinstance(self.path, (str, Path)) else list(self.path or [])
        if not paths or not all(paths):
            raise ConfigError("The 'path' parameter of FileGenerator must name a synthetic.jsonl or a run directory "
                              f"(or a list of them, pooled); got {self.path!r}.")
        records = []
        for p in map(Path, paths):
            path = p / "synthetic.jsonl" if p.is_dir() else p
            if not path.is_file():
                raise DataError(f"{path}: no synthetic records found; expected a finished generation run; fix: run `sentisynth generate` first.")
            records.extend(SyntheticExample.from_dict(r) for r in read_jsonl(path))
        path = Path(paths[0]) if len(paths) == 1 else Path("+".join(map(str, paths)))
        self.pool_: dict[str, list[SyntheticExample]] = {}
        for r in records:
            self.pool_.setdefault(r.label, []).append(r)
        wanted = {e.label for e in seed_examples}
        missing = sorted(wanted - set(self.pool_))
        if missing:
            raise DataError(f"{path}: no records for label(s) {missing}; expected every label of the seed set; fix: regenerate with those labels.")
        self.labels_ = sorted(wanted) if wanted else sorted(self.pool_)
        self.source_ = str(path)
        return self

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        quota = self._quota(n, labels)
        out: list[SyntheticExample] = []
        for lab, want in quota.items():
            pool = self.pool_.get(lab, [])
            if want > len(pool):
                raise DataError(
                    f"{self.source_}: {len(pool)} records of label {lab!r}; expected at least {want} for this ratio; "
                    f"fix: generate more records or use a smaller ratio."
                )
            rng = random.Random(f"{self.random_state}:{lab}")
            out.extend(rng.sample(pool, want))
        # Interleave labels so any prefix stays balanced.
        by_label = {lab: [r for r in out if r.label == lab] for lab in quota}
        merged = [r for group in zip(*by_label.values()) for r in group]
        merged += [r for lab in by_label for r in by_label[lab][min(map(len, by_label.values())):]]
        yield merged
