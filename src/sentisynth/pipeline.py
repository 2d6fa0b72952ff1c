"""Generator → (filters) → store: one generation run written to a run directory, resumably.

The one generate → store path: ``sentisynth generate``, the main job (``augment``), ``synthesize``
from Python and the experiment grid's draws all write their records through
:func:`write_generation_run`, and filter chains over a finished run through :func:`write_filter_run`;
each run's manifest says its ``kind``.

Records stream into ``synthetic.jsonl.partial`` in batches (append + fsync). Only when the
requested count is complete is the file renamed to ``synthetic.jsonl`` (and ``synthetic.parquet``
written), so a crashed run never leaves an output that looks finished.

Resume: generators are deterministic given their seed and their LLM-call cache, so a rerun of the
same config replays the same record stream. The records already in the partial file are skipped
(and checked to be the same records), and only the rest is appended: none lost, none duplicated.
A rerun with a *different* config starts the partial file over rather than mixing two configs.

Shardable generators (see :mod:`.generators.base`) run through an executor instead: their shards
go to the local process or to Ray workers, come back in order and are appended as they arrive,
so the driver holds one reorder window of records, never the dataset. On resume, shards wholly in
the partial file are skipped without being recomputed; the one a crash cut through is recomputed
and checked against what was written.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .data.dataset import TextDataset
from .errors import SentiSynthError
from .generators.base import Generator
from .store import RunDir, append_jsonl, config_hash, jsonable, jsonl_text, read_json, read_jsonl, repair_jsonl, write_atomic, write_config_yaml


class ResumeMismatch(SentiSynthError):
    """The records already written differ from what the same config generates now."""


def write_generation_run(
    out: str | Path,
    generator: Generator,
    seed_set: TextDataset | None,
    n: int,
    *,
    seed: int,
    source: str,
    progress: bool = False,
    executor: Any = None,
) -> Path:
    """Fit ``generator`` on ``seed_set``, generate ``n`` records into ``out``; returns the JSONL path.

    ``executor`` (``None``/``"local"``, ``"ray"``, or an executor object) runs the shards of a
    shardable generator; the records are the same whichever runs them.
    """
    from .distributed import make_executor

    created = not Path(out).exists()
    run = RunDir(out).create()
    config = {"generator": generator.name, "params": jsonable(generator.signature_params()), "n": n, "seed": seed, "source": source}
    chash = config_hash(config)
    final, partial = run.file("synthetic.jsonl"), run.file("synthetic.jsonl.partial")
    manifest_path = run.file("manifest.json")
    previous = read_json(manifest_path) if manifest_path.exists() else {}
    if previous.get("config_hash") == chash and previous.get("status") == "complete" and final.exists():
        return final
    if previous.get("config_hash") != chash:
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
    write_config_yaml(run.file("config.yaml"), config)
    run.write_manifest(kind="generation", command=f"generate {generator.name}", status="running", config=config, config_hash=chash,
                       seeds={"seed": seed})

    t0 = time.perf_counter()
    repair_jsonl(partial)
    executor = make_executor(executor)
    sharded = bool(getattr(generator, "shardable", False))
    existing = [] if sharded else [_content(r) for r in read_jsonl(partial)]
    examples = seed_set.examples() if seed_set is not None else []
    try:
        generator.fit(examples)
        with _progress(progress, n, "records") as bar:
            if sharded:
                position, counts, resumed = _append_shards(generator, examples, n, partial, executor, bar)
            else:
                position, counts = _append_stream(generator, n, partial, existing, bar)
                resumed = len(existing)
    except SentiSynthError as e:
        failures = getattr(generator, "failures_", [])
        if failures:  # the model's unusable answers are what the user needs to see: keep them
            write_atomic(run.file("failed_parses.jsonl"), jsonl_text(failures))
            run.write_manifest(status="failed", error=str(e))
        elif not previous and not existing and not any(True for _ in read_jsonl(partial)):
            _discard(run, created)  # a bad input found before the first record: leave nothing behind
        raise
    if hasattr(generator, "close"):
        generator.close()
    if position != n:
        raise ResumeMismatch(f"generator {generator.name!r} produced {position} records; expected {n}.")
    partial.replace(final)
    _write_parquet(final, run.file("synthetic.parquet"))
    report = generator.report() if hasattr(generator, "report") else {}
    failures = getattr(generator, "failures_", [])
    if failures:
        write_atomic(run.file("failed_parses.jsonl"), jsonl_text(failures))
    backend = getattr(generator, "backend_", None)
    run.write_manifest(
        status="complete",
        seed_set=({"n": len(seed_set), "counts": seed_set.counts(), "sha256": seed_set.content_hash(), "source": source}
                  if seed_set is not None else None),
        counts={"synthetic": sum(counts.values()), "per_label": dict(sorted(counts.items())), "resumed_from": resumed},
        executor=executor.describe() if sharded else {"name": "local", "reason": f"{generator.name} is not shardable"},
        generator_report=report,
        model=backend.identity() if backend is not None else None,
        seconds=round(time.perf_counter() - t0, 3),
    )
    return final


def _append_stream(generator: Generator, n: int, partial: Path, existing: list[Any], bar: Any) -> tuple[int, Counter[str]]:
    """Append the generator's records past the ``existing`` ones (checked to be the same) to ``partial``."""
    counts: Counter[str] = Counter()
    position = 0
    for batch in generator.generate(n):
        fresh = []
        for rec in batch:
            if position < len(existing):
                if _content(rec.to_dict()) != existing[position]:
                    raise ResumeMismatch(
                        f"{partial}: record {position + 1} differs from what this config generates now "
                        f"(the model or its cache changed); fix: delete {partial} to start over."
                    )
            else:
                fresh.append(rec)
            position += 1
            counts[rec.label] += 1
        if fresh:
            append_jsonl(partial, (r.to_dict() for r in fresh))
        bar(len(batch))
    return position, counts


def _append_shards(generator: Generator, examples: list[Any], n: int, partial: Path, executor: Any,
                   bar: Any) -> tuple[int, Counter[str], int]:
    """Run the generator's shards on ``executor`` and append them in order past what ``partial`` holds.

    Returns (records in the file, per-label counts, records found there before)."""
    resumed = sum(1 for _ in read_jsonl(partial))
    counts: Counter[str] = Counter()
    todo = []
    for shard in generator.plan(n):
        if shard.stop <= resumed:  # wholly written before: trusted (same config hash), not recomputed
            counts.update(label for label, _ in shard.positions())
            bar(len(shard))
        else:
            todo.append(shard)
    offset = todo[0].start if todo else resumed
    # Only the records of the shard a crash cut through are held, to check them against the recomputation.
    written = [_content(r) for i, r in enumerate(read_jsonl(partial)) if i >= offset]
    make_worker = functools.partial(_fitted_generator, generator.name, generator.get_params(), examples)
    for shard, batch in zip(todo, executor.map_with(make_worker, _generate_shard, todo, here=generator)):
        fresh = []
        for position, rec in enumerate(batch, start=shard.start):
            if position - offset < len(written):
                if _content(rec.to_dict()) != written[position - offset]:
                    raise ResumeMismatch(
                        f"{partial}: record {position + 1} differs from what this config generates now "
                        f"(the generator or its data changed); fix: delete {partial} to start over."
                    )
            else:
                fresh.append(rec)
            counts[rec.label] += 1
        if fresh:
            append_jsonl(partial, (r.to_dict() for r in fresh))
        bar(len(batch))
    return sum(counts.values()), counts, resumed


def _fitted_generator(name: str, params: dict[str, Any], examples: list[Any]) -> Generator:
    """A worker's copy of the generator, fitted on the same seed examples (runs once per worker)."""
    from .generators.base import make_generator

    return make_generator(name, **params).fit(examples)


def _generate_shard(generator: Generator, shard: Any) -> list[Any]:
    return generator.generate_shard(shard)


def _discard(run: RunDir, created: bool) -> None:
    """Remove what a run that failed before its first record wrote (the whole folder if it made it)."""
    import shutil

    if created:
        shutil.rmtree(run.path, ignore_errors=True)
        return
    for name in ("config.yaml", "manifest.json", "synthetic.jsonl.partial"):
        run.file(name).unlink(missing_ok=True)


def _content(record: dict[str, Any]) -> Any:
    """What identifies a record on resume: its text, or its embedding (float32 values) for the GAN."""
    if record.get("text") is not None:
        return record["text"]
    import numpy as np

    return np.asarray(record.get("embedding") or [], dtype=np.float32).tobytes()


def write_filter_run(
    source: str | Path,
    out: str | Path,
    chain: Any,
    seed_set: TextDataset | None,
    *,
    eval_texts: list[str] | None = None,
    filter_config: list[dict[str, Any]],
    seed: int,
    seed_source: str,
    batch_size: int = 64,
    progress: bool = False,
    executor: Any = None,
    close_filters: bool = True,
) -> Path:
    """Run a filter chain over a finished generation run (or a ``synthetic.jsonl``) into ``out``.

    ``close_filters=False`` leaves the chain's models loaded (the experiment grid refits one chain per
    condition for every cell).

    With a Ray ``executor``, the chain's leading per-record filters (teacher, perplexity, length,
    contamination) score batches on Ray workers, each fitting its own copy once; the filters from
    the first order-dependent one on (deduplication) run here on the batches as they come back in
    order — the same records kept and rejected, with the same reasons, as in one process.

    Writes ``synthetic.jsonl`` (kept) + Parquet, ``rejected.jsonl`` (record, filter, score,
    threshold, reason) and a manifest with per-filter, per-label counts and diversity metrics
    before and after. Records go through the chain in batches so expensive scores (LLM teacher)
    are cached on disk as they come: after a crash, a rerun reuses them and finishes. Outputs are
    renamed into place only when complete; a rerun of a completed config is a no-op.
    """
    from .analysis.diversity import diversity_report
    from .errors import DataError
    from .records import SyntheticExample
    from .store import file_sha256

    src = Path(source)
    src_file = src / "synthetic.jsonl" if src.is_dir() else src
    if not src_file.is_file():
        raise DataError(f"{src}: no synthetic.jsonl; expected a finished generation run or a JSONL of records; "
                        f"fix: run `sentisynth generate ... --out {src}` first.")
    records = [SyntheticExample.from_dict(r) for r in read_jsonl(src_file)]
    run = RunDir(out).create()
    config = {"command": "filter", "source": str(src_file), "source_sha256": file_sha256(src_file), "filters": filter_config,
              "seed": seed, "seed_set": seed_source}
    chash = config_hash(config)
    final, rejected_path, manifest_path = run.file("synthetic.jsonl"), run.file("rejected.jsonl"), run.file("manifest.json")
    previous = read_json(manifest_path) if manifest_path.exists() else {}
    if previous.get("config_hash") == chash and previous.get("status") == "complete" and final.exists():
        return final
    for stale in (final, rejected_path):
        stale.unlink(missing_ok=True)
    run.write_manifest(kind="filter", command="filter", status="running", config=config, config_hash=chash, seeds={"seed": seed})
    t0 = time.perf_counter()
    from .distributed import make_executor

    executor = make_executor(executor)
    examples = seed_set.examples() if seed_set is not None else []
    remote = chain.per_record_prefix() if executor.name != "local" else 0
    chain.fit(examples, eval_texts or [], start=remote)
    batches = [records[start : start + batch_size] for start in range(0, len(records), batch_size)]
    if remote:
        make_worker = functools.partial(_fitted_prefix, filter_config[:remote], examples, list(eval_texts or []))
        scored = executor.map_with(make_worker, _apply_prefix, batches)
    else:
        scored = ((batch, [], [], {}) for batch in batches)
    found_remote: Counter[int] = Counter()
    kept: list[Any] = []
    rejected: list[dict[str, Any]] = []
    with _progress(progress, len(records), "filtering") as bar:
        for batch, (k, r, counts, found) in zip(batches, scored):
            for position, c in enumerate(counts):
                chain.add_counts(position, c)
            found_remote.update(found)
            k, r2 = chain.apply(k, start=remote)
            kept.extend(k)
            rejected.extend(r + r2)
            bar(len(batch))
    for position, n_found in found_remote.items():
        chain.filters[position].found_ = n_found  # the workers' copies found them
    if close_filters:
        for f in chain.filters:
            if hasattr(f, "close"):
                f.close()
    write_atomic(rejected_path, jsonl_text(rejected))
    write_atomic(final, jsonl_text(r.to_dict() for r in kept))
    _write_parquet(final, run.file("synthetic.parquet"))
    found = {f.name: getattr(f, "found_", None) for f in chain.filters if hasattr(f, "found_")}
    run.write_manifest(
        status="complete",
        seed_set=({"n": len(seed_set), "counts": seed_set.counts(), "sha256": seed_set.content_hash(), "source": seed_source}
                  if seed_set is not None else None),
        counts={"input": len(records), "kept": len(kept), "rejected": len(rejected),
                "kept_per_label": dict(sorted(Counter(r.label for r in kept).items()))},
        filters=chain.report(),
        contamination_found=found or None,
        executor={**executor.describe(), "filters_on_workers": [f.name for f in chain.filters[:remote]]},
        diversity={"before": diversity_report([r.text for r in records if r.text], seed),
                   "after": diversity_report([r.text for r in kept if r.text], seed)},
        seconds=round(time.perf_counter() - t0, 3),
    )
    return final


def _fitted_prefix(filter_config: list[dict[str, Any]], examples: list[Any], eval_texts: list[str]) -> Any:
    """A worker's copy of the chain's per-record filters, fitted once on the same seed set."""
    from .filters.base import FilterChain

    return FilterChain.from_config(filter_config).fit(examples, eval_texts)


def _apply_prefix(chain: Any, batch: list[Any]) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Counter]], dict[int, int]]:
    """One batch through a worker's per-record filters: kept, rejected, this batch's counts per
    filter position, and what each filter with a ``found_`` count found in it."""
    chain.counts_ = {}
    for f in chain.filters:
        if hasattr(f, "found_"):
            f.found_ = 0
    kept, rejected = chain.apply(batch)
    empty = {"seen": Counter(), "rejected": Counter()}
    return (kept, rejected, [chain.counts_.get(key, empty) for key in chain.keys_],
            {i: f.found_ for i, f in enumerate(chain.filters) if hasattr(f, "found_")})


def _write_parquet(jsonl: Path, parquet: Path, chunk: int = 20_000) -> None:
    """A Parquet copy of the records (meta flattened to columns) for pandas/Arrow users.

    Written ``chunk`` records at a time, so memory does not grow with the run: a first pass reads
    each chunk's column types and unifies them (a column that is empty in one chunk and numbers in
    another becomes numbers), the second converts each chunk to that schema and appends it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def chunks():
        rows = []
        for r in read_jsonl(jsonl):
            rows.append({"text": r.get("text"), "label": r["label"], "generator": r.get("generator"),
                         **({"embedding": r["embedding"]} if r.get("embedding") is not None else {}),
                         **{f"meta.{k}": v for k, v in r.get("meta", {}).items()}})
            if len(rows) == chunk:
                yield pa.Table.from_pylist(rows)
                rows = []
        if rows or not chunk:
            yield pa.Table.from_pylist(rows)

    schemas = [t.schema for t in chunks()]
    schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
    tmp = parquet.with_suffix(".parquet.partial")
    with pq.ParquetWriter(tmp, schema) as writer:
        for table in chunks():
            columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
                       for f in schema]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    tmp.replace(parquet)


class _progress:
    """Progress over records (bars in a terminal, periodic lines in a log), or nothing."""

    def __init__(self, enabled: bool, total: int, name: str = "records"):
        self.enabled, self.total, self.name = enabled, total, name

    def __enter__(self):
        from .progress import Progress

        self.progress = Progress(self.enabled)
        return self.progress.task(self.name, self.total)[0]

    def __exit__(self, *exc):
        self.progress.close()
        return False


__all__ = ["write_generation_run", "ResumeMismatch"]
