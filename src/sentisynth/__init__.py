"""SentiSynth: synthetic training data for low-resource text classification.

Generate labeled synthetic data, filter it, and prove with honest, repeatable experiments whether
it helped. The common case in Python::

    import sentisynth as ss
    data = ss.load_dataset("rt-snippets")                 # built-in splits, a file path, or a DataFrame
    seed = ss.sample(data, k=20, seed=0)                  # 20 labeled examples per class
    syn = ss.synthesize(seed, instruction="Classify the sentiment of movie reviews.", n=120)
    print(ss.compare(seed, syn.kept, test=data.test)["summary"])   # real vs real + synthetic
    result = ss.augment(seed, "Classify the sentiment of movie reviews.", out="runs/mine")
    print(result)                                         # the verdict, measured by cross-validation

- :func:`load_dataset`, :func:`sample` — your data or a built-in set; k examples per class.
- :func:`synthesize` — a generator (``hierarchical`` LLM prompting, ``small-lm``, ``gan``, ``eda``,
  ``file``) and its filter chain; records in memory or in a resumable run directory.
- :func:`compare` — one classifier trained on real vs real + synthetic, scored on a test split.
- :func:`augment` — the main job (``sentisynth augment``): generate, filter, cross-validate on your
  own examples, write the augmented dataset and report; returns :class:`AugmentResult`.
- :func:`run_experiment` — a multi-seed grid (datasets x k x seeds x conditions x classifiers).

Records are :class:`Example` (text, label) and :class:`SyntheticExample` (text or embedding, label,
generator, provenance ``meta``). Errors a user can fix are :class:`SentiSynthError` subclasses with
one-line messages that say what was expected, what was found and how to fix it.
"""

__version__ = "0.1.0"

# The main job's module is loaded first, so that the name ``augment`` below stays the function (importing
# a submodule for the first time would bind ``sentisynth.augment`` to the module).
from . import augment as _augment_module  # noqa: E402,F401
from .api import AugmentResult, Synthesis, augment, compare, load_dataset, run_experiment, sample, synthesize  # noqa: E402
from .data.dataset import DatasetSplits, TextDataset  # noqa: E402
from .errors import ConfigError, DataError, ResourceError, SentiSynthError  # noqa: E402
from .records import Example, LabelSet, SyntheticExample  # noqa: E402

__all__ = [
    "__version__",
    "load_dataset",
    "sample",
    "synthesize",
    "compare",
    "augment",
    "run_experiment",
    "Synthesis",
    "AugmentResult",
    "TextDataset",
    "DatasetSplits",
    "Example",
    "SyntheticExample",
    "LabelSet",
    "SentiSynthError",
    "DataError",
    "ConfigError",
    "ResourceError",
]
