"""Data: loading files, Hugging Face datasets and built-in sets; low-resource subsampling."""

from __future__ import annotations

from typing import Any

from .dataset import DatasetSplits, TextDataset
from .files import load_file
from .subsample import subsample_counts, subsample_per_class

__all__ = [
    "DatasetSplits",
    "TextDataset",
    "load_file",
    "load_splits",
    "load_hf",
    "subsample_counts",
    "subsample_per_class",
]


def load_splits(
    name: str,
    *,
    train: str | None = None,
    test: str | None = None,
    data_dir: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    labels: list[str] | None = None,
    label_descriptions: dict[str, str] | None = None,
) -> DatasetSplits:
    """A built-in dataset by ``name``, or the user's own ``train``/``test`` files, or ``hf:ID``.

    For files, the label set is taken from ``labels`` or else from the training file, and the
    test file is checked against it, so a label that appears only in test is an error.
    """
    from ..errors import DataError

    if train or test:
        if not (train and test):
            raise DataError(
                f"dataset {name!r}: got only {'train' if train else 'test'}; expected both a train and a test file; "
                f"fix: add the missing one to the config."
            )
        kw: dict[str, Any] = dict(text_column=text_column, label_column=label_column, label_descriptions=label_descriptions)
        tr = load_file(train, labels=labels, name=f"{name}/train", **kw)
        te = load_file(test, labels=list(tr.label_set.names), name=f"{name}/test", **kw)
        return DatasetSplits(name=name, train=tr, test=te, info={"source": {"train": str(train), "test": str(test)}})
    if name.startswith("hf:"):
        return load_hf(name[3:], text_column=text_column, label_column=label_column)
    from .builtin import load_builtin

    return load_builtin(name, data_dir=data_dir)


def load_hf(dataset_id: str, *, text_column: str = "text", label_column: str = "label", config: str | None = None) -> DatasetSplits:
    """A Hugging Face hub dataset (online users): ``train`` and ``test`` (or ``validation``) splits."""
    from ..errors import DataError, ResourceError
    from ..records import LabelSet

    try:
        import datasets
    except ImportError:
        raise ResourceError("loading 'hf:' datasets needs the 'datasets' package; fix: pip install 'sentisynth[hf]'.") from None
    try:
        dd = datasets.load_dataset(dataset_id, config)
    except Exception as e:  # network, missing dataset, auth …
        raise ResourceError(f"hf:{dataset_id}: cannot load from the hub ({type(e).__name__}: {str(e)[:160]}).") from None
    test_split = "test" if "test" in dd else "validation" if "validation" in dd else None
    if "train" not in dd or test_split is None:
        raise DataError(f"hf:{dataset_id}: splits {list(dd)}; expected 'train' and 'test' (or 'validation').")
    feature = dd["train"].features.get(label_column)
    names = list(getattr(feature, "names", []) or [])

    def convert(split: str) -> TextDataset:
        ds = dd[split]
        for col in (text_column, label_column):
            if col not in ds.column_names:
                raise DataError(f"hf:{dataset_id}: no column {col!r} in split {split!r} (found: {', '.join(ds.column_names)}).")
        labels = [names[y] if names else str(y) for y in ds[label_column]]
        return TextDataset(list(ds[text_column]), labels, LabelSet.from_labels(names or labels), name=f"{dataset_id}/{split}")

    tr = convert("train")
    te = convert(test_split)
    te.label_set = tr.label_set
    return DatasetSplits(name=f"hf:{dataset_id}", train=tr, test=te, info={"source": f"huggingface hub {dataset_id}"})
