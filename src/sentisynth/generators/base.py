"""The generator protocol and registry.

A generator's ``__init__`` only stores keyword arguments (scikit-learn style); ``fit(seed)`` learns
or caches whatever it needs from the real seed examples and returns ``self``; ``generate(n)``
yields *batches* (lists) of :class:`~sentisynth.records.SyntheticExample` totalling exactly ``n``
records, balanced across labels unless ``labels`` restricts them. Capabilities are class
attributes (``produces``, ``shardable``), never checks of class names.

A *shardable* generator also offers ``plan(n, labels, shard_size)`` → a list of :class:`Shard` and
``generate_shard(shard)`` → that slice's records, where each record depends only on the fitted
state and its position. The concatenated shards are exactly ``generate(n)``'s stream, so the
pipeline can run them anywhere (``--executor ray``) and in any order, write them in order, and on
resume skip the shards already written instead of replaying them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

from ..errors import ConfigError
from ..records import Example, SyntheticExample
from ..registry import Registry, constructor_params

GENERATORS: Registry["Generator"] = Registry("generator")
register_generator = GENERATORS.register


class Generator:
    """Base class: parameter handling shared by all generators."""

    name: ClassVar[str] = "base"
    produces: ClassVar[str] = "text"  # "text" or "embedding"
    #: True when ``plan``/``generate_shard`` exist (a property where it depends on parameters).
    shardable: ClassVar[bool] = False
    #: How ``fit`` uses the seed texts, which decides what the main job's cross-validation may hold
    #: out: ``"none"`` (never reads them), ``"grounds"`` (profiles them and quotes a few in prompts: the
    #: main job grounds it in a part of the seed set that is never held out), ``"learns"`` (trains on
    #: all of them: the estimate is optimistic and says so). A property where it depends on parameters.
    seed_use: ClassVar[str] = "none"
    #: Prompts are built from the task in one sentence: the main job and ``synthesize`` pass the user's
    #: instruction, labels and label descriptions to it (and refuse to run without an instruction).
    needs_instruction: ClassVar[bool] = False
    #: Its labels are noisy enough that the main job's default filter chain adds the LLM teacher.
    needs_label_check: ClassVar[bool] = False
    #: Parameters the main job sets for it unless the user does: its defaults for that job, chosen by
    #: the studies (docs/studies/), where they differ from the constructor's.
    main_job_defaults: ClassVar[dict[str, Any]] = {}
    #: Parameters that change how a run shows or executes, never which records it makes: left out
    #: of run configs and their hashes (a run started in a terminal resumes with stderr in a log).
    execution_params: ClassVar[frozenset[str]] = frozenset({"progress"})

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters as stored (the config that reproduces this generator)."""
        return constructor_params(self)

    def signature_params(self) -> dict[str, Any]:
        """:meth:`get_params` without :attr:`execution_params`: what a run's config and hash hold."""
        return {k: v for k, v in self.get_params().items() if k not in self.execution_params}

    def fit(self, seed_examples: Sequence[Example]) -> "Generator":  # pragma: no cover - abstract
        raise NotImplementedError

    def generate(self, n: int, labels: Sequence[str] | None = None) -> Iterator[list[SyntheticExample]]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _quota(self, n: Any, labels: Sequence[str] | None) -> dict[str, int]:
        """Checks shared by every ``generate``: fitted, ``n`` an int >= 0, labels known; the balanced quota."""
        self._check_fitted()
        self._check_n(n)
        wanted = list(labels) if labels else list(self.labels_)
        unknown = [lab for lab in wanted if lab not in self.labels_]
        if unknown:
            raise ConfigError(f"{type(self).__name__} cannot generate label {unknown[0]!r}; it was fitted for {list(self.labels_)}.")
        return balanced_quota(n, wanted)

    def _check_n(self, n: Any) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"{type(self).__name__}.generate(n) needs an int n >= 0; got {n!r}.")

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise ConfigError(f"{type(self).__name__} is not fitted; call fit(seed_examples) before generate(n).")


def balanced_quota(n: int, labels: Sequence[str]) -> dict[str, int]:
    """Split ``n`` records across ``labels`` as evenly as possible (earlier labels get the remainder)."""
    base, extra = divmod(n, len(labels))
    return {lab: base + (1 if i < extra else 0) for i, lab in enumerate(labels)}


@dataclass(frozen=True)
class Shard:
    """Positions ``start:stop`` of the round-robin record stream of ``n`` records over ``labels``."""

    labels: tuple[str, ...]
    n: int
    start: int
    stop: int

    def positions(self) -> Iterator[tuple[str, int]]:
        """(label, index within the label) of each record of this slice, in stream order.

        The stream visits labels round-robin; with the balanced quota the first ``n mod L`` labels
        get one record more, so position ``p`` is label ``p mod L``'s record ``p div L`` in the
        full rounds and the ``extra`` labels' last record after them.
        """
        n_labels = len(self.labels)
        full = (self.n // n_labels) * n_labels
        for p in range(self.start, self.stop):
            if p < full:
                yield self.labels[p % n_labels], p // n_labels
            else:
                yield self.labels[p - full], self.n // n_labels

    def __len__(self) -> int:
        return self.stop - self.start


def plan_shards(n: int, labels: Sequence[str], shard_size: int) -> list[Shard]:
    """``n`` records over ``labels`` cut into consecutive shards of ``shard_size`` records."""
    labels = tuple(labels)
    return [Shard(labels, n, start, min(n, start + shard_size)) for start in range(0, n, max(1, shard_size))]


def generator_class(name: str) -> type[Generator]:
    """The registered class for ``name``, to ask its capabilities before making one."""
    from . import eda, from_file, hierarchical, resample, small_lm  # noqa: F401  (registers built-in generators)
    from .gan import generator as _gan  # noqa: F401

    return GENERATORS.get(name)


def make_generator(name: str, **params: Any) -> Generator:
    """Instantiate a registered generator by name, with a clear error for unknown names/params."""
    generator_class(name)  # registers the built-in generators
    return GENERATORS.make(name, **params)
