"""Requests decoded together (``LlamaCppBackend(n_parallel=...)``) on a real model (SmolLM2-135M).

The parallel decoder drives llama.cpp's batch API itself, so these tests hold it to what the
one-at-a-time path guarantees: answers in request order, schemas enforced, the same texts for the
same requests and seeds, llama-cpp-python's stop rules, and clear errors.
"""

from __future__ import annotations

import json

import pytest

from sentisynth.backends.base import ChatRequest, make_backend
from sentisynth.errors import ConfigError
from sentisynth.generators.hierarchical import items_schema

MODEL = "smollm2-135m"
TOPICS = ["the acting", "the plot", "the music", "the pacing", "the dialogue", "the ending", "the casting"]


def _requests(n, schema=True, max_tokens=600, seed=0):
    return [ChatRequest(messages=[{"role": "user", "content": f"Write 3 short {('negative', 'positive')[i % 2]} sentences "
                                                              f"from movie reviews about {TOPICS[i % len(TOPICS)]}. Answer in JSON."}],
                        schema=items_schema(3) if schema else None, temperature=0.9, max_tokens=max_tokens, seed=seed + i)
            for i in range(n)]


@pytest.fixture(scope="module")
def parallel():
    b = make_backend("llamacpp", model=MODEL, n_ctx=1024, n_parallel=3).load()
    yield b
    b.close()


def test_answers_follow_the_schema_in_request_order_and_repeat_exactly(parallel):
    reqs = _requests(7)  # more requests than slots: freed slots take the waiting ones
    handed = {}
    first = parallel.chat_many(reqs, on_answer=lambda i, c: handed.setdefault(i, c.text))
    assert len(first) == 7 and handed == {i: c.text for i, c in enumerate(first)}  # each answer as it ended
    for c in first:
        items = json.loads(c.text)["items"]
        assert len(items) == 3 and all(isinstance(x, str) and len(x) >= 2 for x in items)
        assert c.finish_reason == "stop" and 0 < c.completion_tokens <= 600 and c.prompt_tokens > 10
    again = parallel.chat_many(reqs)
    assert [c.text for c in again] == [c.text for c in first]
    fresh = make_backend("llamacpp", model=MODEL, n_ctx=1024, n_parallel=3).load()
    try:
        assert [c.text for c in fresh.chat_many(reqs)] == [c.text for c in first]
    finally:
        fresh.close()
    # Each answer belongs to its own request: a different seed for one request changes that answer.
    other = parallel.chat_many(reqs[:2] + _requests(1, seed=500) + reqs[3:])
    assert other[2].text != first[2].text


def test_max_tokens_stop_strings_and_finish_reasons(parallel):
    reqs = _requests(4, schema=False, max_tokens=64)
    reqs[0].max_tokens = 5
    reqs[1].stop = [" "]
    out = parallel.chat_many(reqs)
    assert out[0].finish_reason == "length" and out[0].completion_tokens == 5
    assert " " not in out[1].text and out[1].finish_reason == "stop"
    assert all(c.completion_tokens <= 64 for c in out)
    assert parallel.chat(reqs[0]).finish_reason == "length"


def test_the_parallel_decoder_has_its_own_cache_identity(parallel):
    one = make_backend("llamacpp", model=MODEL, n_parallel=1)
    assert parallel.identity()["decoder"] == "parallel" and "decoder" not in one.identity()
    assert parallel.identity()["sha256"] == one.identity()["sha256"]


def test_a_prompt_longer_than_the_context_is_a_clear_error():
    b = make_backend("llamacpp", model=MODEL, n_ctx=128, n_parallel=2).load()
    try:
        long = [ChatRequest(messages=[{"role": "user", "content": "word " * 400}], max_tokens=8)]
        with pytest.raises(ConfigError, match="does not fit the context of \\d+ tokens.*fix: raise the backend's n_ctx"):
            b.chat_many(long + _requests(1))
        b.n_parallel = 1
        with pytest.raises(ConfigError, match="does not fit the context of \\d+ tokens"):
            b.chat(long[0])
    finally:
        b.close()


def test_bad_n_parallel_is_a_config_error():
    with pytest.raises(ConfigError, match="n_parallel"):
        make_backend("llamacpp", model=MODEL, n_parallel=0).load()


def test_a_shared_prompt_prefix_is_evaluated_once_and_leaves_greedy_answers_unchanged(parallel, monkeypatch):
    """The decoder evaluates the prefix common to a call's prompts once and copies its KV to every
    stream, and each stream keeps what it holds of the next prompt. A wrong position or a stale
    cell would change the answers; greedy decoding makes any such change visible."""
    from sentisynth.backends import llamacpp_parallel

    reqs = _requests(7, max_tokens=80)
    for r in reqs:
        r.temperature = 0.0
    parallel.chat_many(reqs[:1])  # opens the decoder
    decoder = parallel._parallel
    before = decoder.prompt_tokens_evaluated
    shared = parallel.chat_many(reqs)
    evaluated_shared = decoder.prompt_tokens_evaluated - before
    monkeypatch.setattr(llamacpp_parallel, "_common_prefix_len", lambda a, b: 0)
    before = decoder.prompt_tokens_evaluated
    alone = parallel.chat_many(reqs)
    evaluated_alone = decoder.prompt_tokens_evaluated - before
    assert evaluated_alone == sum(c.prompt_tokens for c in alone)
    assert evaluated_shared < 0.7 * evaluated_alone
    assert [c.text for c in shared] == [c.text for c in alone]
    assert all(json.loads(c.text)["items"] for c in shared)


def test_a_stream_copies_another_streams_longer_prefix_and_greedy_answers_stay_the_same(parallel, monkeypatch):
    """Prompts that share a long prefix only within their group (one label, source type and topic in
    the generator) start next to each other, and a stream takes a copy of the stream holding the
    longest prefix of its next prompt: fewer tokens evaluated, the same greedy answers as when every
    stream evaluates its prompts itself."""
    from sentisynth.backends import llamacpp_parallel

    contexts = [f"Context: reviews of {film}, a film critics discussed at length this year; write like a critic "
                f"who saw it twice, with concrete details about scenes, actors and the audience around you."
                for film in ("a slow science-fiction drama", "a loud superhero sequel", "a quiet French comedy")]
    reqs = [ChatRequest(messages=[{"role": "user", "content": f"{contexts[i % 3]}\nWrite 3 short sentences about "
                                                              f"{TOPICS[i]}. Answer in JSON."}],
                        schema=items_schema(3), temperature=0.0, max_tokens=60, seed=i) for i in range(6)]
    parallel.chat_many(reqs[:1])  # opens the decoder
    decoder = parallel._parallel
    before = decoder.prompt_tokens_evaluated
    copied = parallel.chat_many(reqs)
    evaluated_copied = decoder.prompt_tokens_evaluated - before
    monkeypatch.setattr(llamacpp_parallel, "_MIN_COPY_GAIN", 10**9)
    before = decoder.prompt_tokens_evaluated
    own = parallel.chat_many(reqs)
    evaluated_own = decoder.prompt_tokens_evaluated - before
    context_tokens = len(parallel._llm.tokenize(contexts[0].encode()))
    # The second prompt of the first group always starts on another stream than the first (the call fills
    # streams 0, 1, 2 in prompt order), so it at least copies; the other groups' second prompts may land
    # on their first one's stream, where both settings reuse it, depending on which answer ends first.
    assert evaluated_own - evaluated_copied >= 0.8 * context_tokens
    assert [c.text for c in copied] == [c.text for c in own]
    assert all(c.text.startswith("{") and c.completion_tokens > 5 for c in copied)  # greedy SmolLM2 rambles; equal is the point


SHOWN = ["the film is a gorgeous, moving portrait of a family falling apart",
         "a dull, lifeless script that wastes its talented cast"]


def _word_runs(text, n=5):
    words = text.split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.mark.parametrize("n_parallel", [1, 3])
def test_avoided_texts_cannot_be_copied_on_either_path(n_parallel):
    """Asked to copy two sentences, the model does; with them in ``ChatRequest.avoid`` it cannot write
    four tokens in a row of them (five words hold at least four tokens), on the decoder and on
    llama-cpp-python's one-at-a-time path alike."""
    msg = [{"role": "user", "content": "Copy these two movie review sentences exactly, as a JSON list:\n"
                                       + "\n".join(f'- "{t}"' for t in SHOWN)}]
    b = make_backend("llamacpp", model=MODEL, n_ctx=1024, n_parallel=n_parallel).load()
    try:
        assert b.blocks_copies
        def answers(avoid):
            reqs = [ChatRequest(messages=msg, schema=items_schema(2), temperature=0.7, max_tokens=120, seed=s, avoid=avoid)
                    for s in range(5)]
            return [c.text for c in b.chat_many(reqs)]
        free = answers(None)
        assert any(t in a for a in free for t in SHOWN)  # the prompt works: without avoid it copies
        runs = set().union(*map(_word_runs, SHOWN))
        for a in answers(SHOWN):
            assert not any(t in a for t in SHOWN) and not (runs & _word_runs(a.replace('"', " "))), a
    finally:
        b.close()
