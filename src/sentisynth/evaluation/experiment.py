"""The experiment grid: datasets x k x seeds x conditions x classifiers, one result file per cell.

Shaped after SetFit's few-shot loop: every cell writes ``results.json`` atomically, and a rerun
skips cells whose result exists *for the same cell config* (so editing a condition's parameters
reruns exactly the cells it affects, never serves stale numbers). ``overwrite=True`` reruns all.
Synthetic data for (dataset, k, seed, condition) is generated once at the largest ratio and saved;
smaller ratios take a per-label prefix of it, so ratios are nested and comparisons are paired.

Layout under the run directory::

    config.yaml  manifest.json  summary.csv  summary.md
    synthetic/<dataset>/k<k>/seed<seed>/raw-<key>/   the generator's draw: a generation run (the same
                                                     resumable run `sentisynth generate` writes)
    synthetic/<dataset>/k<k>/seed<seed>/<condition>.filtering/   a filtered condition's filter run
                                                     (kept, rejected.jsonl with reasons, counts)
    synthetic/<dataset>/k<k>/seed<seed>/<condition>.jsonl (+ .meta.json): the records the condition's
                                                     cells train on (a per-label prefix per ratio)
    eval/<dataset>/<classifier>/k<k>/seed<seed>/<condition>@<ratio>.json
    eval/<dataset>/<classifier>/ceiling.json
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DatasetSplits, load_splits, subsample_counts, subsample_per_class
from ..errors import DataError
from ..records import Example, SyntheticExample, label_counts
from ..store import RunDir, config_hash, file_sha256, jsonable, jsonl_text, read_json, read_jsonl, write_atomic, write_config_yaml, write_json
from .allocation import per_label_prefix, records_to_generate, synthetic_need
from .classifiers import CLASSIFIERS, evaluate_predictions, make_classifier
from .config import ClassifierConfig, ConditionConfig, DatasetConfig, ExperimentConfig
from .stats import summarize, summary_markdown


@dataclass(frozen=True)
class Cell:
    dataset: str
    classifier: str
    condition: str
    kind: str
    k: int | None = None
    seed: int | None = None
    ratio: float | None = None

    def path(self, root: Path) -> Path:
        base = root / "eval" / self.dataset / self.classifier
        if self.kind == "ceiling":
            return base / "ceiling.json"
        tag = self.condition if self.kind == "real" else f"{self.condition}@{self.ratio:g}"
        return base / f"k{self.k}" / f"seed{self.seed}" / f"{tag}.json"


def _produces(generator: str | None) -> str | None:
    """What the named generator makes (``text`` or ``embedding``), asked of its class."""
    if generator is None:
        return None
    from ..generators.base import generator_class

    return generator_class(generator).produces


def _synthetic_path(root: Path, dataset: str, k: int, seed: int, condition: str) -> Path:
    return root / "synthetic" / dataset / f"k{k}" / f"seed{seed}" / f"{condition}.jsonl"


class Experiment:
    """Run (or resume) an experiment grid described by an :class:`ExperimentConfig`."""

    def __init__(self, config: ExperimentConfig, output_dir: str | Path | None = None, overwrite: bool = False,
                 progress: bool = True, executor: Any = None):
        self.config = config
        self.output_dir = output_dir
        self.overwrite = overwrite
        self.progress = progress
        self.executor = executor

    def _executor(self) -> Any:
        """The executor given to the constructor (``--executor``), else the config's ``executor``/``ray``."""
        from ..distributed import make_executor

        return make_executor(self.executor if self.executor is not None else self.config.executor_spec())

    # -- planning -----------------------------------------------------------------------------

    def cells(self) -> list[Cell]:
        c = self.config
        out: list[Cell] = []
        for ds in c.datasets:
            for clf in c.classifiers:
                for cond in c.conditions:
                    if cond.kind == "ceiling":
                        out.append(Cell(ds.name, clf.name, cond.name, cond.kind))
                        continue
                    for k in c.k:
                        for seed in c.seeds:
                            ratios = [None] if cond.kind == "real" else cond.ratios
                            out.extend(Cell(ds.name, clf.name, cond.name, cond.kind, k, seed, r) for r in ratios)
        return out

    def _cell_config(self, cell: Cell, clf: ClassifierConfig, cond: ConditionConfig) -> dict[str, Any]:
        ds = next(d for d in self.config.datasets if d.name == cell.dataset)
        return {
            "dataset": _dataset_key(ds),
            "classifier": clf.model_dump(),
            "condition": _condition_key(cond),
            "k": cell.k,
            "seed": cell.seed,
            "ratio": cell.ratio,
        }

    def _finished(self, result: dict[str, Any], cfg: dict[str, Any], cond: ConditionConfig, cell: Cell) -> bool:
        """A stored result counts when its config hash matches and (results written since this check
        exists) its generator ran with the parameters the generator has now."""
        if result.get("cell_config_hash") != config_hash(cfg):
            return False
        return "generator_params" not in result or result["generator_params"] == self._generator_params(cond, cell)

    def _generator(self, cond: ConditionConfig, cell: Cell) -> Any:
        """The condition's generator (one object per generator config, reused across cells) set to
        this cell's seed; ``None`` for conditions without a generator."""
        if not cond.generator:
            return None
        from ..generators.base import make_generator

        generators: dict[str, Any] = self.__dict__.setdefault("generators_", {})
        key = _generator_key(cond)
        if key not in generators:
            generators[key] = make_generator(cond.generator, **cond.params)
        gen = generators[key]
        if "random_state" in gen.get_params() and "random_state" not in cond.params:
            gen.random_state = cell.seed
        return gen

    def _generator_params(self, cond: ConditionConfig, cell: Cell) -> Any:
        """Every parameter the generator runs with, defaults included, in JSON form: stored with each
        result so a changed default reruns the cell instead of reusing a stale draw."""
        gen = self._generator(cond, cell)
        return jsonable(gen.get_params()) if gen is not None else None

    # -- running ------------------------------------------------------------------------------

    def run(self) -> Any:
        c = self.config
        root = Path(self.output_dir or c.output_dir or Path("runs") / c.name)
        t0 = time.perf_counter()
        # Everything that can fail on bad input is checked before the run directory is touched.
        splits = {d.name: load_splits(**d.load_options()) for d in c.datasets}
        for sp in splits.values():
            self._check_k(sp)
        encoders = self._shared_encoders()
        for cond in c.conditions:
            if cond.generator:
                from ..generators.base import make_generator

                make_generator(cond.generator, **cond.params)  # unknown generator / parameter → clear error
            if cond.filters:
                from ..filters.base import FilterChain

                FilterChain.from_config(cond.filters)  # unknown filter / parameter → clear error
        run = RunDir(root).create()
        write_config_yaml(run.file("config.yaml"), c.model_dump())
        run.write_manifest(
            kind="experiment",
            command="experiment",
            status="running",
            config=c.model_dump(),
            config_hash=config_hash(c.model_dump(exclude={"executor", "ray"})),  # where it ran is not what it is
            seeds=c.seeds,
            datasets={n: sp.summary() for n, sp in splits.items()},
            models={n: e.identity() for n, e in encoders.items()},
        )

        cells = self.cells()
        clfs = {x.name: x for x in c.classifiers}
        conds = {x.name: x for x in c.conditions}
        tests = {d.name: self._eval_split(splits[d.name], d.eval_split).examples() for d in c.datasets}
        counts = {"run": 0, "skipped": 0}
        timings: dict[str, float] = {}
        executor = self._executor()
        # The cells' classifiers train wherever the executor puts them (this process, or Ray actors
        # that load the encoders once); training sets are drawn here, lazily, and results are
        # written here in cell order — so a grid's results do not depend on the executor.
        make_worker = functools.partial(_CellWorker.from_names, sorted(encoders))
        submitted: deque = deque()

        def jobs():
            for cell in cells:
                clf_cfg, cond = clfs[cell.classifier], conds[cell.condition]
                cfg = self._cell_config(cell, clf_cfg, cond)
                path = cell.path(root)
                if not self.overwrite and path.exists() and self._finished(read_json(path), cfg, cond, cell):
                    counts["skipped"] += 1
                    advance(1)
                    continue
                train = self._training_set(root, splits[cell.dataset], cell, cond)
                submitted.append((cell, cfg, path, cond, train))
                yield clf_cfg.kind, *self._classifier_params(clf_cfg, cell), train, tests[cell.dataset]

        from ..progress import Progress

        with Progress(self.progress) as bar:
            advance, _ = bar.task("cells", len(cells))
            for pred, elapsed in executor.map_with(make_worker, _run_cell, jobs(), here=_CellWorker(encoders)):
                cell, cfg, path, cond, train = submitted.popleft()
                metrics = evaluate_predictions([e.label for e in tests[cell.dataset]], pred, splits[cell.dataset].label_set.names)
                timings[cell.kind] = timings.get(cell.kind, 0.0) + elapsed
                n_syn = sum(isinstance(e, SyntheticExample) for e in train)
                extra = (self._coverage(root, cell, train, tests[cell.dataset], pred, encoders, splits[cell.dataset].label_set.names)
                         if c.coverage and cell.kind != "ceiling" else {})
                write_json(path, {
                    **{f: getattr(cell, f) for f in ("dataset", "classifier", "condition", "kind", "k", "seed", "ratio")},
                    **metrics,
                    "n_train": len(train), "n_real": len(train) - n_syn, "n_synthetic": n_syn,
                    "n_real_per_label": label_counts([e for e in train if not isinstance(e, SyntheticExample)]),
                    "n_synthetic_per_label": label_counts([e for e in train if isinstance(e, SyntheticExample)]),
                    "seconds": round(elapsed, 3),
                    "cell_config": cfg, "cell_config_hash": config_hash(cfg),
                    "generator_params": self._generator_params(cond, cell),
                    "predictions": [splits[cell.dataset].label_set.index(p) for p in pred],
                    **extra,
                })
                counts["run"] += 1
                advance(1)

        summary = self.summarize(root)
        if c.analysis:
            self._embedding_analyses(root, splits)
        run.write_manifest(
            status="complete",
            cells={"total": len(cells), **counts},
            executor=executor.describe(),
            seconds_total=round(time.perf_counter() - t0, 2),
            seconds_by_kind={k: round(v, 2) for k, v in timings.items()},
            embeddings_computed={n: getattr(e, "n_encoded_", 0) for n, e in encoders.items()},
        )
        return summary

    def summarize(self, root: Path):
        # Only cells of the current config count (a run dir may hold results of removed conditions).
        wanted = {(c.dataset, c.classifier, c.condition, c.k, c.seed, c.ratio) for c in self.cells()}
        results = [r for r in map(read_json, sorted((root / "eval").rglob("*.json")))
                   if (r["dataset"], r["classifier"], r["condition"], r.get("k"), r.get("seed"), r.get("ratio")) in wanted]
        rows = [{k: v for k, v in r.items() if k not in ("predictions", "cell_config", "per_class_f1", "flips",
                                                          "n_real_per_label", "n_synthetic_per_label")} for r in results]
        summary = self._in_config_order(summarize(rows, self.config.metric))
        write_atomic(root / "summary.csv", summary.to_csv(index=False))
        write_atomic(root / "summary.md", summary_markdown(summary, self.config.metric))
        if self.config.coverage:
            from .stats import coverage_markdown

            write_atomic(root / "coverage.md", coverage_markdown(results))
        return summary

    def _in_config_order(self, summary):
        """Rows in the order the config lists datasets, classifiers, k, conditions, then ratio."""
        if summary.empty:
            return summary
        c = self.config
        rank = {
            "dataset": {d.name: i for i, d in enumerate(c.datasets)},
            "classifier": {x.name: i for i, x in enumerate(c.classifiers)},
            "condition": {x.name: i for i, x in enumerate(c.conditions)},
        }
        keys = summary.assign(
            _d=summary["dataset"].map(rank["dataset"]),
            _c=summary["classifier"].map(rank["classifier"]),
            _k=summary["k"].fillna(float("inf")),
            _n=summary["condition"].map(rank["condition"]),
            _r=summary["ratio"].fillna(0),
        )
        order = keys.sort_values(["_d", "_c", "_k", "_n", "_r"], kind="stable").index
        return summary.loc[order].reset_index(drop=True)

    # -- pieces -------------------------------------------------------------------------------

    @staticmethod
    def _eval_split(sp: DatasetSplits, which: str):
        if which == "dev":
            if sp.dev is None:
                raise DataError(
                    f"dataset {sp.name!r} has no dev split; expected one for eval_split: dev; "
                    f"fix: use a dataset with a dev split (e.g. sst2) or give train/test files of your own."
                )
            return sp.dev
        return sp.test

    def _check_k(self, sp: DatasetSplits) -> None:
        counts = sp.train.counts()
        small = {lab: n for lab, n in counts.items() if n < max(self.config.k)}
        if small:
            lab, n = min(small.items(), key=lambda kv: kv[1])
            raise DataError(
                f"{sp.name} train: class {lab!r} has {n} examples; expected at least k={max(self.config.k)} per class; "
                f"fix: lower k or add examples of {lab!r}."
            )

    def _shared_encoders(self) -> dict[str, Any]:
        """One encoder object per encoder name, shared by all cells (cache and memo reuse)."""
        from .classifiers import CLASSIFIERS

        names = set()
        for clf in self.config.classifiers:
            cls = CLASSIFIERS.get(clf.kind)  # unknown name → clear error
            if "embedding" in cls.accepts:  # frozen-encoder classifiers share one cached encoder
                names.add(_encoder_name(clf))
        if not names:
            return {}
        return {n: _make_keyed_encoder(n) for n in sorted(names)}

    def _classifier_params(self, clf: ClassifierConfig, cell: Cell) -> tuple[dict[str, Any], str | None]:
        """The classifier's parameters for ``cell``, and the name of the frozen encoder it needs (the
        worker that trains it puts its loaded copy in, see :class:`_CellWorker`), or None."""
        params = dict(clf.params)
        params.setdefault("random_state", cell.seed or 0)
        return params, _encoder_name(clf) if "embedding" in CLASSIFIERS.get(clf.kind).accepts else None

    def _training_set(self, root: Path, sp: DatasetSplits, cell: Cell, cond: ConditionConfig) -> list[Example]:
        if cell.kind == "ceiling":
            return sp.train.examples()
        real = self._seed_examples(sp, cell)
        if cell.kind == "real":
            return real
        synthetic = self._synthetic(root, real, cell, cond, eval_texts=self._eval_split(sp, self._eval_split_name(cell)).texts)
        need = synthetic_need(cond.allocation, cell.ratio, label_counts(real), list(sp.label_set.names))
        chosen = per_label_prefix(synthetic, need)
        short = {lab: n for lab in sp.label_set.names if (n := sum(r.label == lab for r in chosen)) < need[lab]}
        if short and cond.filters and not cond.allow_fewer:
            raise DataError(
                f"condition {cond.name!r}, k={cell.k}, seed={cell.seed}: after filtering only {short} synthetic records "
                f"remain for label(s) {sorted(short)}; expected {need} per label for ratio {cell.ratio:g}; "
                f"fix: raise 'oversample' (now {cond.oversample:g}), loosen the filters, or set allow_fewer: true."
            )
        return chosen if cell.kind == "synthetic_only" else real + chosen

    def _embedding_analyses(self, root: Path, splits: dict[str, Any], max_real: int = 1000) -> None:
        """``analysis/<dataset>/<condition>/``: t-SNE and fidelity/coverage metrics of each synthetic
        condition's records (first seed, largest k) against up to ``max_real`` training-pool sentences
        (a fixed sample; never the evaluation set). Skipped when the inputs are unchanged since the last run."""
        import random

        from ..analysis.embeddings import write_embedding_analysis

        c = self.config
        k, seed = max(c.k), c.seeds[0]
        encoder = next((_encoder_name(x) for x in c.classifiers if x.kind.startswith("embedding")), "all-MiniLM-L6-v2")
        for d in c.datasets:
            pool = splits[d.name].train.examples()
            real = random.Random(0).sample(pool, min(max_real, len(pool)))
            for cond in c.conditions:
                path = _synthetic_path(root, d.name, k, seed, cond.name)
                if cond.kind not in ("augment", "synthetic_only") or not path.exists():
                    continue
                out = root / "analysis" / d.name / cond.name
                inputs = {"synthetic_sha256": file_sha256(path), "real": config_hash([e.to_dict() for e in real]),
                          "encoder": cond.params.get("encoder", encoder) if _produces(cond.generator) == "embedding" else encoder}
                if (out / "inputs.json").exists() and read_json(out / "inputs.json") == inputs:
                    continue
                records = [SyntheticExample.from_dict(r) for r in read_jsonl(path)]
                write_embedding_analysis(out, real, records, _make_keyed_encoder(inputs["encoder"]), random_state=seed,
                                         reference_name=f"{d.name} train (sample of {len(real)})")
                write_json(out / "inputs.json", inputs)

    def _coverage(self, root: Path, cell: Cell, train: list[Example], test: list[Example], pred: list[str],
                  encoders: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        """Coverage of the test set by this cell's training set and, against the same seed's real-only
        cell, the profile of the test sentences that flipped (config ``coverage: true``)."""
        import numpy as np

        from ..analysis.coverage import TestManifold, flip_profile, vocabulary_coverage
        from ..backends.encoders import embed_examples

        if not encoders:
            raise DataError("coverage: true needs an embedding classifier (e.g. embedding-lr) for the embedding space.")
        enc = encoders[sorted(encoders)[0]]
        manifolds: dict[str, Any] = self.__dict__.setdefault("manifolds_", {})
        if cell.dataset not in manifolds:
            manifolds[cell.dataset] = TestManifold(embed_examples(enc, test)).fit()
        manifold = manifolds[cell.dataset]
        texts = [e.text for e in train if e.text is not None]
        train_X = embed_examples(enc, train)
        vocab = vocabulary_coverage(texts, [e.text for e in test])
        out: dict[str, Any] = {"coverage_embedding": manifold.coverage(train_X), "coverage_token": vocab["token_coverage"],
                               "coverage_type": vocab["type_coverage"]}
        real_name = next(x.name for x in self.config.conditions if x.kind == "real")  # the config requires one
        real_cell = Cell(cell.dataset, cell.classifier, real_name, "real", cell.k, cell.seed)
        if cell.kind == "augment" and real_cell.path(root).exists():
            labels = [e.label for e in test]
            real_pred = read_json(real_cell.path(root))["predictions"]
            real_ok = np.array([names[p] == y for p, y in zip(real_pred, labels)], dtype=float)
            aug_ok = np.array([p == y for p, y in zip(pred, labels)], dtype=float)
            is_syn = np.array([isinstance(e, SyntheticExample) for e in train])
            out["flips"] = flip_profile([e.text for e in test], labels, real_ok, aug_ok,
                                        [e.text for e, s in zip(train, is_syn) if not s], manifold.X_,
                                        train_X[~is_syn], train_X[is_syn])
        return out

    def _seed_examples(self, sp: DatasetSplits, cell: Cell) -> list[Example]:
        """The cell's real seed set: k per class, or the dataset entry's imbalanced counts."""
        ds = next(d for d in self.config.datasets if d.name == cell.dataset)
        if ds.class_fractions:
            return subsample_counts(sp.train, ds.seed_counts(list(sp.label_set.names), cell.k), cell.seed).examples()
        return subsample_per_class(sp.train, cell.k, cell.seed).examples()

    def _eval_split_name(self, cell: Cell) -> str:
        return next(d.eval_split for d in self.config.datasets if d.name == cell.dataset)

    def _synthetic(self, root: Path, real: list[Example], cell: Cell, cond: ConditionConfig,
                   eval_texts: list[str] = ()) -> list[SyntheticExample]:
        """Synthetic records for (dataset, k, seed, condition): generated (and filtered) once, then read back.

        The generator's output is stored once per (generator, params, n, seed set) as a generation
        run ``raw-<hash>/`` and shared by every condition with the same generator settings, so
        "no filter" and "filter X" conditions see the very same draw and differ only by the
        filter. With filters, ``oversample`` x the largest ratio's need is generated and the draw goes
        through a filter run (``<condition>.filtering/``, the run ``sentisynth filter`` writes: kept,
        ``rejected.jsonl`` with reasons, per-filter counts), its chain fitted on this cell's real seed
        set (the contamination filter also gets the evaluation texts).
        """
        path = _synthetic_path(root, cell.dataset, cell.k, cell.seed, cond.name)
        n_labels = len({e.label for e in real})
        if cond.allocation == "balanced":
            n = records_to_generate(len(real), n_labels, cond.ratios, cond.oversample)
        else:  # generated balanced, so every label must get the largest per-label need
            counts = label_counts(real)
            most = max(max(synthetic_need(cond.allocation, r, counts, sorted(counts)).values()) for r in cond.ratios)
            n = math.ceil(most * cond.oversample) * n_labels
        meta_path = path.with_suffix(".meta.json")
        key = config_hash({"condition": _condition_key(cond), "n": n, "real": [e.to_dict() for e in real]})
        if not self.overwrite and path.exists() and meta_path.exists():
            meta = read_json(meta_path)
            if meta.get("key") == key and meta.get("params") == self._generator_params(cond, cell):
                return [SyntheticExample.from_dict(r) for r in read_jsonl(path)]
        records, gen_params, draw = self._generated(path.parent, real, cell, cond, n)
        filter_report: dict[str, Any] = {}
        if cond.filters:
            records, filter_report = self._filtered(draw, path.parent / f"{cond.name}.filtering", real, cell, cond, eval_texts)
        _write_records(path, [r.to_dict() for r in records])
        write_json(meta_path, {"key": key, "n": len(records), "generator": cond.generator, "params": gen_params,
                               "filters": filter_report})
        return records

    def _start_over(self, out: Path) -> None:
        """With ``overwrite``, remove the run directory ``out`` once per grid run (the first cell that
        needs it), not once per ratio cell that reads it."""
        done: set[Path] = self.__dict__.setdefault("started_over_", set())
        if self.overwrite and out not in done:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
            done.add(out)

    def _filtered(self, draw: Path, out: Path, real: list[Example], cell: Cell, cond: ConditionConfig,
                  eval_texts: list[str]) -> tuple[list[SyntheticExample], dict[str, Any]]:
        """The condition's filter chain over the draw, as a filter run in ``out``: (kept, per-filter report).
        One chain object per condition serves every cell (its models load once); it is refitted on each
        cell's seed set and never closed between cells."""
        from ..filters.base import FilterChain
        from ..pipeline import write_filter_run

        chains: dict[str, Any] = self.__dict__.setdefault("filter_chains_", {})
        if cond.name not in chains:
            chains[cond.name] = FilterChain.from_config(cond.filters)
        self._start_over(out)
        seed_set = _seed_dataset(real, cell.dataset)
        kept = write_filter_run(draw, out, chains[cond.name], seed_set, eval_texts=list(eval_texts), filter_config=cond.filters,
                                seed=cell.seed or 0, seed_source=f"{cell.dataset} k={cell.k} seed={cell.seed} sha256={seed_set.content_hash()}",
                                close_filters=False)
        return [SyntheticExample.from_dict(r) for r in read_jsonl(kept)], read_json(out / "manifest.json")["filters"]

    def _generated(self, folder: Path, real: list[Example], cell: Cell, cond: ConditionConfig, n: int):
        """``n`` records from the condition's generator fitted on ``real``, one generation run per
        (generator settings, n, seed, seed set) in ``raw-<key>/``, shared by every condition with the
        same generator settings.

        It is the run ``sentisynth generate`` writes (:func:`~sentisynth.pipeline.write_generation_run`):
        records appended as they come, resumed after a crash without losing or duplicating one, a
        manifest with the config, seed set hash, model and generator report. Draws written before
        that (``raw-<key>.jsonl`` + ``.meta.json``, whole-file) are still read when their parameters match.
        """
        from ..pipeline import write_generation_run

        key = config_hash({"generator": _generator_key(cond), "n": n, "seed": cell.seed, "real": [e.to_dict() for e in real]})[:12]
        # One generator object per generator config, refitted per (dataset, k, seed): generators
        # keep seed-independent resources (WordNet, loaded models) across refits.
        gen = self._generator(cond, cell)
        params = jsonable(gen.get_params())
        legacy, legacy_meta = folder / f"raw-{key}.jsonl", folder / f"raw-{key}.meta.json"
        if not self.overwrite and legacy.exists() and legacy_meta.exists():
            stored = read_json(legacy_meta)
            # The key covers the config as written; the stored parameters also catch a changed default
            # (a draw made under other defaults is regenerated, never silently reused).
            if stored.get("params") == params:
                return [SyntheticExample.from_dict(r) for r in read_jsonl(legacy)], params, legacy
        out = folder / f"raw-{key}"
        self._start_over(out)
        path = write_generation_run(out, gen, _seed_dataset(real, cell.dataset), n, seed=cell.seed,
                                    source=f"{cell.dataset} k={cell.k} seed={cell.seed}")
        return [SyntheticExample.from_dict(r) for r in read_jsonl(path)], params, path


class _CellWorker:
    """What trains cells: the frozen encoders, loaded once per worker (in this process: the shared ones)."""

    def __init__(self, encoders: dict[str, Any]):
        self.encoders = encoders

    @classmethod
    def from_names(cls, names: list[str]) -> "_CellWorker":
        return cls({n: _make_keyed_encoder(n) for n in names})


def _run_cell(worker: _CellWorker, job: tuple) -> tuple[list[str], float]:
    """Train one cell's classifier on its training set and predict the evaluation set: (predictions, seconds)."""
    kind, params, encoder, train, test = job
    if encoder is not None:
        params = {**params, "encoder": worker.encoders[encoder]}
    t = time.perf_counter()
    classifier = make_classifier(kind, **params)
    classifier.fit(train)
    pred = classifier.predict(test)
    return list(pred), time.perf_counter() - t


def _seed_dataset(real: list[Example], name: str) -> Any:
    """A cell's real seed examples as the dataset a generation or filter run records (counts, hash)."""
    from ..data.dataset import TextDataset
    from ..records import LabelSet

    return TextDataset([e.text for e in real], [e.label for e in real], LabelSet.from_labels(e.label for e in real), name=name)


def _write_records(path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows or nothing (an atomic write): a killed draw leaves no file, never a short one."""
    write_atomic(path, jsonl_text(rows))


def _generator_key(cond: ConditionConfig) -> str:
    """The generator settings as written in the config: one generator object and one draw cache each."""
    return config_hash({"generator": cond.generator, "params": cond.params})


def _condition_key(cond: ConditionConfig) -> dict[str, Any]:
    """The condition as it enters cache keys: ratios apart (one cell each), and the filter fields
    only when used, so results computed before filters existed stay valid."""
    exclude = {"ratios"} | ({"filters", "oversample"} if not cond.filters and cond.oversample == 1 else set())
    if not cond.allow_fewer:
        exclude.add("allow_fewer")
    if cond.allocation == "balanced":
        exclude.add("allocation")
    return cond.model_dump(exclude=exclude)


def _dataset_key(ds: DatasetConfig) -> dict[str, Any]:
    """The dataset entry as it enters cache keys; the imbalance fields only when used (so results
    computed before they existed stay valid)."""
    return ds.model_dump(exclude={f for f in ("source", "class_fractions") if getattr(ds, f) is None})


def _encoder_name(clf: ClassifierConfig) -> str:
    """The encoder a frozen-embedding classifier uses (its default when the config names none), with
    its prompt when the config names one: the key of one shared encoder object."""
    name = clf.params.get("encoder", "all-MiniLM-L6-v2")
    return f"{name}{_PROMPT_SEP}{clf.params['encoder_prompt']}" if "encoder_prompt" in clf.params else name


_PROMPT_SEP = "#prompt="


def _make_keyed_encoder(key: str) -> Any:
    """The encoder object for an :func:`_encoder_name` key."""
    from ..backends.encoders import make_encoder

    name, sep, prompt = key.partition(_PROMPT_SEP)
    if not sep:
        return make_encoder(name)
    return make_encoder(name, prompt=None if prompt in ("None", "") else prompt)


