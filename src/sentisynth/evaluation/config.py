"""Typed configurations (YAML in, YAML out): the experiment grid and the main job's options.

``extra="forbid"`` everywhere: a misspelt key is an error naming the key, not a silently ignored
setting that makes a run mean something other than what its author thought. The components a config
names (a generator and its ``params``, each filter of a chain, a classifier) are typed by their own
constructors: :func:`check_component` validates them through the registry, so the file fails on
load with the same message a Python call would get, before any model loads or any directory exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ..errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_component(kind: str, name: str | None, params: dict[str, Any] | None) -> None:
    """Raise a ``ConfigError`` (a ``ValueError``: pydantic reports it at the field) unless ``name``
    is a registered ``kind`` (generator, classifier) and ``params`` fit its constructor (``None``:
    the name only; parameters the config leaves out, like the main job's instruction, come later)."""
    if name is None:
        return
    if kind == "generator":
        from ..generators.base import GENERATORS as registry
        from ..generators.base import generator_class

        generator_class(name)  # imports (registers) the built-in generators, then looks the name up
    else:
        from .classifiers import CLASSIFIERS as registry

        registry.get(name)
    if params is not None:
        registry.check_params(name, params, required=False)


def check_filters(specs: list[dict[str, Any]] | None) -> None:
    """Each ``{name, params}`` of a filter chain names a filter and fits its constructor."""
    from ..filters.base import FilterChain

    FilterChain.from_config(specs)


class DatasetConfig(_Strict):
    """A built-in dataset by name, or files of the user's own (train and test)."""

    name: str
    train: str | None = None
    test: str | None = None
    data_dir: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    labels: list[str] | None = None
    label_descriptions: dict[str, str] | None = None
    #: Where cells are scored: ``test`` for reported figures, ``dev`` while choosing prompts,
    #: thresholds and ratios (so nothing is tuned on test).
    eval_split: Literal["test", "dev"] = "test"
    #: The built-in dataset to load when ``name`` is only this entry's label (e.g. two imbalanced
    #: variants of sst2 in one grid).
    source: str | None = None
    #: Imbalanced seed sets: a class listed here gets ``round(k x fraction)`` examples (at least 1)
    #: instead of k, e.g. ``{negative: 0.2}`` → 10 negative and 50 positive at k = 50.
    class_fractions: dict[str, float] | None = None

    @model_validator(mode="after")
    def _fractions(self) -> "DatasetConfig":
        bad = {lab: f for lab, f in (self.class_fractions or {}).items() if not 0 < f <= 1}
        if bad:
            raise ValueError(f"dataset {self.name!r}: class_fractions must be in (0, 1]; got {bad}")
        return self

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~sentisynth.data.load_splits` for this entry."""
        opts = self.model_dump(exclude={"eval_split", "source", "class_fractions"})
        if self.source:
            opts["name"] = self.source
        return opts

    def seed_counts(self, labels: list[str], k: int) -> dict[str, int]:
        """Examples per class in a seed set of this entry at ``k``."""
        fractions = self.class_fractions or {}
        return {lab: max(1, round(k * fractions[lab])) if lab in fractions else k for lab in labels}


class ClassifierConfig(_Strict):
    name: str
    type: str | None = None  # registry name; defaults to ``name``
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.type or self.name

    @model_validator(mode="after")
    def _typed_params(self) -> "ClassifierConfig":
        check_component("classifier", self.kind, self.params)
        return self


class ConditionConfig(_Strict):
    """One training condition.

    * ``real`` — the k-per-class real subset only (the baseline every test is paired against);
    * ``augment`` — real + ``ratio`` x |real| synthetic records from ``generator``, one cell per ratio;
    * ``synthetic_only`` — only the synthetic records (``ratio`` x |real| of them);
    * ``ceiling`` — the whole training pool (seed- and k-independent; trained once).
    """

    name: str
    kind: Literal["real", "augment", "synthetic_only", "ceiling"]
    generator: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    ratios: list[float] = Field(default_factory=lambda: [1.0])
    #: filter chain applied to the generated records of each cell, fitted on that cell's seed set
    #: (``[{name: teacher, params: {...}}, ...]``); rejected records go next to the kept ones.
    filters: list[dict[str, Any]] = Field(default_factory=list)
    #: generate this many times the records the largest ratio needs, so filters can reject some.
    oversample: float = 1.0
    #: when filters leave fewer records than a ratio needs, train on what is left (the cell's
    #: results.json records n_synthetic) instead of stopping the grid with an error.
    allow_fewer: bool = False
    #: how the ``ratio x |real|`` synthetic records are spread over labels: ``balanced`` (equal per
    #: label), ``proportional`` (the real set's class proportions: more content, same imbalance), or
    #: ``rebalance`` (only to classes below the largest, filling ``ratio`` x each one's deficit:
    #: ratio 1 = exactly balanced; the class-imbalance fix without extra content elsewhere).
    allocation: Literal["balanced", "proportional", "rebalance"] = "balanced"

    @model_validator(mode="after")
    def _generator_needed(self) -> "ConditionConfig":
        if self.oversample < 1:
            raise ValueError(f"condition {self.name!r}: oversample must be >= 1; got {self.oversample}")
        if self.filters and not self.generator:
            raise ValueError(f"condition {self.name!r} of kind {self.kind!r} has filters but no generator to filter")
        if self.kind in ("augment", "synthetic_only") and not self.generator:
            raise ValueError(f"condition {self.name!r} of kind {self.kind!r} needs a 'generator'")
        if self.kind in ("real", "ceiling") and self.generator:
            raise ValueError(f"condition {self.name!r} of kind {self.kind!r} takes no 'generator'")
        if any(r <= 0 for r in self.ratios):
            raise ValueError(f"condition {self.name!r}: ratios must be > 0; got {self.ratios}")
        check_component("generator", self.generator, self.params)
        check_filters(self.filters)
        return self


class RayConfig(_Strict):
    """Where a grid's cells run with ``executor: ray`` (see :class:`~sentisynth.distributed.RayExecutor`)."""

    address: str | None = None
    num_cpus: int | None = Field(default=None, ge=1)
    num_workers: int | None = Field(default=None, ge=1)
    max_in_flight: int | None = Field(default=None, ge=1)
    max_retries: int = Field(default=3, ge=0)


class ExperimentConfig(_Strict):
    name: str
    datasets: list[DatasetConfig] = Field(min_length=1)
    k: list[int]
    seeds: list[int]
    classifiers: list[ClassifierConfig] = Field(min_length=1)
    conditions: list[ConditionConfig]
    output_dir: str | None = None
    #: the summary's metric (mean ± std, CI, paired tests, gap closed); macro-F1 for imbalanced studies
    metric: Literal["accuracy", "macro_f1"] = "accuracy"
    #: per cell, how much of the evaluation set the training set covers (vocabulary, embedding k-NN
    #: balls) and, for augmented cells, what the test sentences that flipped share (analysis/coverage.py)
    coverage: bool = False
    #: per dataset and synthetic condition, a t-SNE and fidelity/coverage metrics of its records (first
    #: seed, largest k) against a sample of the training pool (analysis/embeddings.py), for the report
    analysis: bool = False
    #: where cells train: ``local`` (this process) or ``ray`` (``ray:`` says which cluster); results
    #: are the same either way, so neither enters any cache key
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig | None = None

    def executor_spec(self, name: str | None = None, address: str | None = None) -> dict[str, Any]:
        """What :func:`~sentisynth.distributed.make_executor` takes: ``name`` (``--executor``) or the
        config's ``executor``, with the ``ray:`` settings when that is ray (a ``ray:`` section stays
        unused under local) and ``address`` (``--ray-address``) over the config's."""
        spec: dict[str, Any] = {"name": name or self.executor}
        if spec["name"] == "ray" and self.ray is not None:
            spec.update(self.ray.model_dump(exclude_none=True))
        if address:
            if spec["name"] != "ray":
                raise ConfigError("--ray-address / ray: options need --executor ray (or executor: ray in the config).")
            spec["address"] = address
        return spec

    def for_split(self, split: Literal["dev", "test"] | None) -> "ExperimentConfig":
        """This grid scored on ``split`` for every dataset (``--split``): one config serves choosing on
        dev and reporting on test, instead of twin files. The name, and so the default run directory,
        gets ``-dev`` (or ``-test`` where the file itself scores on dev), so the two sets of results
        never share a directory; ``None`` keeps the config as written."""
        if split is None:
            return self
        if split not in ("dev", "test"):
            raise ConfigError(f"--split {split!r}: expected dev or test.")
        suffix = "-dev" if split == "dev" else ("-test" if any(d.eval_split != "test" for d in self.datasets) else "")
        return self.model_copy(update={
            "name": self.name + suffix,
            "datasets": [d.model_copy(update={"eval_split": split}) for d in self.datasets],
        })

    @field_validator("k")
    @classmethod
    def _positive_k(cls, v: list[int]) -> list[int]:
        if not v or any(x < 1 for x in v):
            raise ValueError(f"k must be a non-empty list of ints >= 1; got {v}")
        return v

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_range(cls, v: Any) -> Any:
        """``seeds: 10`` means seeds 0..9."""
        if isinstance(v, bool):
            raise ValueError(f"seeds must be a count >= 1 or a non-empty list of ints; got {v}")
        if isinstance(v, int):
            if v < 1:
                raise ValueError(f"seeds must be a count >= 1 or a non-empty list of ints; got {v}")
            return list(range(v))
        if isinstance(v, list) and not v:
            raise ValueError("seeds must be a count >= 1 or a non-empty list of ints; got []")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> "ExperimentConfig":
        for what, items in (("condition", self.conditions), ("classifier", self.classifiers), ("dataset", self.datasets)):
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{what} names must be unique; repeated: {dup}")
        if not any(c.kind == "real" for c in self.conditions):
            raise ValueError("conditions must include one of kind 'real' (the baseline for paired tests)")
        return self


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    """Parse and validate a YAML experiment config with one-line errors."""
    from ..yaml_files import read_yaml

    raw = read_yaml(path)
    if raw is None:
        raise ConfigError(
            f"{path}: the config is empty; expected a YAML mapping with name, datasets, k, seeds, classifiers "
            f"and conditions; fix: start from a shipped config (sentisynth/configs/quick.yaml)."
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a YAML mapping (key: value lines) at the top level; got a {type(raw).__name__}; "
            f"fix: start from a shipped config (sentisynth/configs/quick.yaml)."
        )
    return parse_experiment_config(raw, source=str(path))


class AugmentOptions(_Strict):
    """The main job's options as ``sentisynth augment --config`` reads them (flags given on the
    command line win). Defaults are the command's; ``generator_params`` go to the generator, whose
    own constructor rejects unknown names."""

    instruction: str | None = None
    generator: str = "hierarchical"
    generator_params: dict[str, Any] = Field(default_factory=dict)
    #: the filter chain (``[{name: length, params: {...}}, ...]``); ``None``: the generator's default chain
    filters: list[dict[str, Any]] | None = None
    n: int | None = Field(default=None, ge=1)
    ratios: list[float] = Field(default_factory=lambda: [0.5, 1.0, 2.0, 4.0], min_length=1)
    oversample: float = Field(default=1.5, ge=1.0)
    folds: int = Field(default=5, ge=2)
    repeats: int = Field(default=5, ge=1)
    metric: Literal["macro_f1", "accuracy"] = "macro_f1"
    classifier: str = "embedding-lr"
    classifier_params: dict[str, Any] | None = None
    seed: int = 0

    @field_validator("ratios")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(r <= 0 for r in v):
            raise ValueError(f"ratios must be > 0; got {v}")
        return v

    @field_validator("generator", "classifier")
    @classmethod
    def _registered(cls, v: str, info: ValidationInfo) -> str:
        check_component(info.field_name, v, None)
        return v

    @field_validator("generator_params", "classifier_params")
    @classmethod
    def _typed_params(cls, v: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        kind = "generator" if info.field_name == "generator_params" else "classifier"
        check_component(kind, info.data.get(kind), v)
        return v

    @field_validator("filters")
    @classmethod
    def _typed_filters(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        check_filters(v)
        return v


def parse_augment_options(raw: dict[str, Any], source: str = "config") -> AugmentOptions:
    """Validate a main-job options mapping, with the same one-line errors as the experiment config."""
    return _validated(AugmentOptions, raw, source)


def parse_experiment_config(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    return _validated(ExperimentConfig, raw, source)


def _validated(model: type[BaseModel], raw: dict[str, Any], source: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        # The file's shape first (a misspelt or missing key), then the values it holds.
        err = min(e.errors(), key=lambda x: {"extra_forbidden": 0, "missing": 1}.get(x["type"], 2))
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ").rstrip(".")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling)"
        raise ConfigError(f"{source}: {loc}: {msg}.") from None
