"""Backends against real models: llama.cpp in-process, a real llama.cpp server over HTTP, and a
tiny scripted HTTP server (127.0.0.1, in a thread) for the retry and error paths.

Nothing here mocks a model: in-process tests run SmolLM2-135M (fast), the HTTP tests talk to
``python -m llama_cpp.server`` serving :data:`SERVER_MODEL`, started by a module fixture.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sentisynth.backends.base import ChatRequest, make_backend
from sentisynth.errors import ConfigError, ResourceError, SentiSynthError

from .llama_server import running_llama_server

#: Model served by the real llama.cpp server for the HTTP integration tests.
SERVER_MODEL = "qwen2.5-0.5b-instruct"
#: Model for the in-process llama.cpp tests (small and fast).
LOCAL_MODEL = "smollm2-135m"
#: Threads for the in-process model. One thread keeps these tests fast when other processes share
#: the CPU: llama.cpp's worker threads spin at barriers, and with 2 threads on 2 busy cores
#: generation was measured 7x slower than with 1 (37 vs 5.5 tok/s for SmolLM2).
LOCAL_THREADS = 1
#: Threads for the llama.cpp server (same reason; Qwen2.5-0.5B measured 17.9 tok/s with 1 thread
#: vs 0.4 tok/s with 2 while another llama.cpp process was running on the 2 cores).
SERVER_THREADS = 1

SECRET = "sk-test-SECRET-0123456789abcdef"
LIST_SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3}},
    "required": ["items"],
}


def assert_three_strings(text: str) -> None:
    obj = json.loads(text)
    assert isinstance(obj, dict) and isinstance(obj.get("items"), list), text
    assert len(obj["items"]) == 3 and all(isinstance(x, str) for x in obj["items"]), text


def ask(content: str, **kw) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": content}], **kw)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SENTISYNTH_API_KEY", "SENTISYNTH_BASE_URL", "SENTISYNTH_MODEL"):
        monkeypatch.delenv(k, raising=False)


# --------------------------------------------------------------------------- llama.cpp in-process


@pytest.fixture(scope="module", params=[4, 1], ids=["parallel-decoder", "one-at-a-time"])
def local(request):
    backend = make_backend("llamacpp", model=LOCAL_MODEL, n_ctx=2048, n_threads=LOCAL_THREADS, n_parallel=request.param).load()
    yield backend
    backend.close()


@pytest.mark.slow
def test_llamacpp_chat_returns_text(local):
    c = local.chat(ask("Write one short sentence about the sea.", max_tokens=32, seed=1))
    assert c.text.strip()
    assert c.prompt_tokens > 5 and 0 < c.completion_tokens <= 32
    assert c.finish_reason in ("stop", "length")
    ident = local.identity()
    assert ident["backend"] == "llamacpp" and ident["model"] == LOCAL_MODEL
    assert re.fullmatch(r"[0-9a-f]{64}", ident["sha256"])


@pytest.mark.slow
def test_llamacpp_schema_constrains_output(local):
    c = local.chat(ask("List three fruits as JSON.", schema=LIST_SCHEMA, max_tokens=96, seed=3))
    assert_three_strings(c.text)


@pytest.mark.slow
def test_llamacpp_same_seed_same_text(local):
    """Same seed → same text at temperature 0.7, also when the prompt was just evaluated for
    another request (llama-cpp-python's KV prefix reuse would change the text; chat() resets)."""

    def run(seed: int) -> str:
        return local.chat(ask("Write a one-line movie review.", temperature=0.7, max_tokens=16, seed=seed)).text

    a, b, a2 = run(1), run(2), run(1)
    assert a == a2
    assert a != b  # the seed matters at temperature > 0


@pytest.mark.slow
def test_llamacpp_unsupported_schema_is_a_clear_error(local):
    with pytest.raises(ConfigError, match="schema"):
        local.chat(ask("x", schema={"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}, max_tokens=4))


@pytest.mark.slow
def test_llamacpp_token_logprobs_prefer_fluent_text(local):
    fluent = "The cat sat on the warm mat and fell asleep in the sun."
    salad = "mat sun the asleep warm on sat in cat the fell and the."
    lps = local.token_logprobs([fluent, salad, ""])
    assert len(lps) == 3 and lps[2] == []
    assert all(x <= 0.0 and math.isfinite(x) for x in lps[0] + lps[1])
    n_tokens = len(local._scorer.tokenize(fluent.encode(), add_bos=False))
    assert len(lps[0]) == n_tokens  # BOS prepended: every token scored
    mean = [sum(x) / len(x) for x in lps[:2]]
    assert mean[0] > mean[1] + 0.5


# --------------------------------------------------------------------------- transformers


@pytest.mark.slow
def test_transformers_backend_on_gguf():
    """SmolLM2's GGUF loaded (dequantised) by transformers: ~17 s to load on 2 CPU cores."""
    import torch

    threads_before = torch.get_num_threads()
    b = make_backend("transformers", model=LOCAL_MODEL, batch_size=4, n_threads=LOCAL_THREADS).load()
    assert not b.supports_schema
    texts = ["The cat sat on the warm mat and fell asleep in the sun.", "mat sun the asleep warm on sat in cat the fell and the.", "Hi", ""]
    lps = b.token_logprobs(texts)
    assert [len(x) > 0 for x in lps] == [True, True, True, False]
    assert sum(lps[0]) / len(lps[0]) > sum(lps[1]) / len(lps[1]) + 0.5
    alone = b.token_logprobs([texts[2]])[0]  # scored without padding
    assert alone == pytest.approx(lps[2], abs=1e-3)
    r = ask("Write a one-line movie review.", max_tokens=12, seed=5)
    c = b.chat(r)
    assert c.text.strip() and 0 < c.completion_tokens <= 12 and c.prompt_tokens > 5
    assert b.chat(r).text == c.text
    assert b.identity()["sha256"] == make_backend("llamacpp", model=LOCAL_MODEL).identity()["sha256"]
    assert torch.get_num_threads() == threads_before  # n_threads applies only during calls


# --------------------------------------------------------------------------- real llama.cpp server


@pytest.fixture(scope="module")
def server_url():
    from sentisynth.backends.models import resolve_model

    path = resolve_model(SERVER_MODEL).path
    with running_llama_server(path, n_ctx=4096, n_threads=SERVER_THREADS) as url:
        yield url


@pytest.mark.slow
def test_http_chat_against_llama_server(server_url):
    b = make_backend("openai", base_url=server_url, api_key=SECRET, schema_mode="llamacpp").load()
    c = b.chat(ask("Say hello in one short sentence.", max_tokens=24, seed=1))
    assert c.text.strip() and c.retries == 0 and c.completion_tokens > 0
    assert b.resolved_model()  # asked from /v1/models
    assert b.identity() == {"backend": "openai", "model": b.resolved_model(), "base_url": server_url.split("//")[1].split("/")[0]}
    assert SECRET not in json.dumps(b.get_params()) + json.dumps(b.identity())


@pytest.mark.slow
def test_http_schema_llamacpp_mode(server_url):
    b = make_backend("openai", base_url=server_url, model="local", schema_mode="llamacpp").load()
    assert b.supports_schema
    c = b.chat(ask("List three colours as JSON.", schema=LIST_SCHEMA, max_tokens=64, seed=2))
    assert_three_strings(c.text)


@pytest.mark.slow
def test_http_chat_many_in_order(server_url):
    b = make_backend("openai", base_url=server_url, model="local", schema_mode="llamacpp", max_concurrency=3).load()
    reqs = [
        ask("Give the number.", schema={"type": "object", "properties": {"n": {"enum": [k]}}, "required": ["n"]}, max_tokens=16, seed=k)
        for k in (11, 22, 33, 44, 55)
    ]
    outs = b.chat_many(reqs)
    assert [json.loads(c.text)["n"] for c in outs] == [11, 22, 33, 44, 55]


# --------------------------------------------------------------------------- scripted HTTP server

OK_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "fake",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


class Scripted:
    """A local HTTP server answering chat requests from a script of (status, headers, delay) steps;
    after the script runs out it answers 200 with ``OK_BODY`` (content = the last user message)."""

    def __init__(self, script=(), delay: float = 0.0):
        self.script = list(script)
        self.delay = delay
        self.hits = 0
        self.bodies: list[dict] = []
        self.auth: list[str] = []
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, body, headers=()):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers:
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "me"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with owner.lock:
                    owner.hits += 1
                    owner.bodies.append(body)
                    owner.auth.append(self.headers.get("Authorization", ""))
                    step = owner.script.pop(0) if owner.script else None
                    owner.inflight += 1
                    owner.max_inflight = max(owner.max_inflight, owner.inflight)
                # A request stops counting as in flight once its answer is ready, before it is sent: the
                # client may send its next request as soon as it reads this one, before a decrement
                # after the send would run (that race once counted 4 in flight under a limit of 3).
                try:
                    if step is None:
                        time.sleep(owner.delay)
                        out = json.loads(json.dumps(OK_BODY))
                        out["choices"][0]["message"]["content"] = body["messages"][-1]["content"]
                        reply = (200, out, ())
                    else:
                        status, headers, sleep = step
                        time.sleep(sleep)
                        # A careless server that echoes the credentials it got.
                        err = {"error": {"message": f"failure; you sent {self.headers.get('Authorization')}", "type": "x", "code": status}}
                        reply = (status, err, headers)
                finally:
                    with owner.lock:
                        owner.inflight -= 1
                self._send(*reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def fake_backend(url: str, **kw):
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    return make_backend("openai", base_url=url, api_key=SECRET, model="fake-model", **kw).load()


def test_retries_on_500_then_succeeds():
    with Scripted([(500, (), 0), (500, (), 0)]) as srv:
        c = fake_backend(srv.url).chat(ask("hi"))
    assert c.text == "hi" and c.retries == 2 and srv.hits == 3
    assert c.prompt_tokens == 3 and c.completion_tokens == 1 and c.finish_reason == "stop"
    assert srv.auth[0] == f"Bearer {SECRET}"


def _record_waits(backend) -> list[float]:
    """The seconds the backend decides to wait before each retry (asserted instead of wall time)."""
    waits: list[float] = []
    delay = backend._delay
    backend._delay = lambda *a: waits.append(delay(*a)) or waits[-1]
    return waits


def test_retry_after_on_429():
    with Scripted([(429, [("Retry-After", "0")], 0)]) as srv:
        b = fake_backend(srv.url, backoff_base=5.0, backoff_max=5.0)
        waits = _record_waits(b)
        c = b.chat(ask("hi"))
    assert c.retries == 1 and srv.hits == 2
    assert waits == [0.0]  # Retry-After: 0 wins over the 5 s backoff


def test_401_fails_at_once_without_leaking_the_key():
    with Scripted([(401, (), 0)] * 3) as srv:
        with pytest.raises(ConfigError) as ei:
            fake_backend(srv.url).chat(ask("hi"))
    msg = str(ei.value)
    assert srv.hits == 1
    assert "401" in msg and "API key" in msg and "not retried" in msg
    assert SECRET not in msg and SECRET not in repr(ei.value) and "\n" not in msg
    assert ei.value.__cause__ is None  # the openai exception (with the echoed key) is not chained


def test_timeout_is_retried_then_fails_clearly():
    with Scripted([(200, (), 2.0)] * 3) as srv:
        b = fake_backend(srv.url, timeout=0.3, max_retries=2)
        waits = _record_waits(b)
        with pytest.raises(ResourceError) as ei:
            b.chat(ask("hi"))
    msg = str(ei.value)
    # The server answers 200 after 2 s: only the 0.3 s timeout can turn that into "timed out".
    assert srv.hits == 3 and "timed out" in msg and "2 retries" in msg and SECRET not in msg
    assert len(waits) == 2 and all(w <= 0.05 for w in waits)  # short backoffs between the attempts


def test_server_down_is_a_clear_error():
    b = fake_backend("http://127.0.0.1:9/v1", max_retries=1)
    with pytest.raises(ResourceError, match="connection error.*max_retries"):
        b.chat(ask("hi"))


def test_chat_many_runs_concurrently_and_keeps_order():
    with Scripted(delay=0.2) as srv:
        b = fake_backend(srv.url, max_concurrency=3)
        t0 = time.monotonic()
        outs = b.chat_many([ask(f"request {i}") for i in range(9)])
        elapsed = time.monotonic() - t0
    assert [c.text for c in outs] == [f"request {i}" for i in range(9)]
    assert srv.max_inflight == 3
    assert elapsed < 9 * 0.2  # one at a time would take at least 1.8 s


def test_schema_modes_and_env_defaults(monkeypatch):
    with Scripted() as srv:
        monkeypatch.setenv("SENTISYNTH_BASE_URL", srv.url)
        monkeypatch.setenv("SENTISYNTH_API_KEY", SECRET)
        monkeypatch.setenv("SENTISYNTH_MODEL", "env-model")
        b = make_backend("openai").load()
        b.chat(ask("a", schema=LIST_SCHEMA, seed=7, temperature=0.3, max_tokens=9))
        none = make_backend("openai", schema_mode="none").load()
        none.chat(ask("b", schema=LIST_SCHEMA))
        lc = make_backend("openai", schema_mode="llamacpp").load()
        lc.chat(ask("c", schema=LIST_SCHEMA))
    first = srv.bodies[0]
    assert first["model"] == "env-model" and first["seed"] == 7 and first["max_tokens"] == 9
    assert first["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": LIST_SCHEMA, "strict": True}}
    assert srv.auth == [f"Bearer {SECRET}"] * 3
    assert b.supports_schema and lc.supports_schema and not none.supports_schema
    assert "response_format" not in srv.bodies[1] and json.dumps(LIST_SCHEMA) in srv.bodies[1]["messages"][-1]["content"]
    assert srv.bodies[2]["response_format"] == {"type": "json_object", "schema": LIST_SCHEMA}
    port = srv.url.split(":")[2].split("/")[0]
    assert b.identity() == {"backend": "openai", "model": "env-model", "base_url": f"127.0.0.1:{port}"}
    assert b.get_params()["api_key"] is None  # given by env, not recorded either way
    assert make_backend("openai", api_key=SECRET).get_params()["api_key"] == "<set>"


def test_bad_params_are_config_errors():
    with pytest.raises(ConfigError, match="schema_mode"):
        make_backend("openai", schema_mode="xml").load()
    with pytest.raises(ConfigError, match="max_concurrency"):
        make_backend("openai", max_concurrency=0).load()
    with pytest.raises(SentiSynthError):
        make_backend("llamacpp", model="/nonexistent/model.gguf").load()


@pytest.mark.parametrize("users", [{}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "0"}, {"KMP_BLOCKTIME": "200"}])
def test_openmp_waiting_spins_briefly_unless_the_user_chose(monkeypatch, users):
    """llama.cpp's threads spin 1,000 iterations at a barrier, then sleep (benchmarks/bench_omp_wait.py:
    1.4-1.6x faster steps than passive waiting on free cores, no collapse when a core is busy);
    any OpenMP waiting setting of the user's is left alone."""
    from sentisynth.backends.llamacpp import OPENMP_SPIN_COUNT, configure_openmp_waiting

    for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        monkeypatch.delenv(k, raising=False)
    for k, v in users.items():
        monkeypatch.setenv(k, v)
    configure_openmp_waiting()
    seen = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    if users:
        assert seen == {k: users.get(k) for k in seen}
    else:
        assert seen == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": OPENMP_SPIN_COUNT, "KMP_BLOCKTIME": "0"}
