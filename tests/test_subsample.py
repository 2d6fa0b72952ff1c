"""Low-resource subsets: k per class and explicit per-class counts, seeded and reproducible.

Uses a small synthetic TextDataset and the real SST-2 training pool (shared/data/sst2, found by
``load_builtin``; the SST-2 tests skip, saying why, where that folder is absent).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sentisynth.data import TextDataset, subsample_counts, subsample_per_class
from sentisynth.errors import DataError, ResourceError
from sentisynth.records import LabelSet


def make_data(counts: dict[str, int], name: str = "toy") -> TextDataset:
    texts, labels = [], []
    for lab, n in counts.items():
        for i in range(n):
            texts.append(f"{lab} example {i}")
            labels.append(lab)
    # interleave so that a class's indices are not one contiguous block
    order = np.random.default_rng(123).permutation(len(texts))
    return TextDataset(
        texts=[texts[i] for i in order],
        labels=[labels[i] for i in order],
        label_set=LabelSet.from_labels(counts),
        name=name,
    )


TOY = make_data({"neg": 30, "neu": 12, "pos": 40})


def one_line_error(fn, *args, **kw) -> str:
    with pytest.raises(DataError) as err:
        fn(*args, **kw)
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert "expected" in msg, msg
    return msg


_SST2: dict[str, object] = {}


def sst2_train() -> TextDataset:
    if "train" not in _SST2:
        from sentisynth.data.builtin import load_builtin

        try:
            _SST2["train"] = load_builtin("sst2").train
        except (DataError, ResourceError) as e:
            pytest.skip(f"SST-2 not available: {e}")
    return _SST2["train"]


# ----------------------------------------------------------------------------------- k per class


@pytest.mark.parametrize("k", [1, 5, 12])
def test_k_per_class_exact_counts(k):
    sub = subsample_per_class(TOY, k, seed=0)
    assert len(sub) == 3 * k
    assert sub.counts() == {"neg": k, "neu": k, "pos": k}
    assert sub.label_set == TOY.label_set


def test_subset_rows_come_from_the_data_with_their_labels():
    sub = subsample_per_class(TOY, 5, seed=3)
    pairs = set(zip(TOY.texts, TOY.labels))
    assert all((t, y) in pairs for t, y in zip(sub.texts, sub.labels))
    assert len(set(sub.texts)) == len(sub)  # without replacement
    assert all(t.startswith(y) for t, y in zip(sub.texts, sub.labels))


def test_subset_keeps_dataset_order_and_names_the_seed():
    sub = subsample_per_class(TOY, 4, seed=7)
    positions = [TOY.texts.index(t) for t in sub.texts]
    assert positions == sorted(positions)
    assert sub.name == "toy[seed=7]"


def test_same_seed_same_subset():
    a = subsample_per_class(TOY, 5, seed=11)
    b = subsample_per_class(TOY, 5, seed=11)
    assert a.texts == b.texts and a.labels == b.labels
    assert a.content_hash() == b.content_hash()


def test_different_seeds_different_subsets():
    subsets = {tuple(subsample_per_class(TOY, 5, seed=s).texts) for s in range(10)}
    assert len(subsets) == 10


def test_k_equal_to_class_size_takes_the_whole_class():
    sub = subsample_per_class(TOY, 12, seed=0)
    assert sorted(t for t, y in zip(sub.texts, sub.labels) if y == "neu") == sorted(
        t for t, y in zip(TOY.texts, TOY.labels) if y == "neu"
    )


def test_numpy_integer_k_is_accepted():
    assert len(subsample_per_class(TOY, np.int64(3), seed=0)) == 9


# ----------------------------------------------------------------------------------- counts


def test_counts_give_imbalanced_subsets():
    sub = subsample_counts(TOY, {"neg": 3, "neu": 0, "pos": 20}, seed=0)
    assert sub.counts() == {"neg": 3, "neu": 0, "pos": 20}
    assert sub.label_set == TOY.label_set  # a class with 0 examples stays in the label set


def test_missing_label_in_counts_means_zero():
    assert subsample_counts(TOY, {"neg": 2, "pos": 2}, seed=0).counts() == {"neg": 2, "neu": 0, "pos": 2}


def test_one_class_is_unchanged_when_another_class_count_changes():
    def of(sub, lab):
        return [t for t, y in zip(sub.texts, sub.labels) if y == lab]

    base = subsample_counts(TOY, {"neg": 5, "neu": 5, "pos": 5}, seed=4)
    for pos in (1, 10, 40):
        other = subsample_counts(TOY, {"neg": 5, "neu": 5, "pos": pos}, seed=4)
        assert of(other, "neg") == of(base, "neg")
        assert of(other, "neu") == of(base, "neu")
        assert len(of(other, "pos")) == pos
    # and it matches subsample_per_class with the same k and seed
    assert subsample_per_class(TOY, 5, seed=4).texts == base.texts


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("k", [0, -1, 2.0, "5", True, None])
def test_k_below_one_or_not_an_int(k):
    with pytest.raises(DataError) as err:
        subsample_per_class(TOY, k, seed=0)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"The 'k' parameter of subsample_per_class must be an int >= 1; got {k!r} instead." == msg


def test_unknown_label_in_counts():
    msg = one_line_error(subsample_counts, TOY, {"neg": 2, "positive": 2}, seed=0)
    assert msg.startswith("toy: ")
    assert "label(s) ['positive']" in msg and "[neg, neu, pos]" in msg and "fix: use those label names" in msg


def test_counts_selecting_fewer_than_two_classes():
    msg = one_line_error(subsample_counts, TOY, {"neg": 5, "neu": 0}, seed=0)
    assert "select fewer than two classes" in msg and "fix:" in msg
    one_line_error(subsample_counts, TOY, {}, seed=0)


@pytest.mark.parametrize("bad", [-1, 2.5, "3"])
def test_bad_count_value(bad):
    msg = one_line_error(subsample_counts, TOY, {"neg": 2, "pos": bad}, seed=0)
    assert f"count for class 'pos' is {bad!r}; expected an int >= 0" in msg


def test_class_too_small_names_class_and_k():
    msg = one_line_error(subsample_per_class, TOY, 13, seed=0)
    assert msg.startswith("toy: ")
    assert "class 'neu' has 12 examples; expected at least 13" in msg
    assert "fix: lower k (or the count for 'neu') or add examples of 'neu'" in msg


def test_single_class_dataset():
    data = make_data({"only": 10}, name="mono")
    msg = one_line_error(subsample_per_class, data, 2, seed=0)
    assert msg.startswith("mono: a single class") and "fix:" in msg


def test_class_in_label_set_without_examples():
    data = TextDataset(["a", "b", "c"], ["x", "x", "y"], LabelSet(names=("x", "y", "z")), name="gap")
    msg = one_line_error(subsample_per_class, data, 1, seed=0)
    assert "class 'z' has 0 examples; expected at least 1" in msg


# ----------------------------------------------------------------------------------- real SST-2


def test_sst2_k_per_class():
    train = sst2_train()
    assert set(train.label_set.names) == {"negative", "positive"}
    for k in (10, 50):
        sub = subsample_per_class(train, k, seed=0)
        assert sub.counts() == {"negative": k, "positive": k}
        assert all(t.strip() for t in sub.texts)


def test_sst2_reproducible_and_seed_dependent():
    train = sst2_train()
    a = subsample_per_class(train, 10, seed=1)
    assert a.texts == subsample_per_class(train, 10, seed=1).texts
    hashes = {subsample_per_class(train, 10, seed=s).content_hash() for s in range(10)}
    assert len(hashes) == 10
    # ten seeds of k=10 overlap little in a 12k pool
    seen = Counter(t for s in range(10) for t in subsample_per_class(train, 10, seed=s).texts)
    assert len(seen) > 150


def test_sst2_one_class_stable_under_imbalance():
    train = sst2_train()
    base = subsample_counts(train, {"negative": 20, "positive": 20}, seed=5)
    skew = subsample_counts(train, {"negative": 20, "positive": 200}, seed=5)
    neg = lambda d: [t for t, y in zip(d.texts, d.labels) if y == "negative"]  # noqa: E731
    assert neg(base) == neg(skew)
    assert skew.counts() == {"negative": 20, "positive": 200}


def test_sst2_class_too_small():
    train = sst2_train()
    n_neg = train.counts()["negative"]
    msg = one_line_error(subsample_per_class, train, n_neg + 1, seed=0)
    assert f"class 'negative' has {n_neg} examples; expected at least {n_neg + 1}" in msg
