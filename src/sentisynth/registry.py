"""Names → classes, for every pluggable kind (generators, filters, classifiers, backends).

Configs and the CLI name components; the registry turns a name and keyword parameters into an
instance, with one-line errors for unknown names and parameters. Classes store their constructor
arguments as attributes (scikit-learn style), so :func:`constructor_params` can read them back
for manifests and cache keys.

Parameters are *typed by the constructor*: :meth:`Registry.check_params` validates a parameter
mapping against a pydantic model built from the ``__init__`` signature (its annotations, unknown
keys forbidden), so a config file, a ``--set`` flag and a Python call get the same check and the
same error, and the annotations are the one place a component's parameter types are written. The
check only validates: the values the constructor gets are the ones given (no coercion), so
configs, their hashes and cached draws mean what they meant before.
"""

from __future__ import annotations

import functools
import inspect
import os
import typing
from typing import Any, Callable, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def constructor_params(obj: Any) -> dict[str, Any]:
    """The ``__init__`` parameters of ``obj`` as currently stored on it."""
    sig = inspect.signature(type(obj).__init__)
    return {p: getattr(obj, p) for p in sig.parameters if p != "self"}


class Registry(Generic[T]):
    """A named collection of classes of one kind."""

    def __init__(self, kind: str, typed: bool = True):
        self.kind = kind
        #: check parameter values against the constructor's annotations (``False``: names only, for
        #: kinds whose classes check their own values with messages that name the fix, like backends)
        self.typed = typed
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
        """An instance of the class named ``name``, its parameters checked first (:meth:`check_params`)."""
        self.check_params(name, params)
        return self.get(name)(**params)

    def check_params(self, name: str, params: dict[str, Any], required: bool = True) -> None:
        """Raise :class:`ConfigError` unless ``params`` are known parameters of ``name`` with values
        of the annotated types, e.g. ``generator 'hierarchical': parameter 'n_topic': Input should
        be a valid integer; got 'five'.`` (one message format for every component kind).
        ``required=False`` lets parameters without a default be missing (a config that others complete)."""
        cls = self.get(name)
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = set(params) - allowed
        if unknown:
            raise ConfigError(
                f"Unknown parameter(s) {sorted(unknown)} for {self.kind} {name!r}; expected some of {sorted(allowed)}."
            )
        if not self.typed:
            return
        from pydantic import ValidationError

        given = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in params.items()}
        try:
            params_model(cls).model_validate(given)
        except ValidationError as e:
            errors = [x for x in e.errors() if required or x["type"] != "missing"]
            if not errors:
                return
            err = errors[0]
            key = str(err["loc"][0]) if err["loc"] else "?"
            raise ConfigError(f"{self.kind} {name!r}: parameter {key!r}: {err['msg']}; got {given.get(key)!r}; "
                              f"expected {annotation_text(cls, key)}.") from None


@functools.cache
def params_model(cls: type) -> Any:
    """A pydantic model of ``cls.__init__``'s parameters: annotated types, defaults, unknown keys
    forbidden. An annotation pydantic cannot check (or none) accepts anything."""
    from pydantic import ConfigDict, TypeAdapter, create_model

    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve: check names only
        hints = {}
    fields: dict[str, Any] = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        tp = hints.get(p.name, Any)
        try:
            TypeAdapter(tp, config=ConfigDict(arbitrary_types_allowed=True))
        except Exception:
            tp = Any
        fields[p.name] = (tp, p.default if p.default is not p.empty else ...)
    return create_model(f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields)


def annotation_text(cls: type, param: str) -> str:
    """How a parameter's type reads in an error: ``int``, ``float | None``, ``dict[str, str] | None``."""
    try:
        tp = typing.get_type_hints(cls.__init__).get(param, Any)
    except Exception:
        return "a valid value"
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
