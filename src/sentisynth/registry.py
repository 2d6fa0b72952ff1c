"""Names → classes, for every pluggable kind (generators, classifiers, later filters and backends).

Configs and the CLI name components; the registry turns a name and keyword parameters into an
instance, with one-line errors for unknown names and parameters. Classes store their constructor
arguments as attributes (scikit-learn style), so :func:`constructor_params` can read them back
for manifests and cache keys.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def constructor_params(obj: Any) -> dict[str, Any]:
    """The ``__init__`` parameters of ``obj`` as currently stored on it."""
    sig = inspect.signature(type(obj).__init__)
    return {p: getattr(obj, p) for p in sig.parameters if p != "self"}


class Registry(Generic[T]):
    """A named collection of classes of one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: make the class reachable by ``name``; sets ``cls.name``."""

        def deco(cls: type[T]) -> type[T]:
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def get(self, name: str) -> type[T]:
        if name not in self._classes:
            raise ConfigError(f"Unknown {self.kind} {name!r}; expected one of {self.names()}.")
        return self._classes[name]

    def make(self, name: str, **params: Any) -> T:
        """An instance of the class named ``name``, checking parameter names first."""
        cls = self.get(name)
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = set(params) - allowed
        if unknown:
            raise ConfigError(
                f"Unknown parameter(s) {sorted(unknown)} for {self.kind} {name!r}; expected some of {sorted(allowed)}."
            )
        return cls(**params)
