"""Filters on small real data: each rejects what it should and keeps what it should.

Fast checks use real SST-2 sentences, the real MiniLM encoder, real datasketch MinHash and the
real VADER lexicon; the LLM teacher and the perplexity filter run real models in the slow tests.
"""

import json

import pytest

from sentisynth.errors import ConfigError
from sentisynth.filters.base import FILTERS, FilterChain, filter_names, make_filter
from sentisynth.records import SyntheticExample

from .helpers import sst2_examples, sst2_rows

POS = ["An utterly delightful film, warm, funny and beautifully acted.",
       "One of the best movies of the year; I loved every minute of it.",
       "A moving, gorgeous story with a superb lead performance."]
NEG = ["A dull, lifeless mess that wastes a talented cast.",
       "The worst film I have seen in years: boring, ugly and far too long.",
       "Painfully unfunny, with a plot that makes no sense at all."]


def syn(text, label, **meta):
    return SyntheticExample(text=text, label=label, generator="test", meta=meta)


def good_records():
    return [syn(t, "positive") for t in POS] + [syn(t, "negative") for t in NEG]


def check_partition(records, kept, rejected, name):
    assert len(kept) + len(rejected) == len(records)
    for r in rejected:
        assert set(r) == {"filter", "score", "threshold", "reason", "record"}
        assert r["filter"] == name and r["reason"]
        json.dumps(r)  # goes to rejected.jsonl as it is


# ------------------------------------------------------------------------------ length

def test_length_bounds():
    f = make_filter("length", min_words=3, max_words=12).fit()
    recs = [syn("Great.", "positive"), syn("A fine, well made film.", "positive"), syn(" ".join(["long"] * 13), "negative")]
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "length")
    assert [r.text for r in kept] == ["A fine, well made film."]
    assert sorted(r["score"] for r in rejected) == [1, 13] and "outside [3, 12]" in rejected[0]["reason"]
    with pytest.raises(ConfigError, match="max_words"):
        make_filter("length", min_words=5, max_words=2).fit()


# ------------------------------------------------------------------------------ diversity

def test_diversity_exact_and_minhash_without_embeddings():
    f = make_filter("diversity", embedding_threshold=None, seed_threshold=None, minhash_threshold=0.7).fit()
    base = "The acting in this film was wooden and the dialogue felt painfully forced throughout."
    recs = [syn(base, "negative"),
            syn("the acting in this film was WOODEN, and the dialogue felt painfully forced throughout", "negative"),  # exact after normalisation
            syn("The acting in this film was wooden and the dialogue felt painfully forced all along.", "negative"),  # near duplicate
            syn("A charming, witty script carried by two wonderful leads.", "positive")]
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "diversity")
    assert [r.text for r in kept] == [base, recs[3].text]
    assert rejected[0]["reason"].startswith("exact") and rejected[1]["reason"].startswith("near_duplicate")
    # state carries across batches of one run
    kept2, rejected2 = f.apply([syn(base, "negative")])
    assert not kept2 and rejected2[0]["reason"].startswith("exact")


def test_diversity_paraphrase_and_seed_copy_with_real_encoder():
    seed = sst2_examples("dev", 10)
    f = make_filter("diversity", minhash_threshold=None, embedding_threshold=0.9, seed_threshold=0.9).fit(seed)
    copy_of_seed = seed[0].text.rstrip(" .") + " ."
    recs = [syn("The movie was absolutely wonderful.", "positive"),
            syn("The film was absolutely wonderful.", "positive"),  # paraphrase of the first
            syn(copy_of_seed, seed[0].label),  # near-copy of a seed example
            syn("A tedious, overlong slog with no laughs.", "negative")]
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "diversity")
    assert [r.text for r in kept] == [recs[0].text, recs[3].text]
    reasons = sorted(r["reason"].split(":")[0] for r in rejected)
    assert reasons == ["paraphrase", "seed_copy"]
    assert all(r["score"] >= 0.8 for r in rejected)  # cosine, or the MinHash Jaccard estimate near the LSH threshold


# ------------------------------------------------------------------------------ contamination

def test_contamination_finds_copies_and_paraphrases_of_eval_texts():
    eval_texts = [t for t, _ in sst2_rows("test", 50)]
    long_test = next(t for t in eval_texts if len(t.split()) >= 12)
    short_test = next(t for t in eval_texts if 3 <= len(t.split()) < 8)
    f = make_filter("contamination", ngram=8, embedding_threshold=0.95).fit([], eval_texts)
    recs = [syn("I think " + long_test + " and that is all.", "positive"),  # contains an 8-gram of a test text
            syn(short_test.upper(), "negative"),  # a short test text, case changed
            *good_records()]
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "contamination")
    assert len(rejected) == 2 and f.found_ == 2
    assert "8-word n-gram" in rejected[0]["reason"] and rejected[1]["reason"] == "equals an evaluation text"
    assert [r.text for r in kept] == POS + NEG
    with pytest.raises(ConfigError, match="no evaluation texts"):
        make_filter("contamination").fit([], [])


def test_contamination_loads_a_named_dataset_split():
    f = make_filter("contamination", dataset="sst2", splits=["test"], embedding_threshold=None).fit()
    test_text = sst2_rows("test", 2)[0][0]
    kept, rejected = f.apply([syn(test_text, "negative"), *good_records()])
    assert len(rejected) == 1 and f.n_eval_ == 1821


# ------------------------------------------------------------------------------ teacher

def test_classifier_teacher_is_trained_on_the_seed_set_only():
    seed = sst2_examples("dev", 40)
    f = make_filter("teacher", teacher="classifier").fit(seed)
    flipped = [syn(t, "negative") for t in POS] + [syn(t, "positive") for t in NEG]
    kept, rejected = f.apply(good_records() + flipped)
    check_partition(good_records() + flipped, kept, rejected, "teacher")
    assert {r.text for r in kept} == set(POS + NEG)
    assert len(rejected) == 6 and all("record says" in r["reason"] for r in rejected)
    assert all(set(r.meta["teacher"]) == {"negative", "positive"} for r in kept)


def test_teacher_relabel_and_confidence():
    seed = sst2_examples("dev", 40)
    f = make_filter("teacher", teacher="vader", relabel=True).fit(seed)
    kept, rejected = f.apply([syn(POS[0], "negative"), syn(NEG[1], "negative")])
    assert not rejected and [r.label for r in kept] == ["positive", "negative"]
    assert kept[0].meta["relabeled_from"] == "negative"
    strict = make_filter("teacher", teacher="vader", min_confidence=0.9).fit(seed)  # P(positive) 0.60 vs 0.96
    kept, rejected = strict.apply([syn("It was fine, I guess.", "positive"), syn(POS[0], "positive")])
    assert [r.text for r in kept] == [POS[0]] and "confidence" in rejected[0]["reason"]
    with pytest.raises(ConfigError, match="negative/neutral/positive"):
        make_filter("teacher", teacher="vader").fit([syn("x", "sports"), syn("y", "world")]).apply([syn("x", "sports")])


def test_label_offsets_undo_a_judge_that_never_answers_one_label():
    import numpy as np

    from sentisynth.filters.teacher import fit_label_offsets

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    logits = rng.normal(size=(90, 3)) + 2.0 * np.eye(3)[y]
    logits[:, 2] -= 4.0  # the judge's prior against label 2: it is never its answer
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    before = (log_probs.argmax(1) == y).mean()
    b = fit_label_offsets(log_probs, y, l2=0.001)
    after = ((log_probs + b).argmax(1) == y).mean()
    assert (log_probs.argmax(1) == 2).sum() == 0 and abs(b.sum()) < 1e-6
    assert b[2] - b[:2].mean() > 2.0 and after > before + 0.2


def test_calibrated_teacher_reports_its_offsets_and_refuses_what_it_cannot_calibrate():
    seed = sst2_examples("dev", 40)
    f = make_filter("teacher", teacher="vader", calibrate=True).fit(seed)
    cal = f.calibration_
    assert set(cal["offsets"]) == {"negative", "positive"} and abs(sum(cal["offsets"].values())) < 1e-3
    assert cal["n_seed"] == 40 and 0.5 <= cal["seed_accuracy_after"] <= 1.0
    kept, rejected = f.apply(good_records())
    check_partition(good_records(), kept, rejected, "teacher")
    assert all(abs(sum(r.meta["teacher"].values()) - 1) < 1e-3 for r in kept)
    chain = FilterChain([f]).fit(seed)
    chain.apply(good_records())
    assert chain.report()["teacher"]["calibration"]["offsets"] == f.calibration_["offsets"]
    with pytest.raises(ConfigError, match="trained on the seed examples already"):
        make_filter("teacher", teacher="classifier", calibrate=True).fit(seed)
    with pytest.raises(ConfigError, match="at least two seed examples of every label"):
        make_filter("teacher", teacher="vader", calibrate=True).fit(seed[:1] + [syn(POS[0], "positive")])


# ------------------------------------------------------------------------------ chain and conformance

def test_chain_counts_per_filter_and_label():
    chain = FilterChain.from_config([{"name": "length", "params": {"min_words": 4}},
                                     {"name": "diversity", "params": {"embedding_threshold": None, "seed_threshold": None}}]).fit()
    recs = good_records() + [syn("Bad.", "negative"), syn(POS[0], "positive")]
    kept, rejected = chain.apply(recs)
    assert len(kept) == 6 and [r["filter"] for r in rejected] == ["length", "diversity"]
    rep = chain.report()
    assert rep["length"] == {"seen": 8, "rejected": 1, "seen_per_label": {"positive": 4, "negative": 4},
                             "rejected_per_label": {"negative": 1}}
    assert rep["diversity"]["seen"] == 7 and rep["diversity"]["rejected_per_label"] == {"positive": 1}
    with pytest.raises(ConfigError, match="Unknown filter 'tox'"):
        FilterChain.from_config([{"name": "tox"}])
    with pytest.raises(ConfigError, match="Unknown parameter"):
        FilterChain.from_config([{"name": "length", "params": {"min_len": 3}}])


CHEAP_PARAMS = {
    "teacher": {"teacher": "vader"},
    "perplexity": {"max_perplexity": 1e9},  # threshold without scoring the seed set; model loads on apply
    "contamination": {"embedding_threshold": None},
    "diversity": {"embedding_threshold": None, "seed_threshold": None},
}


@pytest.mark.parametrize("name", filter_names())
def test_every_filter_follows_the_protocol(name):
    f = make_filter(name, **CHEAP_PARAMS.get(name, {}))
    assert f.get_params() == {**f.get_params()} and name in FILTERS
    with pytest.raises(ConfigError, match="not fitted"):
        f.apply(good_records())
    if name == "perplexity":
        pytest.importorskip("transformers")
    f.fit(sst2_examples("dev", 10), [t for t, _ in sst2_rows("test", 20)] if f.needs_eval_texts else [])
    recs = good_records()
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, name)
    assert all(isinstance(r, SyntheticExample) for r in kept)
    assert f.apply([]) == ([], [])
