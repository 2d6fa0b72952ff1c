"""Generator → (filters) → store: one generation run written to a run directory.

Records are streamed to ``synthetic.jsonl.partial`` in batches and the file is renamed to
``synthetic.jsonl`` only when the requested count is complete, so a crashed run never leaves an
output that looks finished. Filters slot in between generation and storage (see DESIGN.md).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from .data.dataset import TextDataset
from .generators.base import Generator
from .store import RunDir, append_jsonl, config_hash, write_atomic


def write_generation_run(out: str | Path, generator: Generator, seed_set: TextDataset, n: int, *, seed: int, source: str) -> Path:
    """Fit ``generator`` on ``seed_set``, generate ``n`` records into ``out``; returns the JSONL path."""
    import yaml

    run = RunDir(out).create()
    config = {"generator": generator.name, "params": generator.get_params(), "n": n, "seed": seed, "source": source}
    write_atomic(run.file("config.yaml"), yaml.safe_dump(config, sort_keys=False))
    t0 = time.perf_counter()
    generator.fit(seed_set.examples())
    final = run.file("synthetic.jsonl")
    partial = run.file("synthetic.jsonl.partial")
    partial.unlink(missing_ok=True)
    counts: Counter[str] = Counter()
    for batch in generator.generate(n):
        append_jsonl(partial, (r.to_dict() for r in batch))
        counts.update(r.label for r in batch)
    partial.replace(final)
    run.write_manifest(
        command=f"generate {generator.name}",
        status="complete",
        config=config,
        config_hash=config_hash(config),
        seeds={"seed": seed},
        seed_set={"n": len(seed_set), "counts": seed_set.counts(), "sha256": seed_set.content_hash(), "source": source},
        counts={"synthetic": sum(counts.values()), "per_label": dict(sorted(counts.items()))},
        seconds=round(time.perf_counter() - t0, 3),
    )
    return final
