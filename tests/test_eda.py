"""EDA generator: real WordNet, real SST-2 sentences.

WordNet comes from the local database (Debian ``wordnet-base``); the tests skip, saying why, only
where no WordNet database exists at any of the searched locations.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sentisynth.errors import ConfigError, DataError, ResourceError
from sentisynth.generators import eda as eda_module
from sentisynth.generators.base import make_generator
from sentisynth.generators.eda import EDAGenerator, clean_text, lexnames_text
from sentisynth.records import Example, SyntheticExample

SST2_TRAIN = Path("/work/shared/data/sst2/train.tsv")
SYSTEM_WORDNET = Path("/usr/share/wordnet")


def _has_wordnet() -> bool:
    try:
        eda_module.resolve_wordnet_dir(None)
        return True
    except ResourceError:
        return False


needs_wordnet = pytest.mark.skipif(
    not (SYSTEM_WORDNET / "data.noun").is_file() and not _has_wordnet(),
    reason="no WordNet database (apt-get install wordnet-base)",
)
needs_sst2 = pytest.mark.skipif(not SST2_TRAIN.is_file(), reason=f"{SST2_TRAIN} not present")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sst2_rows() -> list[tuple[str, str]]:
    """(label, sentence) rows of SST-2 train: tab-separated, header line, no quoting."""
    if not SST2_TRAIN.is_file():
        pytest.skip(f"{SST2_TRAIN} not present")
    with SST2_TRAIN.open(encoding="utf-8") as f:
        next(f)
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f]


@pytest.fixture(scope="module")
def seeds(sst2_rows) -> list[Example]:
    """40 sentences per label with at least 8 words, so every operation can change them."""
    picked: dict[str, list[Example]] = {"0": [], "1": []}
    for label, sentence in sst2_rows:
        if len(clean_text(sentence).split()) >= 8 and len(picked[label]) < 40:
            picked[label].append(Example(text=sentence, label=label))
    return picked["0"] + picked["1"]


@pytest.fixture(scope="module")
def fitted(seeds) -> EDAGenerator:
    return EDAGenerator(batch_size=64).fit(seeds)


@pytest.fixture(scope="module")
def good_movie(sst2_rows) -> Example:
    label, sentence = next((lab, s) for lab, s in sst2_rows if s == "pretty good little movie")
    return Example(text=sentence, label=label)


def _flatten(batches) -> list[SyntheticExample]:
    return [r for batch in batches for r in batch]


def _one_op(op: str, seeds: list[Example], n: int = 80, **params) -> list[SyntheticExample]:
    return _flatten(EDAGenerator(operations=(op,), **params).fit(seeds).generate(n))


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(word in it for word in short)


def _synonym_tokens(gen: EDAGenerator, words: list[str]) -> set[str]:
    """Every token of every WordNet lemma of every sense of ``words``, read straight from the reader."""
    tokens: set[str] = set()
    for word in words:
        for syn in gen.wordnet_.synsets(word):
            for name in syn.lemma_names():
                tokens.update(clean_text(name.replace("_", " ")).split())
    return tokens


# --------------------------------------------------------------------------- WordNet


@needs_wordnet
def test_wordnet_is_real_and_lexnames_correct(fitted):
    """The reader answers from WordNet 3.0, and the lexnames we supply map files correctly."""
    assert fitted.wordnet_.get_version() == "3.0"
    assert {"film", "flick", "picture"} <= set(fitted.synonyms("movie"))
    assert "movie" not in fitted.synonyms("movie")
    assert fitted.wordnet_.synset("movie.n.01").lexname() == "noun.communication"
    assert fitted.wordnet_.synset("run.v.01").lexname() == "verb.motion"
    assert all(s == clean_text(s) and s for s in fitted.synonyms("good"))


def test_lexnames_file_is_standard():
    lines = lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[44] == "44\tadj.ppl\t3"


@needs_wordnet
@pytest.mark.skipif(not (SYSTEM_WORDNET / "data.noun").is_file(), reason="no /usr/share/wordnet")
def test_debian_wordnet_is_copied_with_lexnames_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTISYNTH_CACHE", str(tmp_path))
    directory = eda_module.readable_wordnet_dir(SYSTEM_WORDNET)
    if (SYSTEM_WORDNET / "lexnames").is_file():
        assert directory == SYSTEM_WORDNET
    else:
        assert directory.parent == tmp_path / "wordnet"
        assert (directory / "lexnames").read_text() == lexnames_text()
        assert (directory / "data.noun").stat().st_size == (SYSTEM_WORDNET / "data.noun").stat().st_size
        assert eda_module.readable_wordnet_dir(SYSTEM_WORDNET) == directory  # reused, not rebuilt


# --------------------------------------------------------------------------- operations


@needs_wordnet
@needs_sst2
def test_synonym_replacement_uses_wordnet_synonyms(good_movie, fitted):
    out = _one_op("sr", [good_movie], n=40)
    gen = fitted
    original = clean_text(good_movie.text).split()
    allowed = _synonym_tokens(gen, original)
    replaced = Counter()
    for rec in out:
        assert rec.meta["operation"] == "sr" and rec.meta["changed"]
        new_tokens = [w for w in rec.text.split() if w not in original]
        assert new_tokens, rec.text
        assert set(new_tokens) <= allowed, (rec.text, set(new_tokens) - allowed)
        replaced.update(w for w in original if w not in rec.text.split())
    movie_synonyms = set(gen.wordnet_.synsets("movie")[0].lemma_names()) - {"movie"}
    assert replaced["movie"] > 0 and replaced["good"] > 0
    assert any(any(s.replace("_", " ") in rec.text for s in movie_synonyms) for rec in out)


@needs_wordnet
@needs_sst2
def test_random_deletion_removes_words(seeds):
    out = _one_op("rd", seeds, p_rd=0.3)
    for rec in out:
        source = clean_text(rec.meta["source_text"]).split()
        words = rec.text.split()
        assert rec.meta["operation"] == "rd"
        assert 1 <= len(words) < len(source)
        assert _is_subsequence(words, source)


@needs_wordnet
@needs_sst2
def test_random_swap_keeps_the_multiset_of_words(seeds):
    out = _one_op("rs", seeds)
    for rec in out:
        source = clean_text(rec.meta["source_text"]).split()
        assert rec.meta["operation"] == "rs"
        assert Counter(rec.text.split()) == Counter(source)
        assert rec.text.split() != source


@needs_wordnet
@needs_sst2
def test_random_insertion_adds_wordnet_synonyms(seeds, fitted):
    out = _one_op("ri", seeds)
    gen = fitted
    for rec in out:
        source = clean_text(rec.meta["source_text"]).split()
        words = rec.text.split()
        assert rec.meta["operation"] == "ri"
        assert len(words) > len(source)
        assert _is_subsequence(source, words)
        inserted = Counter(words) - Counter(source)
        assert set(inserted) <= _synonym_tokens(gen, source) | set(source)


# --------------------------------------------------------------------------- generate


@needs_wordnet
@needs_sst2
def test_generate_returns_exactly_n_balanced_records_with_provenance(fitted, seeds):
    batches = list(fitted.generate(101))
    assert all(1 <= len(b) <= 64 for b in batches)
    out = _flatten(batches)
    assert len(out) == 101
    assert Counter(r.label for r in out) == {"0": 51, "1": 50}
    for rec in out:
        assert isinstance(rec, SyntheticExample) and rec.generator == "eda" and rec.embedding is None
        seed = seeds[rec.meta["source_index"]]
        assert rec.label == seed.label
        assert rec.meta["source_text"] == seed.text
        assert rec.meta["operation"] in ("sr", "ri", "rs", "rd")
        assert rec.text and rec.text != clean_text(seed.text)


@needs_wordnet
@needs_sst2
def test_generate_cycles_seeds_and_operations_equally(fitted):
    out = _flatten(fitted.generate(320))  # 160 per label = 4 passes over 40 seeds
    per_source = Counter(r.meta["source_index"] for r in out)
    assert set(per_source.values()) == {4}
    ops = Counter(r.meta["operation"] for r in out)
    assert set(ops) == {"sr", "ri", "rs", "rd"}
    assert max(ops.values()) - min(ops.values()) <= 0.1 * len(out)
    # every seed gets each of the four operations once in four passes (barring rare fallbacks)
    by_seed: dict[int, set] = {}
    for r in out:
        by_seed.setdefault(r.meta["source_index"], set()).add(r.meta["operation"])
    assert sum(len(v) == 4 for v in by_seed.values()) >= 0.9 * len(by_seed)


@needs_wordnet
@needs_sst2
def test_generate_restricted_labels_and_zero(fitted):
    out = _flatten(fitted.generate(7, labels=["1"]))
    assert len(out) == 7 and {r.label for r in out} == {"1"}
    assert list(fitted.generate(0)) == []


@needs_wordnet
@needs_sst2
def test_same_seed_is_identical_and_different_seed_differs(seeds):
    def records(gen, n=60):
        return [(r.label, r.text, r.meta) for r in _flatten(gen.generate(n))]

    gen = EDAGenerator(random_state=0).fit(seeds)
    first = records(gen)
    assert records(EDAGenerator(random_state=0).fit(seeds)) == first
    assert records(EDAGenerator(random_state=1).fit(seeds)) != first
    assert records(gen) == first  # generate is a pure function of the fitted state
    # per label, a larger n extends a smaller n's records
    small = [r.text for r in _flatten(gen.generate(20)) if r.label == "0"]
    large = [r.text for r in _flatten(gen.generate(60)) if r.label == "0"]
    assert large[: len(small)] == small


@needs_wordnet
@needs_sst2
def test_generation_speed(fitted):
    start = time.perf_counter()
    out = _flatten(fitted.generate(2000))
    elapsed = time.perf_counter() - start
    assert len(out) == 2000
    assert elapsed < 30, f"2,000 EDA sentences took {elapsed:.1f} s"


@needs_wordnet
def test_registry_and_params():
    gen = make_generator("eda", alpha_sr=0.2, random_state=3)
    assert isinstance(gen, EDAGenerator) and gen.produces == "text"
    params = gen.get_params()
    assert params["alpha_sr"] == 0.2 and params["random_state"] == 3
    assert params["operations"] == ("sr", "ri", "rs", "rd") and params["n_aug"] is None
    assert not hasattr(gen, "wordnet_")  # __init__ only stores parameters


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha_sr": 2}, "The 'alpha_sr' parameter of EDAGenerator must be a float in [0, 1]; got 2 instead."),
        ({"p_rd": -0.1}, "The 'p_rd' parameter of EDAGenerator must be a float in [0, 1]; got -0.1 instead."),
        ({"alpha_ri": "0.1"}, "The 'alpha_ri' parameter of EDAGenerator must be a float in [0, 1]; got '0.1' instead."),
        ({"batch_size": 0}, "The 'batch_size' parameter of EDAGenerator must be an int >= 1; got 0 instead."),
        ({"random_state": 1.5}, "The 'random_state' parameter of EDAGenerator must be an int >= 0; got 1.5 instead."),
        ({"n_aug": 0}, "The 'n_aug' parameter of EDAGenerator must be None or an int >= 1; got 0 instead."),
        ({"operations": ("sr", "swap")}, "The 'operations' parameter of EDAGenerator must be a non-empty sequence"),
        ({"operations": "sr"}, "The 'operations' parameter of EDAGenerator must be a non-empty sequence"),
        ({"operations": ()}, "The 'operations' parameter of EDAGenerator must be a non-empty sequence"),
        ({"operations": ("rs",), "alpha_rs": 0.0}, "must be to include an operation whose alpha_*/p_rd is > 0"),
    ],
)
def test_bad_params_are_rejected_clearly(params, message):
    seeds = [Example(text="a fine film", label="pos")]
    with pytest.raises(ConfigError) as err:
        EDAGenerator(**params).fit(seeds)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_generate_before_fit():
    with pytest.raises(ConfigError, match=r"EDAGenerator is not fitted; call fit\(seed_examples\)"):
        list(EDAGenerator().generate(5))


@needs_wordnet
@needs_sst2
def test_generate_unknown_label_and_bad_n(fitted):
    with pytest.raises(ConfigError, match=r"cannot generate label 'neutral': it had no seed examples"):
        fitted.generate(5, labels=["neutral"])
    with pytest.raises(ConfigError, match=r"needs an int n >= 0; got -1"):
        fitted.generate(-1)


def test_embedding_only_seeds_are_refused():
    seeds = [Example(text="a fine film", label="pos"), Example(text=None, label="neg", embedding=np.zeros(4))]
    with pytest.raises(DataError, match=r"seed example 1 \(label 'neg'\) has only an embedding"):
        EDAGenerator().fit(seeds)


def test_seeds_without_words_are_refused():
    with pytest.raises(DataError, match=r"cannot augment label 'neg': none of its 1 seed text\(s\) contains a word"):
        EDAGenerator().fit([Example(text="a fine film", label="pos"), Example(text="10/10 !!", label="neg")])
    with pytest.raises(DataError, match="got no seed examples"):
        EDAGenerator().fit([])


def test_missing_wordnet_dir_is_a_clear_resource_error(tmp_path, monkeypatch):
    empty_env, empty_param = tmp_path / "env", tmp_path / "param"
    empty_env.mkdir()
    empty_param.mkdir()
    monkeypatch.setenv("SENTISYNTH_WORDNET_DIR", str(empty_env))
    seeds = [Example(text="a fine film", label="pos")]
    with pytest.raises(ResourceError) as err:
        EDAGenerator(wordnet_dir=str(empty_param)).fit(seeds)
    msg = str(err.value)
    assert f"No WordNet database in wordnet_dir '{empty_param}'" in msg
    assert "apt-get install wordnet-base" in msg and "SENTISYNTH_WORDNET_DIR" in msg and "\n" not in msg
    with pytest.raises(ResourceError, match=r"No WordNet database in SENTISYNTH_WORDNET_DIR"):
        EDAGenerator().fit(seeds)


def test_no_wordnet_anywhere_is_a_clear_resource_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTISYNTH_WORDNET_DIR", raising=False)
    monkeypatch.setattr(eda_module, "_implicit_wordnet_dirs", lambda: [tmp_path / "nowhere"])
    expected = r"WordNet database not found \(searched .*nowhere\); install it with `apt-get install wordnet-base`"
    with pytest.raises(ResourceError, match=expected):
        EDAGenerator().fit([Example(text="a fine film", label="pos")])
