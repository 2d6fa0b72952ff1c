"""The main job: a user's small labeled set in, more labeled data out, and an honest verdict.

``generate → filter → cross-validate → write`` in one resumable run directory:

    RUN/generation/   the generator's run (resumable record by record; its own manifest)
    RUN/filtering/    the filter chain's run (kept records, rejected.jsonl, per-filter counts)
    RUN/analysis/     real vs synthetic in embedding space (metrics, t-SNE)
    RUN/crossval.json every fold of the repeated stratified cross-validation, summary, verdict, flips
    RUN/augmented.{jsonl,csv,parquet}  the user's examples + synthetic records at the recommended ratio
                      (only the user's examples when the verdict is not to use them)
    RUN/synthetic.jsonl every synthetic record that passed the filters
    RUN/rejected.jsonl every rejected record with filter, score, threshold and reason
    RUN/manifest.json  config, seeds, versions, hashes, counts, timings, verdict
    RUN/report.html    the self-contained report

Each stage is skipped on a rerun when its inputs and config are unchanged, so a crash costs only the
unfinished stage (and generation resumes inside itself).

Leakage: the cross-validation's held-out folds are the user's own examples, so the contamination
filter is fitted on them — a synthetic near-copy of a held-out example would otherwise score as a
gain it is not. A generator that *grounds* in the seed set (``seed_use == "grounds"``: the
hierarchical generator's style profile, topics drawn from real texts, style examples) is fitted on
the grounding part only — up to 8 examples per label, at most half of each — and those examples are
in every fold's training part, never held out: every score is on examples it never saw (the same
design holds for any user data; ``benchmarks/augment_vs_test_split.py`` checks it against a test
split). Generators that learn from every seed example (``seed_use == "learns"``: small-lm, the GAN,
EDA) have still seen the held-out folds; the manifest and report say so, because that makes their
estimate optimistic.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from .data.dataset import TextDataset
from .errors import ConfigError
from .evaluation.allocation import records_to_generate
from .generators.base import generator_class
from .records import Example, SyntheticExample

#: Most seed examples per label a grounded generator sees in the main job (and at most half of each
#: label): the rest are what the cross-validation may hold out.
GROUNDING_PER_LABEL = 8


def grounding_split(data: TextDataset, seed: int) -> tuple[TextDataset, list[int]]:
    """(the grounding part, indices of the rest): per label ``min(8, count // 2)`` examples drawn with
    ``seed`` (none where that would leave fewer than two to hold out); a grounded generator sees only the
    first, cross-validation holds out only the second."""
    from .data.subsample import subsample_counts

    counts = {lab: min(GROUNDING_PER_LABEL, c // 2, max(0, c - 2)) for lab, c in data.counts().items()}
    part = subsample_counts(data, counts, seed + 7919) if sum(1 for c in counts.values() if c) >= 2 else data.subset([])
    shown = {(t, lab) for t, lab in zip(part.texts, part.labels)}
    rest = [i for i, (t, lab) in enumerate(zip(data.texts, data.labels)) if (t, lab) not in shown]
    return part, rest


def default_filters(generator: str, instruction: str, model: str | None = None) -> list[dict[str, Any]]:
    """The chain used when the user names none, chosen from the studies in README:

    - length, duplicates/near-copies and contamination are cheap and only remove what cannot help;
    - the LLM teacher was the one filter that mattered for the small LM (+3.6 → +7.5 points at k = 10)
      but changed nothing for the hierarchical pools (their records already carry the asked label),
      so it is on only for generators that say ``needs_label_check``, where its cost (about 1 s per
      record on 2 cores) pays;
    - embedding generators (the GAN) have no text to filter.
    """
    cls = generator_class(generator)
    if cls.produces != "text":
        return []
    chain = [
        {"name": "length", "params": {"min_words": 3, "max_words": 120}},
        {"name": "diversity", "params": {}},
        {"name": "contamination", "params": {}},
    ]
    if cls.needs_label_check:
        chain.append({"name": "teacher", "params": {"teacher": "llm", "model": model or "qwen2.5-0.5b-instruct",
                                                    "instruction": instruction}})
    return chain


def generator_options(generator: str, params: dict[str, Any], data: TextDataset, instruction: str, seed: int) -> dict[str, Any]:
    """Fill what the user's data and instruction already say into the generator's parameters."""
    cls = generator_class(generator)
    options = {**cls.main_job_defaults, **params}
    options.setdefault("random_state", seed)
    if cls.needs_instruction:
        options.setdefault("instruction", instruction)
        options.setdefault("labels", list(data.label_set.names))
        descriptions = dict(data.label_set.descriptions)
        if descriptions:
            options.setdefault("label_descriptions", descriptions)
    return options


class Augmentation:
    """One ``sentisynth augment`` run. The constructor stores; :meth:`run` does the work."""

    def __init__(self, out: str | Path, instruction: str, generator: str = "hierarchical",
                 generator_params: dict[str, Any] | None = None, filters: list[dict[str, Any]] | None = None,
                 n: int | None = None, ratios: tuple[float, ...] = (0.5, 1, 2, 4), oversample: float = 1.5,
                 n_splits: int = 5, n_repeats: int = 5, classifier: str = "embedding-lr",
                 classifier_params: dict[str, Any] | None = None, metric: str = "macro_f1",
                 report: bool = True, random_state: int = 0, progress: bool = False):
        self.out = out
        self.instruction = instruction
        self.generator = generator
        self.generator_params = generator_params
        self.filters = filters
        self.n = n
        self.ratios = ratios
        self.oversample = oversample
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.metric = metric
        self.report = report
        self.random_state = random_state
        self.progress = progress

    def classifier_params_(self) -> dict[str, Any]:
        """The cross-validation classifier's parameters with the product default filled in: a frozen-
        encoder classifier with no encoder named uses :data:`~sentisynth.backends.encoders.DEFAULT_ENCODER`
        (EmbeddingGemma; docs/CLASSIFIERS.md for why and what it costs)."""
        import inspect

        from .backends.encoders import DEFAULT_ENCODER
        from .evaluation.classifiers import CLASSIFIERS

        params = dict(self.classifier_params or {})
        if "encoder" in inspect.signature(CLASSIFIERS.get(self.classifier)).parameters:
            params.setdefault("encoder", DEFAULT_ENCODER)
        return params

    def classifier_label(self) -> str:
        """How the verdict names the classifier it was measured with, e.g. ``embedding-lr (embeddinggemma-300m)``."""
        enc = self.classifier_params_().get("encoder")
        return f"{self.classifier} ({getattr(enc, 'name', enc)})" if enc else self.classifier

    def config(self, data: TextDataset) -> dict[str, Any]:
        """The resolved configuration (what the manifest stores and what reproduces the run)."""
        from .store import jsonable

        ratios = sorted(float(r) for r in self.ratios)
        if not ratios or any(r <= 0 for r in ratios):
            raise ConfigError(f"--ratios must be numbers > 0; got {list(self.ratios)!r}.")
        if not self.instruction or not self.instruction.strip():
            raise ConfigError('--instruction is empty; expected the task in one sentence, e.g. "Classify the sentiment of movie reviews."')
        params = generator_options(self.generator, self.generator_params or {}, data, self.instruction, self.random_state)
        filters = self.filters if self.filters is not None else default_filters(self.generator, self.instruction, params.get("model"))
        n = self.n or records_to_generate(len(data), len(data.label_set), ratios, self.oversample if filters else 1.0)
        # Everything that can be wrong in the config fails here, before the run directory exists.
        from .evaluation.crossval import METRICS, check_class_sizes
        from .filters.base import FilterChain
        from .generators.base import make_generator

        gen = make_generator(self.generator, **params)
        FilterChain.from_config(filters)
        if self.metric not in METRICS:
            raise ConfigError(f"--metric {self.metric!r}: expected one of {list(METRICS)}.")
        check_class_sizes(data.counts())
        if gen.seed_use == "grounds":  # what the cross-validation may hold out once the grounding part is set aside
            _, rest = grounding_split(data, self.random_state)
            check_class_sizes(data.subset(rest).counts())
        if self.n_splits < 2 or self.n_repeats < 1:
            raise ConfigError(f"--folds must be >= 2 and --repeats >= 1; got {self.n_splits} and {self.n_repeats}.")
        return jsonable({
            "instruction": self.instruction, "generator": self.generator, "generator_params": params, "filters": filters,
            "n": n, "ratios": ratios, "cv": {"n_splits": self.n_splits, "n_repeats": self.n_repeats, "metric": self.metric,
                                             "classifier": self.classifier, "classifier_params": self.classifier_params_()},
            "seed": self.random_state,
        })

    def run(self, data: TextDataset, source: str, say: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
        """Generate, filter, cross-validate, write; returns the verdict (also in manifest.json)."""
        from .filters.base import FilterChain
        from .generators.base import make_generator
        from .pipeline import write_filter_run, write_generation_run
        from .store import RunDir, config_hash, file_sha256, jsonl_text, read_json, read_jsonl, write_atomic, write_config_yaml, write_json

        cfg = self.config(data)
        run = RunDir(self.out).create()
        write_config_yaml(run.file("config.yaml"), cfg)
        run.write_manifest(kind="augment", command="augment", status="running", config=cfg, config_hash=config_hash(cfg),
                           seeds={"seed": self.random_state},
                           data={"source": source, "n": len(data), "counts": data.counts(), "sha256": data.content_hash()})
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        say(f"1/4 generating {cfg['n']} records with {self.generator} …")
        gen = make_generator(self.generator, **cfg["generator_params"])
        if "progress" in gen.get_params():  # an execution-only setting: never part of the config or its hash
            gen.progress = self.progress
        real = data.examples()
        held_out, always_train, shown = real, [], data
        if gen.seed_use == "grounds":  # shown only the grounding part, which the cross-validation never holds out
            shown, rest = grounding_split(data, self.random_state)
            held_out, always_train = [real[i] for i in rest], shown.examples()
        gen_path = write_generation_run(run.file("generation"), gen, shown, cfg["n"], seed=self.random_state, source=source,
                                        progress=self.progress)
        timings["generation"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        if cfg["filters"]:
            say(f"2/4 filtering ({', '.join(f['name'] for f in cfg['filters'])}) …")
            kept_path = write_filter_run(gen_path, run.file("filtering"), FilterChain.from_config(cfg["filters"]), data,
                                         eval_texts=list(data.texts), filter_config=cfg["filters"],
                                         seed=self.random_state, seed_source=source, progress=self.progress)
            rejected = list(read_jsonl(run.file("filtering", "rejected.jsonl")))
        else:
            say("2/4 no filters")
            kept_path, rejected = gen_path, []
        write_atomic(run.file("rejected.jsonl"), jsonl_text(rejected))
        kept = [SyntheticExample.from_dict(r) for r in read_jsonl(kept_path)]
        write_atomic(run.file("synthetic.jsonl"), kept_path.read_bytes())
        timings["filtering"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        cv_key = config_hash({"cv": cfg["cv"], "ratios": cfg["ratios"], "seed": self.random_state,
                              "data": data.content_hash(), "synthetic": file_sha256(kept_path),
                              **({"always_train": len(always_train)} if always_train else {})})
        cv_path = run.file("crossval.json")
        cv = read_json(cv_path) if cv_path.exists() else {}
        if cv.get("key") != cv_key:
            say(f"3/4 cross-validating: {self.n_repeats} x {self.n_splits} folds, real only vs {len(cfg['ratios'])} ratios …")
            cv = self._cross_validate(held_out, kept, cfg, always_train)
            cv["key"] = cv_key
            write_json(cv_path, cv)
        timings["crossval"] = time.perf_counter() - t0
        verdict = self._cv(cfg).verdict(cv["summary"], cv["ratios"], len(held_out))
        verdict["classifier"] = self.classifier_label()
        verdict["message"] += f" (Measured with {verdict['classifier']}.)"
        if cv.get("verdict") != verdict:  # same folds, newer decision rules: keep crossval.json in step
            cv["verdict"] = verdict
            write_json(cv_path, cv)

        t0 = time.perf_counter()
        # What we recommend training on: synthetic records only when they measurably helped.
        ratio = verdict.get("recommended_ratio")
        chosen = self._chosen(real, kept, ratio)
        self._write_augmented(run, real, chosen)
        if kept and self.report:
            self._embedding_analysis(run, real, kept)
        timings["outputs"] = time.perf_counter() - t0
        caveat = None
        if gen.seed_use == "learns":
            caveat = (f"the {self.generator} generator saw all {len(real)} examples, including each held-out fold, "
                      "so the cross-validated gain is optimistic")
        run.write_manifest(
            status="complete",
            counts={"real": len(real), "grounding": len(always_train), "held_out_in_cv": len(held_out), "generated": cfg["n"], "kept": len(kept), "rejected": len(rejected),
                    "augmented": len(real) + len(chosen), "synthetic_in_augmented": len(chosen)},
            verdict={**verdict, "augmented_ratio": ratio, "caveat": caveat},
            hashes={"augmented.jsonl": file_sha256(run.file("augmented.jsonl")), "synthetic": file_sha256(kept_path)},
            seconds={k: round(v, 3) for k, v in timings.items()},
        )
        if self.report:
            from .report import write_report

            write_report([run.path], run.file("report.html"))
        return {**verdict, "augmented_ratio": ratio, "caveat": caveat, "n_kept": len(kept), "n_rejected": len(rejected)}

    def _cv(self, cfg: dict[str, Any]) -> Any:
        from .evaluation.crossval import AugmentationCV

        return AugmentationCV(ratios=cfg["ratios"], n_splits=self.n_splits, n_repeats=self.n_repeats,
                              classifier=self.classifier, classifier_params=self.classifier_params_(),
                              metric=self.metric, random_state=self.random_state)

    def _cross_validate(self, real: list[Example], kept: list[SyntheticExample], cfg: dict[str, Any],
                        always_train: list[Example]) -> dict[str, Any]:
        cv = self._cv(cfg)
        from .progress import Progress

        with Progress(self.progress) as bar:
            advance, _ = bar.task("folds", self.n_splits * self.n_repeats)
            return cv.run(real, kept, progress=advance, always_train=always_train)

    def _chosen(self, real: list[Example], kept: list[SyntheticExample], ratio: float | None) -> list[SyntheticExample]:
        """The synthetic records of the augmented dataset: the same seeded order and per-label prefix
        the cross-validation measured, sized for the full real set."""
        from .evaluation.crossval import chosen_synthetic, synthetic_order

        if not ratio:
            return []
        return chosen_synthetic(synthetic_order(kept, self.random_state), ratio, [e.label for e in real])

    def _write_augmented(self, run: Any, real: list[Example], chosen: list[SyntheticExample]) -> None:
        """``augmented.jsonl`` / ``.csv`` / ``.parquet``: real first, then synthetic, with a ``source`` column.
        Embedding records (the GAN) have no text: they go to JSONL and Parquet, not to the CSV."""
        import io

        import pandas as pd

        from .store import jsonl_text, write_atomic

        rows = [{"text": e.text, "label": e.label, "source": "real"} for e in real]
        for r in chosen:
            row = {"text": r.text, "label": r.label, "source": "synthetic", "generator": r.generator,
                   **{f"meta.{k}": v for k, v in r.meta.items() if not isinstance(v, (dict, list))}}
            if r.embedding is not None:
                row["embedding"] = [float(x) for x in r.embedding]
            rows.append(row)
        write_atomic(run.file("augmented.jsonl"), jsonl_text(rows))
        frame = pd.DataFrame(rows)
        text_rows = frame[frame["text"].notna()].drop(columns=[c for c in ("embedding",) if c in frame])
        buf = io.StringIO()
        text_rows.to_csv(buf, index=False)
        write_atomic(run.file("augmented.csv"), buf.getvalue())
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_atomic(run.file("augmented.parquet"), buf.getvalue())

    def _embedding_analysis(self, run: Any, real: list[Example], kept: list[SyntheticExample]) -> None:
        from .analysis.embeddings import write_embedding_analysis

        encoder = self.classifier_params_().get("encoder", "all-MiniLM-L6-v2")  # tfidf-lr: a cheap space for the plots
        if generator_class(self.generator).produces == "embedding":  # its records live in its encoder's space
            encoder = (self.generator_params or {}).get("encoder", encoder)
        write_embedding_analysis(run.file("analysis"), real, kept, encoder, reference_name="your examples",
                                 random_state=self.random_state)
