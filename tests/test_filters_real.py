"""The model-based filters with real models: the LLM zero-shot teacher (Qwen2.5-0.5B through
llama.cpp and SmolLM2 through transformers) and the perplexity filter (SmolLM2-135M)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentisynth.filters.base import make_filter

from .helpers import sst2_examples
from .test_filters import NEG, POS, check_partition, good_records, syn

pytestmark = pytest.mark.slow


def test_llm_teacher_rejects_wrong_labels_and_caches_scores(tmp_path):
    f = make_filter("teacher", teacher="llm", model="qwen2.5-0.5b-instruct", cache_path=str(tmp_path / "calls.sqlite"),
                    instruction="Classify the sentiment of movie reviews.").fit(sst2_examples("dev", 10))
    flipped = [syn(POS[0], "negative"), syn(NEG[0], "positive")]
    recs = good_records() + flipped
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "teacher")
    assert {r["record"]["text"] for r in rejected} == {POS[0], NEG[0]}
    for r in kept:
        p = r.meta["teacher"]
        assert math.isclose(sum(p.values()), 1.0, abs_tol=1e-3) and p[r.label] > 0.5
    calls = f.backend_.calls
    f.fit(sst2_examples("dev", 10)).apply(recs)  # same texts again: every score from the cache
    assert f.backend_.calls == calls and f.backend_.hits >= len(recs)
    f.close()


def test_transformers_choice_logprobs_agree_with_sentiment():
    from sentisynth.backends.base import make_backend

    b = make_backend("transformers", model="smollm2-135m").load()
    prompts = [[{"role": "user", "content": f"Review: {t}\nSentiment (positive or negative):"}] for t in (POS[1], NEG[1])]
    lp = np.asarray(b.choice_logprobs(prompts, [" positive", " negative"]))
    assert lp.shape == (2, 2) and (lp < 0).all() and np.isfinite(lp).all()
    b.close()


def test_perplexity_threshold_from_the_seed_set_rejects_gibberish():
    f = make_filter("perplexity", model="smollm2-135m", percentile=95).fit(sst2_examples("dev", 20))
    assert len(f.seed_perplexities_) == 20 and f.threshold_ >= np.median(f.seed_perplexities_)
    gibberish = syn("zxq vlorp snarf bleeg qwop dribble fnord glimp wuzz", "negative")
    recs = good_records() + [gibberish]
    kept, rejected = f.apply(recs)
    check_partition(recs, kept, rejected, "perplexity")
    assert [r["record"]["text"] for r in rejected] == [gibberish.text]
    assert rejected[0]["score"] > f.threshold_ and len(kept) == len(good_records())
    f.close()


TREC_JUDGE = {
    "instruction": ("Classify the type of answer a question asks for: an abbreviation, a description (definition, manner, "
                    "reason), an entity (animal, color, food, product, event, term), a human (person, group, title), a "
                    "location, or a number (count, date, distance, price, period)."),
    "label_words": {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity", "HUM": "human",
                    "LOC": "location", "NUM": "number"},
}


def test_calibration_makes_a_one_sided_llm_judge_answer_every_kind_of_question(tmp_path):
    """Qwen2.5-0.5B as a TREC judge nearly never answers "human" or "location" (the prefix-teacher grid emptied
    those classes); offsets fitted on 10 real questions per class make it answer them and agree with more of
    the seed labels. Seeds from TREC's train split; the held-out check on its dev split is
    scripts/judge_accuracy.py (macro-F1 13.5 -> 45.5 on 300 dev questions)."""
    import sentisynth as ss
    from sentisynth.records import Example

    seeds = ss.sample(ss.load_dataset("trec"), k=10, seed=100)
    examples = [Example(text=t, label=y) for t, y in zip(seeds.texts, seeds.labels)]
    f = make_filter("teacher", teacher="llm", model="qwen2.5-0.5b-instruct", calibrate=True,
                    cache_path=str(tmp_path / "calls.sqlite"), **TREC_JUDGE).fit(examples)
    cal = f.calibration_
    raw = f._raw_proba(examples, f.labels_).argmax(1)
    calibrated = f.predict_proba(examples, f.labels_).argmax(1)
    assert cal["n_seed"] == 60 and cal["seed_accuracy_after"] >= cal["seed_accuracy_before"] + 0.1
    assert len(set(calibrated)) > len(set(raw))
    assert cal["offsets"]["HUM"] > 0 and cal["offsets"]["LOC"] > 0
    f.close()
