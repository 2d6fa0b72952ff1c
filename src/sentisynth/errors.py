"""Errors a user can act on.

Every error SentiSynth raises on bad input is a :class:`SentiSynthError`: its message is one
line that names where the problem is (file, row, column or parameter), what was expected, what was
found, and how to fix it. The CLI prints that line and exits non-zero; nothing else is printed.
"""

from __future__ import annotations


class SentiSynthError(Exception):
    """Base class of errors caused by user input or environment, not by a bug."""

    exit_code = 2


class DataError(SentiSynthError, ValueError):
    """A data file or dataset cannot be used as given."""


class ConfigError(SentiSynthError, ValueError):
    """A configuration file or parameter is invalid."""


class ResourceError(SentiSynthError, RuntimeError):
    """A model, dataset package or other resource is missing and cannot be fetched."""


def param_error(owner: str, name: str, expected: str, got: object) -> ConfigError:
    """The scikit-learn style message for a bad constructor parameter."""
    return ConfigError(f"The '{name}' parameter of {owner} must be {expected}; got {got!r} instead.")
