"""Hierarchical generator policy with a deterministic fake LLM: sizing, grounding, dedup, resume."""

import hashlib
import io
import json
import re

import pytest

from sentisynth.errors import ConfigError
from sentisynth.generators.base import make_generator
from sentisynth.generators.hierarchical import normalize, parse_items, plan_shape
from sentisynth.pipeline import write_generation_run
from sentisynth.progress import Progress
from sentisynth.store import read_json

from .fake_backend import FakeBackend, Recording, crashing


def _gen(tmp_path, backend=None, **kw):
    params = dict(instruction="Classify movie review sentiment.", labels=["negative", "positive"],
                  backend=backend or FakeBackend(), cache_path=str(tmp_path / "calls.sqlite"))
    params.update(kw)
    return make_generator("hierarchical", **params)


def _records(gen, n):
    return [r for batch in gen.generate(n) for r in batch]


def test_parse_items_accepts_json_fences_chatter_and_lists():
    assert parse_items('{"items": ["a b", "c d"]}') == (["a b", "c d"], None)
    assert parse_items('```json\n{"items": ["x"]}\n```') == (["x"], None)
    items, why = parse_items('Here: {"items": ["x", "y"]} hope it helps')
    assert items == ["x", "y"] and "embedded" in why
    items, why = parse_items("1. first one\n2) second one\n- third")
    assert items == ["first one", "second one", "third"] and "not json" in why
    assert parse_items("")[0] == []


def test_plan_shape_products_and_errors():
    s, t, u, k = plan_shape(100)
    assert s * t * u * k >= 100 and (s, t, u, k) == (3, 5, 2, 4)
    assert plan_shape(4) == (3, 2, 1, 1)
    assert plan_shape(6, 2, 3, 1, 1) == (2, 3, 1, 1)
    with pytest.raises(ConfigError, match="smaller than the 10 requested"):
        plan_shape(10, 1, 1, 1, 1)


def test_plan_shape_caps_samples_per_subtopic_by_growing_the_tree():
    # up to 3 x 5 x 2 x cap records per label the cap changes nothing (the main job's and the 160-record pools' trees)
    for per_label in (10, 40, 80, 150):
        assert plan_shape(per_label, max_sample_per_subtopic=5) == plan_shape(per_label)
    assert plan_shape(640) == (3, 5, 2, 22)  # the fixed tree: ~22 texts per subtopic
    s, t, u, k = plan_shape(640, max_sample_per_subtopic=5)
    assert k <= 5 and s * t * u * k >= 640 and (s, t, u) == (3, 10, 5)  # topics grow about twice as fast as subtopics
    for per_label in (151, 333, 1000, 5000):
        s, t, u, k = plan_shape(per_label, max_sample_per_subtopic=4)
        assert k <= 4 and s * t * u * k >= per_label
    # a dimension the user fixed stays fixed; the free one carries the growth, and with none free the samples grow
    assert plan_shape(640, n_topic=5, max_sample_per_subtopic=5) == (3, 5, 9, 5)
    assert plan_shape(640, n_subtopic=2, max_sample_per_subtopic=5) == (3, 22, 2, 5)
    assert plan_shape(640, n_topic=5, n_subtopic=2, max_sample_per_subtopic=5) == (3, 5, 2, 22)
    assert plan_shape(100, sample_per_subtopic=4, max_sample_per_subtopic=2) == (3, 5, 2, 4)  # an explicit count wins
    with pytest.raises(ConfigError, match="max_sample_per_subtopic. parameter of HierarchicalGenerator must be an int >= 1"):
        plan_shape(640, max_sample_per_subtopic=0)


def test_exact_count_balanced_grounded_and_unique(tmp_path):
    gen = _gen(tmp_path).fit([])
    recs = _records(gen, 41)
    assert len(recs) == 41
    assert {r.label for r in recs} == {"negative", "positive"}
    assert abs(sum(r.label == "negative" for r in recs) - 20.5) <= 0.5
    grounding = [(r.label, r.meta["source_type"], r.meta["topic"], r.meta["subtopic"], r.meta["slot"]) for r in recs]
    assert len(set(grounding)) == len(grounding)
    assert len({normalize(r.text) for r in recs}) == len(recs)
    assert all(r.text and r.label for r in recs)
    rep = gen.report()
    assert rep["stages"]["examples"]["calls"] > 0 and rep["stages"]["source_types"]["calls"] == 1


def test_explicit_shape_is_records_per_label(tmp_path):
    gen = _gen(tmp_path, n_source_type=2, n_topic=2, n_subtopic=2, sample_per_subtopic=3).fit([])
    recs = _records(gen, 48)
    assert len(recs) == 48
    combos = {(r.label, r.meta["source_type"], r.meta["topic"], r.meta["subtopic"]) for r in recs}
    assert len(combos) == 2 * 2 * 2 * 2  # labels x sources x topics x subtopics, each used
    with pytest.raises(ConfigError, match="explicit shape gives 24"):
        gen.generate(50)


def test_a_capped_tree_spreads_a_large_run_over_more_combinations(tmp_path):
    from collections import Counter

    def per_combo(recs):
        return Counter((r.label, r.meta["source_type"], r.meta["topic"], r.meta["subtopic"]) for r in recs)

    fixed = per_combo(_records(_gen(tmp_path / "fixed").fit([]), 400))  # 200 per label: the 3 x 5 x 2 tree
    capped_gen = _gen(tmp_path / "capped", max_sample_per_subtopic=4).fit([])
    capped_recs = _records(capped_gen, 400)
    capped = per_combo(capped_recs)
    assert len(capped_recs) == 400 and len({normalize(r.text) for r in capped_recs}) == 400
    assert max(fixed.values()) == 7 and len(fixed) <= 60  # 2 labels x 30 combinations at most
    assert max(capped.values()) <= 4 and len(capped) >= 100
    assert tuple(capped_gen.report()["tree"]["shape"]) == (3, 6, 3, 4)


def test_shared_topics_give_every_label_the_same_combinations(tmp_path):
    from collections import Counter

    from sentisynth.records import Example

    seeds = [Example(f"a {lab} seed text number {i}", lab) for lab in ("negative", "positive") for i in range(5)]
    backend = Recording()
    gen = _gen(tmp_path, backend=backend, shared_topics=True, grounding=True).fit(seeds)
    recs = _records(gen, 60)
    combos = {lab: Counter((r.meta["source_type"], r.meta["topic"], r.meta["subtopic"]) for r in recs if r.label == lab)
              for lab in ("negative", "positive")}
    assert len(recs) == 60 and len({normalize(r.text) for r in recs}) == 60
    assert combos["negative"] == combos["positive"] and len(combos["negative"]) == 3 * 5 * 2  # one tree for both labels
    topic_prompts = [p for p in backend.prompts if "List 5 different topics" in p]
    assert len(topic_prompts) == 3  # once per source type, not per (source type, label)
    assert all("whatever their label" in p and "Label:" not in p for p in topic_prompts)
    assert all("a negative seed" in p and "a positive seed" in p for p in topic_prompts)  # grounded in every label's texts
    sub_prompts = [p for p in backend.prompts if "subtopics" in p]
    assert len(sub_prompts) == 15 and all("Label:" not in p for p in sub_prompts)
    # without the option the tree is per label, as before
    plain = _gen(tmp_path / "plain").fit([])
    per_label = [r for r in _records(plain, 60)]
    assert not ({r.meta["topic"] for r in per_label if r.label == "negative"} & {r.meta["topic"] for r in per_label if r.label == "positive"})


def test_bad_outputs_are_repaired_or_retried_and_kept(tmp_path):
    gen = _gen(tmp_path, backend=FakeBackend(garbage_every=3, duplicate_every=4)).fit([])
    recs = _records(gen, 30)
    assert len(recs) == 30 and len({normalize(r.text) for r in recs}) == 30
    assert gen.failures_ and all(f["raw"] and f["reason"] for f in gen.failures_)
    assert sum(s["repairs"] for s in gen.stats_.values()) > 0


def test_second_run_is_served_from_the_call_cache(tmp_path):
    a = _records(_gen(tmp_path).fit([]), 20)
    gen = _gen(tmp_path, backend=crashing(0)).fit([])  # any real call would crash
    b = _records(gen, 20)
    assert [r.text for r in a] == [r.text for r in b]
    assert gen.stats_["examples"]["calls"] == 0 and gen.stats_["examples"]["cache_hits"] > 0


def test_answers_are_cached_one_by_one_so_a_crash_mid_batch_keeps_the_finished_ones(tmp_path):
    from sentisynth.backends.base import ChatRequest
    from sentisynth.backends.call_cache import CachedBackend, CallCache

    reqs = [ChatRequest(messages=[{"role": "user", "content": f"topic {i}: Return ...2 strings"}], seed=i) for i in range(8)]
    crashed = CachedBackend(crashing(3), CallCache(tmp_path / "calls.sqlite"))
    with pytest.raises(KeyboardInterrupt):
        crashed.chat_many(reqs)
    crashed.close()
    rerun = CachedBackend(crashing(5), CallCache(tmp_path / "calls.sqlite"))  # 3 cached + 5 new: no crash
    seen = []
    out = rerun.chat_many(reqs, on_answer=lambda i, c: seen.append(i))
    assert [c.cached for c in out] == [True] * 3 + [False] * 5
    assert rerun.hits == 3 and rerun.calls == 5 and seen == [3, 4, 5, 6, 7]
    assert [c.text for c in out] == [c.text for c in CachedBackend(FakeBackend(), CallCache(tmp_path / "x.sqlite")).chat_many(reqs)]

    class OldStyle(FakeBackend):  # a user's backend whose chat_many predates on_answer
        def chat_many(self, requests):
            return [self.chat(r) for r in requests]

    old = CachedBackend(OldStyle(), CallCache(tmp_path / "old.sqlite"))
    assert [c.text for c in old.chat_many(reqs)] == [c.text for c in out] and old.calls == 8
    assert all(c.cached for c in old.chat_many(reqs))


def test_pipeline_resumes_after_a_crash_without_loss_or_duplicates(tmp_path):
    ref = tmp_path / "ref"
    write_generation_run(ref, _gen(tmp_path / "c1"), None, 40, seed=0, source="test")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        write_generation_run(out, _gen(tmp_path / "c2", backend=crashing(60), batch_size=2), None, 40, seed=0, source="test")
    partial = out / "synthetic.jsonl.partial"
    assert partial.exists() and not (out / "synthetic.jsonl").exists()
    done_before = len(partial.read_text().splitlines())
    assert 0 < done_before < 40
    with open(partial, "a") as fh:
        fh.write('{"text": "torn')  # a write cut by the crash
    write_generation_run(out, _gen(tmp_path / "c2", batch_size=2), None, 40, seed=0, source="test")
    got = [json.loads(x) for x in (out / "synthetic.jsonl").read_text().splitlines()]
    want = [json.loads(x) for x in (ref / "synthetic.jsonl").read_text().splitlines()]
    assert len(got) == 40 and len({g["text"] for g in got}) == 40
    m = read_json(out / "manifest.json")
    assert m["status"] == "complete" and m["counts"]["resumed_from"] == done_before
    assert m["counts"]["per_label"] == {"negative": 20, "positive": 20}
    assert (out / "synthetic.parquet").exists()
    # batch size does not change content for the same seed: same records as the uninterrupted run
    assert sorted(g["text"] for g in got) == sorted(w["text"] for w in want)


def test_invalid_parameters(tmp_path):
    with pytest.raises(ConfigError, match="at least two distinct labels"):
        _gen(tmp_path, labels=["only"]).fit([])
    with pytest.raises(ConfigError, match="non-empty task description"):
        _gen(tmp_path, instruction=" ").fit([])


def test_api_keys_in_backend_params_never_reach_params_or_manifest(tmp_path):
    gen = _gen(tmp_path, backend="openai", backend_params={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-live-SECRET"})
    assert "sk-live-SECRET" not in json.dumps(gen.get_params())
    assert gen.get_params()["backend_params"]["api_key"] == "<set>"


class _StuckSubtopics(FakeBackend):
    """For about half the subtopics, one sentence whatever is asked (a small model out of ideas)."""

    def chat(self, request):
        comp = super().chat(request)
        user = request.messages[-1]["content"]
        sub = re.search(r"Subtopic: (.*)", user)
        if sub and hashlib.sha256(sub.group(1).encode()).hexdigest()[0] < "8":
            n = len(json.loads(comp.text)["items"])
            comp.text = json.dumps({"items": [f"only idea for {sub.group(1)}"] * n})
        return comp


def test_short_subtopics_are_topped_up_from_other_combinations(tmp_path):
    """A job that never yields enough distinct examples no longer fails the run: the shortfall comes
    from other combinations of the same label, and every record stays uniquely grounded."""
    gen = _gen(tmp_path, backend=_StuckSubtopics(), sample_per_subtopic=3, n_source_type=1, n_topic=2, n_subtopic=2).fit([])
    recs = _records(gen, 20)
    assert len(recs) == 20 and sum(r.label == "negative" for r in recs) == 10
    assert len({normalize(r.text) for r in recs}) == 20
    grounding = [(r.label, r.meta["source_type"], r.meta["topic"], r.meta["subtopic"], r.meta["slot"]) for r in recs]
    assert len(set(grounding)) == 20
    assert gen.report()["stages"]["examples"]["top_ups"] > 0


class _OneAngleTopics(FakeBackend):
    """Asked for the subtopics of some topics, always the same single angle (tweets' "Deflategate":
    the main job on tweets ended with "stage 'subtopics': 1 request(s) still short")."""

    def chat(self, request):
        comp = super().chat(request)
        user = request.messages[-1]["content"]
        if "angles (subtopics)" in user:
            topic = re.search(r"Topic: (.*)", user).group(1)
            if hashlib.sha256(topic.encode()).hexdigest()[0] < "8":
                comp.text = json.dumps({"items": ["the one angle there is"]})
        return comp


def test_a_topic_with_too_few_distinct_subtopics_is_filled_with_the_topic(tmp_path):
    gen = _gen(tmp_path, backend=_OneAngleTopics(), sample_per_subtopic=1, n_source_type=1, n_topic=3, n_subtopic=3).fit([])
    recs = _records(gen, 18)
    assert len(recs) == 18 and len({normalize(r.text) for r in recs}) == 18
    filled = gen.report()["stages"]["subtopics"]["filled_with_topic"]
    assert filled > 0
    subs = gen.tree_["subtopics"]
    assert all(len(v) == 3 and len({normalize(x) for x in v}) == 3 for v in subs.values())
    short = [k for k, v in subs.items() if "the one angle there is" in v]
    assert short and all(subs[k][1] == k.split("|")[-1] for k in short)  # the topic itself comes first
    assert filled == 2 * len(short)


def _tasks(log: str) -> list[list[tuple[str, int, int]]]:
    """The progress lines of a log grouped by task: each ``progress: STAGE 0/T`` line starts one."""
    tasks: list[list[tuple[str, int, int]]] = []
    for line in log.splitlines():
        m = re.match(r"progress: (\w+) (\d+)/(\d+)", line)
        if m:
            row = (m.group(1), int(m.group(2)), int(m.group(3)))
            if row[1] == 0 and not (tasks and tasks[-1][-1][0] == row[0] and tasks[-1][-1][1] == 0):
                tasks.append([])
            tasks[-1].append(row)
    return tasks


def test_progress_counts_every_answer_as_it_arrives(tmp_path):
    """One task per stage call; it moves with each answer (a call of ``batch_size`` requests takes
    minutes on a CPU), not once per call, and it ends full, retries and cached answers included."""
    log = io.StringIO()

    class Watching(FakeBackend):
        def chat(self, request):
            stage, done, _ = _tasks(log.getvalue())[-1][-1]
            self.seen.append((stage, done))  # the progress as this answer starts
            return super().chat(request)

    backend = Watching(garbage_every=3)
    backend.seen = []
    gen = _gen(tmp_path, backend=backend, progress=True).fit([])
    gen.progress_ = Progress(True, mode="lines", stream=log, interval=0)  # every step as a line
    assert len(_records(gen, 30)) == 30
    tasks = _tasks(log.getvalue())
    assert [t[0][0] for t in tasks[:4]] == ["source_types", "topics", "subtopics", "examples"]
    assert all(t[-1][1] == t[-1][2] for t in tasks)  # each ends full
    assert sum(t[-1][2] for t in tasks) == len(backend.seen)  # every answer counted once, retries too
    assert sum(s["retries"] + s["parse_failures"] + s["repairs"] for s in gen.stats_.values()) > 0
    for stage in ("topics", "subtopics", "examples"):  # one call each here (batch_size 64): it moved within it
        counts = [k for d, k in backend.seen if d == stage]
        assert len(counts) > 1 and counts == list(range(len(counts)))
    gen.close()

    cached_log = io.StringIO()
    cached = _gen(tmp_path, backend=crashing(0), progress=True).fit([])  # every answer from the cache
    cached.progress_ = Progress(True, mode="lines", stream=cached_log, interval=0)
    assert len(_records(cached, 30)) == 30
    assert all(t[-1][1] == t[-1][2] for t in _tasks(cached_log.getvalue()))
    cached.close()
