"""The Python API: what a notebook needs, in five calls.

    import sentisynth as ss
    data = ss.load_dataset("rt-snippets")                  # built-in splits, a file path, or a DataFrame
    seed = ss.sample(data, k=20, seed=0)                   # k labeled examples per class
    syn = ss.synthesize(seed, instruction="Classify the sentiment of movie reviews.", n=120)
    print(ss.compare(seed, syn.kept, test=data.test))      # real vs real + synthetic on a test split
    result = ss.augment(seed, instruction="Classify the sentiment of movie reviews.", out="runs/mine")

Every function is a thin front to the same machinery the command line uses (generators, filter
chains, run directories, the cross-validated verdict), so a figure obtained here is the figure the
CLI would give for the same seed and settings. Heavy libraries load only when a call needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .data.dataset import DatasetSplits, TextDataset
from .errors import ConfigError
from .records import Example, SyntheticExample

__all__ = ["AugmentResult", "Synthesis", "augment", "compare", "load_dataset", "run_experiment", "sample", "synthesize"]


def load_dataset(source: Any, *, text_column: str = "text", label_column: str = "label",
                 labels: Sequence[str] | None = None, data_dir: str | None = None) -> TextDataset | DatasetSplits:
    """Load labeled texts.

    ``source`` is a built-in dataset name (``"sst2"``, ``"rt-snippets"``, ``"tweets"``, ``"trec"``,
    ``"banking77"`` … — returns its :class:`DatasetSplits` with ``.train``, ``.test`` and maybe
    ``.dev``), a file path (CSV, TSV, JSONL or Parquet), a ``pandas.DataFrame`` or a Hugging Face
    ``datasets.Dataset`` (each returns one :class:`TextDataset`; ``.to_pandas()``/``.to_hf()`` turn
    it back). ``labels`` fixes the label order (and maps integer labels to names).

    >>> splits = load_dataset("rt-snippets")            # doctest: +SKIP
    >>> mine = load_dataset(df, text_column="review")    # doctest: +SKIP
    """
    from .data import load_file
    from .data.builtin import BUILTIN_DATASETS, load_builtin
    from .data.files import load_frame

    if isinstance(source, (str, Path)):
        if isinstance(source, str) and source in BUILTIN_DATASETS:
            return load_builtin(source, data_dir=data_dir)
        return load_file(source, text_column=text_column, label_column=label_column, labels=labels)
    return load_frame(source, text_column=text_column, label_column=label_column, labels=labels)


def sample(data: TextDataset | DatasetSplits, k: int, seed: int = 0) -> TextDataset:
    """``k`` examples per class drawn with ``seed`` (from the train split of a :class:`DatasetSplits`)."""
    from .data import subsample_per_class

    return subsample_per_class(data.train if isinstance(data, DatasetSplits) else data, k, seed)


@dataclass
class Synthesis:
    """What :func:`synthesize` made: the records the filters kept, the rejected ones (each with its
    filter, score, threshold and reason), and the run directory when one was written."""

    kept: list[SyntheticExample]
    rejected: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    def to_pandas(self) -> Any:
        """Kept records as a DataFrame: ``text``, ``label``, ``generator`` and the provenance in ``meta``."""
        import pandas as pd

        return pd.DataFrame([{"text": r.text, "label": r.label, "generator": r.generator, "meta": r.meta} for r in self.kept])


def synthesize(seed: TextDataset, generator: str = "hierarchical", *, n: int, instruction: str | None = None,
               filters: str | list[dict[str, Any]] | None = "default", out: str | Path | None = None,
               random_state: int = 0, **params: Any) -> Synthesis:
    """Generate ``n`` labeled records from the seed set and filter them.

    ``generator`` is ``hierarchical`` (LLM prompting; default model Qwen2.5-0.5B, offline),
    ``small-lm``, ``gan``, ``eda`` or ``file``; ``params`` go to it (e.g. ``model="qwen2.5-1.5b-instruct"``).
    ``filters`` is ``"default"`` (the chain the main job uses for this generator), ``None`` (keep
    everything) or a list of ``{"name": ..., "params": {...}}``. With ``out``, the records go to a
    resumable run directory (the CLI's layout: ``generation/`` and ``filtering/`` with manifests);
    without it, everything stays in memory.

    >>> syn = synthesize(seed, instruction="Classify the sentiment of movie reviews.", n=60)  # doctest: +SKIP
    >>> len(syn.kept), syn.rejected[0]["reason"]                                              # doctest: +SKIP
    """
    from .augment import default_filters, generator_options
    from .filters.base import FilterChain
    from .generators.base import generator_class, make_generator

    if instruction is None and generator_class(generator).needs_instruction:
        raise ConfigError(f'synthesize(generator="{generator}") needs instruction="…" (the task in one sentence).')
    options = generator_options(generator, params, seed, instruction or "", random_state)
    if filters == "default":
        filters = default_filters(generator, instruction or "", options.get("model"))
    gen = make_generator(generator, **options)
    chain = FilterChain.from_config(filters or [])
    if out is None:
        gen.fit(seed.examples())
        records = [r for batch in gen.generate(n) for r in batch]
        if not chain.filters:
            return Synthesis(kept=records)
        chain.fit(seed.examples(), list(seed.texts))
        kept, rejected = chain.apply(records)
        return Synthesis(kept=kept, rejected=rejected)

    from .pipeline import write_filter_run, write_generation_run
    from .store import read_jsonl

    out = Path(out)
    source = f"python: {seed.name} ({len(seed)} examples)"
    path = write_generation_run(out / "generation", gen, seed, n, seed=random_state, source=source)
    if not chain.filters:
        return Synthesis(kept=[SyntheticExample.from_dict(r) for r in read_jsonl(path)], path=out)
    kept_path = write_filter_run(path, out / "filtering", chain, seed, eval_texts=list(seed.texts), filter_config=filters,
                                 seed=random_state, seed_source=source)
    rejected_path = out / "filtering" / "rejected.jsonl"
    return Synthesis(kept=[SyntheticExample.from_dict(r) for r in read_jsonl(kept_path)],
                     rejected=list(read_jsonl(rejected_path)) if rejected_path.exists() else [], path=out)


def compare(real: TextDataset | Sequence[Example], synthetic: Sequence[Example], test: TextDataset | Sequence[Example], *,
            classifier: str = "embeddinggemma-300m", ratios: Sequence[float] = (1, 2, 4), metric: str = "macro_f1",
            random_state: int = 0) -> dict[str, Any]:
    """Train one classifier on ``real`` alone and on ``real`` + ``ratio`` x |real| synthetic records
    (balanced per label, in the given order), score each on ``test``; returns the scores per condition.

    ``classifier`` is an encoder for logistic regression on its embeddings (``embeddinggemma-300m``,
    the default and strongest offline; ``all-MiniLM-L6-v2``; ``all-mpnet-base-v2``) or a classifier
    name (``tfidf-lr``, ``setfit``). One split, one seed: for an estimate with an interval use
    :func:`augment` (cross-validation) or :func:`run_experiment` (many seeds).

    >>> compare(seed, syn.kept, test=splits.test)["real+synthetic@1"]["macro_f1"]  # doctest: +SKIP
    """
    from .evaluation.allocation import per_label_prefix, synthetic_need
    from .evaluation.classifiers import CLASSIFIERS, evaluate_predictions, make_classifier

    real_ex = real.examples() if isinstance(real, TextDataset) else list(real)
    test_ex = test.examples() if isinstance(test, TextDataset) else list(test)
    labels = sorted({e.label for e in real_ex} | {e.label for e in test_ex})
    if classifier in CLASSIFIERS.names():
        make = lambda: make_classifier(classifier, random_state=random_state)  # noqa: E731
    else:
        from .backends.encoders import make_encoder

        encoder = make_encoder(classifier)  # one encoder (and embedding cache) for every condition
        make = lambda: make_classifier("embedding-lr", encoder=encoder, random_state=random_state)  # noqa: E731
    counts = {lab: sum(e.label == lab for e in real_ex) for lab in labels}
    truth = [e.label for e in test_ex]
    out: dict[str, Any] = {}
    for ratio in [None, *ratios]:
        extra = [] if ratio is None else per_label_prefix(list(synthetic), synthetic_need("balanced", float(ratio), counts, labels))
        scores = evaluate_predictions(truth, make().fit(real_ex + extra).predict(test_ex), labels)
        out["real" if ratio is None else f"real+synthetic@{ratio:g}"] = {**scores, "n_train": len(real_ex) + len(extra)}
    best = max((k for k in out if k != "real"), key=lambda k: out[k][metric], default=None)
    out["summary"] = {"metric": metric, "real": out["real"][metric], "best": best,
                      "delta": None if best is None else out[best][metric] - out["real"][metric]}
    return out


@dataclass
class AugmentResult:
    """The main job's outcome: the verdict (decision, recommended ratio, measured gain and interval,
    the classifier it was measured with), the kept synthetic records and where everything was written."""

    verdict: dict[str, Any]
    out: Path

    @property
    def decision(self) -> str:
        return self.verdict["decision"]

    @property
    def message(self) -> str:
        return self.verdict["message"]

    @property
    def synthetic(self) -> list[SyntheticExample]:
        """Every synthetic record that passed the filters (``synthetic.jsonl``)."""
        from .store import read_jsonl

        return [SyntheticExample.from_dict(r) for r in read_jsonl(self.out / "synthetic.jsonl")]

    @property
    def augmented(self) -> Any:
        """The dataset to train on (your examples, plus synthetic ones when the verdict says so) as a DataFrame."""
        import pandas as pd

        return pd.read_parquet(self.out / "augmented.parquet")

    def paths(self) -> dict[str, Path]:
        names = ("augmented.jsonl", "augmented.csv", "augmented.parquet", "synthetic.jsonl", "rejected.jsonl",
                 "crossval.json", "manifest.json", "report.html")
        return {n: self.out / n for n in names if (self.out / n).exists()}

    def __repr__(self) -> str:
        return f"AugmentResult({self.decision.upper()}: {self.message} → {self.out})"


def augment(data: TextDataset | Any, instruction: str, out: str | Path, *, random_state: int = 0,
            progress: bool = False, **options: Any) -> AugmentResult:
    """The main job, as ``sentisynth augment`` runs it: generate, filter, cross-validate on your own
    examples whether the synthetic records help, and write the augmented dataset and report to ``out``
    (resumable: call it again after a crash).

    ``data`` is a :class:`TextDataset`, a DataFrame or a file path. ``options`` are those of
    :class:`sentisynth.augment.Augmentation` (``generator``, ``generator_params``, ``filters``, ``n``,
    ``ratios``, ``n_splits``, ``n_repeats``, ``classifier``, ``classifier_params``, ``metric``, ``report``).

    >>> result = augment(seed, "Classify the sentiment of movie reviews.", out="runs/mine")  # doctest: +SKIP
    >>> result.decision, result.verdict["recommended_ratio"]                                  # doctest: +SKIP
    """
    from .augment import Augmentation

    if not isinstance(data, TextDataset):
        loaded = load_dataset(data)
        if isinstance(loaded, DatasetSplits):
            raise ConfigError(f"augment() takes your labeled examples; {data!r} is a built-in dataset with splits; "
                              f"fix: pass sample(load_dataset({data!r}), k=…).")
        data = loaded
    job = Augmentation(out, instruction, random_state=random_state, progress=progress, **options)
    verdict = job.run(data, f"python: {data.name} ({len(data)} examples)")
    return AugmentResult(verdict=verdict, out=Path(out))


def run_experiment(config: str | Path | dict[str, Any], out: str | Path | None = None, *, split: str | None = None,
                   progress: bool = False) -> Any:
    """Run (or resume) an experiment grid — datasets x k x seeds x conditions x classifiers — from a
    YAML path, a shipped name (``"quick"``) or a dict; returns the summary rows (one per dataset,
    classifier, k, condition and ratio: mean, std, interval, paired test against real-only, gap closed)
    as a DataFrame. Results, ``summary.csv`` and the manifest are in ``out`` (default ``runs/<name>``).
    ``split="dev"`` scores every dataset on its dev split (for choosing; default ``runs/<name>-dev``),
    ``"test"`` on test; ``None`` as the config says."""
    import pandas as pd

    from .evaluation.config import load_experiment_config, parse_experiment_config
    from .evaluation.experiment import Experiment

    if isinstance(config, dict):
        cfg = parse_experiment_config(config)
    else:
        path = Path(config)
        shipped = Path(__file__).parent / "configs" / f"{config}.yaml"
        cfg = load_experiment_config(shipped if not path.exists() and shipped.is_file() else path)
    return pd.DataFrame(Experiment(cfg.for_split(split), output_dir=out, progress=progress).run())
