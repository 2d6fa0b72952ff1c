"""SentiSynth: synthetic training data for low-resource text classification."""

__version__ = "0.1.0"

from .errors import ConfigError, DataError, ResourceError, SentiSynthError  # noqa: E402
from .records import Example, LabelSet, SyntheticExample  # noqa: E402

__all__ = [
    "__version__",
    "Example",
    "SyntheticExample",
    "LabelSet",
    "SentiSynthError",
    "DataError",
    "ConfigError",
    "ResourceError",
]
