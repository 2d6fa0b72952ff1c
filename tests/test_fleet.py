"""The HTTP backend over a fleet of servers (``base_url`` a list), against real HTTP servers.

Every server is a :mod:`tests.fault_server` on 127.0.0.1: deterministic answers (so a fleet's
answers can be compared with one server's), set fault rates (a dead server answers 500 to
everything), request counters. A "closed port" server is a port nothing listens on.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any, Iterator

import pytest

from sentisynth.backends.base import ChatRequest, make_backend
from sentisynth.backends.openai_compat import ServerPool
from sentisynth.errors import ConfigError, ResourceError
from sentisynth.generators.base import make_generator

from .fault_server import items_content, running_fault_server

SECRET = "sk-fleet-SECRET-0123456789abcdef"
FAST = {"timeout": 5.0, "backoff_base": 0.01, "backoff_max": 0.02, "max_retries": 4}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SENTISYNTH_API_KEY", "SENTISYNTH_BASE_URL", "SENTISYNTH_MODEL"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(scope="module")
def healthy_fleet() -> Iterator[tuple[list[str], list[Any]]]:
    """Three healthy servers shared by the tests that count nothing on the servers themselves
    (a fault server takes up to 0.5 s to shut down)."""
    with fleet({}, {}, {}) as started:
        yield started


@pytest.fixture
def healthy(healthy_fleet) -> list[str]:
    return healthy_fleet[0]


@contextlib.contextmanager
def fleet(*settings: dict[str, Any]) -> Iterator[tuple[list[str], list[Any]]]:
    """One fault server per settings dict; yields (their base URLs, their states). The servers are
    stopped in parallel: each takes up to 0.5 s (its poll interval) to stop."""
    servers = [running_fault_server(**s) for s in settings]
    started: list[Any] = []
    try:
        for server in servers:
            started.append(server.__enter__())
        yield [u for u, _ in started], [s for _, s in started]
    finally:
        stopping = [threading.Thread(target=server.__exit__, args=(None, None, None)) for server in servers[: len(started)]]
        for t in stopping:
            t.start()
        for t in stopping:
            t.join()


def closed_port_url() -> str:
    """A URL nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def host(url: str) -> str:
    return url.split("//")[1].split("/")[0]


def backend(base_url: Any, **kw: Any):
    return make_backend("openai", base_url=base_url, api_key=SECRET, **{"model": "fault-model", **FAST, **kw}).load()


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest(messages=[{"role": "user", "content": f"Request {i}: give ...3 strings"}], seed=i) for i in range(n)]


class InFlight:
    """Wraps the servers' answer function to record how many requests each server holds at once."""

    def __init__(self, hold: float, meet: int | None = None):
        self.hold = hold
        self.meet = meet
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_total = 0
        self.lock = threading.Lock()
        self.met = threading.Event()

    def content(self, name: str):
        def answer(request: dict[str, Any]) -> str:
            with self.lock:
                self.now[name] = self.now.get(name, 0) + 1
                self.peak[name] = max(self.peak.get(name, 0), self.now[name])
                self.peak_total = max(self.peak_total, sum(self.now.values()))
                if self.meet is not None and self.peak_total >= self.meet:
                    self.met.set()
            if self.meet is not None:
                # Hold each answer until ``meet`` requests were in flight at once (or long enough
                # that only a client that never sends them could miss it), so whether they overlap
                # does not depend on how fast the machine starts threads.
                self.met.wait(timeout=30)
            time.sleep(self.hold)
            with self.lock:
                self.now[name] -= 1
            return items_content(request)

        return answer


# ------------------------------------------------------------------------------ (a) same answers


def test_a_fleet_answers_like_one_server_in_order_and_spreads_the_work(healthy_fleet, monkeypatch):
    urls, states = healthy_fleet
    reqs = requests(60)
    one = backend(urls[0], max_concurrency=6).chat_many(reqs)  # concurrency does not change answers
    flight = InFlight(hold=0.02, meet=3)
    for k, state in enumerate(states):
        monkeypatch.setattr(state, "content", flight.content(f"s{k}"))  # same answers, in-flight counted
    many = backend(urls, max_concurrency=2)
    answers = many.chat_many(reqs)
    assert [c.text for c in answers] == [c.text for c in one]
    assert [c.to_dict() for c in answers] == [c.to_dict() for c in one]  # nothing in a record says which server
    stats = many.server_stats()
    assert set(stats) == {host(u) for u in urls}
    assert all(s["answered"] > 0 and s["failed"] == 0 for s in stats.values()), stats
    assert sum(s["answered"] for s in stats.values()) == 60
    assert many.requests_per_server_ == {h: s["answered"] for h, s in stats.items()}
    # max_concurrency is per server: never more than 2 at one server, more than 2 at once in all.
    assert max(flight.peak.values()) <= 2 and flight.peak_total > 2, (flight.peak, flight.peak_total)


# ------------------------------------------------------------------------------ (b) failover


@pytest.mark.parametrize("dead", ["closed_port", "http_500"])
def test_one_dead_server_costs_retries_not_the_run(dead, healthy):
    reqs = requests(30)
    one = backend(healthy[0], max_concurrency=6).chat_many(reqs)
    with fleet({"rates": {"http_500": 1.0}, "echo_auth": True}) as ([failing], [state]):
        bad = closed_port_url() if dead == "closed_port" else failing
        urls = [bad, healthy[0], healthy[1]]  # listed first: an idle fleet sends it the next attempt
        b = backend(urls, max_concurrency=2)
        answers = b.chat_many(reqs)
    assert [c.text for c in answers] == [c.text for c in one]
    retried = [c for c in answers if c.retries]
    assert retried and sum(c.retries for c in answers) == b.server_stats()[host(bad)]["failed"]
    cause = "connection" if dead == "closed_port" else "http_500"
    assert all(c.extra["retry_causes"] == {cause: c.retries} for c in retried)
    records = json.dumps([c.to_dict() for c in answers])
    assert host(bad) not in records and SECRET not in records
    stats = b.server_stats()
    assert stats[host(bad)]["answered"] == 0
    assert all(stats[host(u)]["answered"] > 0 for u in urls[1:]), stats
    assert state.served["http_500"] == (stats[host(bad)]["failed"] if dead == "http_500" else 0)


def test_a_retry_tries_every_server_before_going_back():
    """Two dead servers and one live one: a lone request's retries reach the live (last listed) one."""
    with fleet({"rates": {"http_500": 1.0}}, {"rates": {"http_500": 1.0}}, {}) as (urls, states):
        c = backend(urls, max_retries=2).chat(requests(1)[0])
    assert c.retries == 2 and c.extra["retry_causes"] == {"http_500": 2}
    assert [s.served["http_500"] for s in states[:2]] == [1, 1] and states[2].served["ok"] == 1


# ------------------------------------------------------------------------------ (c) all dead


def test_all_servers_dead_is_one_clear_line_naming_the_last_server():
    with fleet({"rates": {"http_500": 1.0}, "echo_auth": True}, {"rates": {"http_500": 1.0}, "echo_auth": True}) as (urls, _):
        urls = [urls[0], closed_port_url(), urls[1]]
        b = backend(urls, max_retries=2)
        with pytest.raises(ResourceError) as alone:
            b.chat(requests(1)[0])
        with pytest.raises(ResourceError) as many:
            b.chat_many(requests(6))
    # A lone request's 3 attempts go to the 3 servers in turn: the last to fail is the third listed.
    msg = str(alone.value)
    assert msg.startswith(f"server at {host(urls[2])} (the last tried of 3 servers) failed for model 'fault-model' after 2 retries")
    assert "HTTP 500" in msg and "fix: check that the servers are up" in msg
    for info in (alone, many):  # concurrent requests walk the servers in another order, to the same kind of error
        msg = str(info.value)
        assert any(msg.startswith(f"server at {host(u)} (the last tried of 3 servers) failed") for u in urls), msg
        assert "\n" not in msg and "Traceback" not in msg and 'File "' not in msg
        assert SECRET not in msg and SECRET not in repr(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__


# ------------------------------------------------------------------------------ (d) identity


def test_identity_single_url_unchanged_and_a_list_is_a_fleet():
    a, b = "http://127.0.0.1:8001/v1", "http://10.0.0.2:8000/v1"
    assert make_backend("openai", base_url=a, model="m").identity() == {"backend": "openai", "model": "m", "base_url": "127.0.0.1:8001"}
    assert make_backend("openai", model="m").identity()["base_url"] == "api.openai.com"
    fleet_id = {"backend": "openai", "model": "m", "base_url": "fleet"}
    for urls in ([a, b], [b, a], [a], f"{a},{b}"):  # growing, shrinking or reordering a fleet keeps its cache
        ident = make_backend("openai", base_url=urls, model="m", api_key=SECRET).identity()
        assert ident == fleet_id and SECRET not in json.dumps(ident)
    params = make_backend("openai", base_url=[a, b], api_key=SECRET).get_params()
    assert params["base_url"] == [a, b] and params["api_key"] == "<set>"


def test_without_a_model_every_server_must_serve_the_same_one(healthy):
    agree = make_backend("openai", base_url=healthy).load()
    assert agree.resolved_model() == "fault-model" and agree.identity()["model"] == "fault-model"
    with fleet({"model": "other-model"}) as ([other], _):
        urls = [healthy[0], healthy[1], other]
        with pytest.raises(ConfigError) as info:
            make_backend("openai", base_url=urls).load()
    msg = str(info.value)
    assert f"{host(urls[0])} serves 'fault-model' but {host(urls[2])} serves ['other-model']" in msg
    assert "fix: set model=" in msg and "\n" not in msg
    dead = closed_port_url()  # a server that cannot say what it serves stops the run: set model= for fleets
    with pytest.raises(ResourceError) as info:
        make_backend("openai", base_url=[healthy[0], dead], **{**FAST, "max_retries": 1}).load()
    assert str(info.value).startswith(f"no model given and listing models at {host(dead)} failed: server at {host(dead)} failed ")


# ------------------------------------------------------------------------------ (e, f) settings


@pytest.mark.parametrize("value, found", [
    ([], "got an empty list instead"),
    (["http://127.0.0.1:8000/v1", "127.0.0.1:8001/v1"], "got '127.0.0.1:8001/v1' (entry 2 of 2) instead"),
    (["http://127.0.0.1:8000/v1", 8001], "got 8001 (entry 2 of 2) instead"),
    (["ftp://127.0.0.1/v1"], "got 'ftp://127.0.0.1/v1' (entry 1 of 1) instead"),
    (["http://127.0.0.1:port/v1"], "got 'http://127.0.0.1:port/v1' (entry 1 of 1) instead"),
    ("http://127.0.0.1:8000/v1,", "got '' (entry 2 of 2) instead"),
    (["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"], "the same server, instead"),
])
def test_bad_base_url_values_are_one_line_config_errors_with_the_fix(value, found):
    with pytest.raises(ConfigError) as info:
        make_backend("openai", base_url=value, model="m").load()
    msg = str(info.value)
    assert msg.startswith("The 'base_url' parameter of OpenAICompatBackend must ")
    assert found in msg and "; fix: " in msg and "\n" not in msg


def test_bad_env_list_names_the_variable(monkeypatch):
    monkeypatch.setenv("SENTISYNTH_BASE_URL", "http://127.0.0.1:8000/v1,,http://127.0.0.1:8001/v1")
    with pytest.raises(ConfigError, match=r"^The environment variable SENTISYNTH_BASE_URL must .* got '' \(entry 2 of 3\).*fix:"):
        make_backend("openai", model="m").load()


def test_env_comma_list_is_a_fleet(monkeypatch, healthy):
    urls = healthy
    monkeypatch.setenv("SENTISYNTH_BASE_URL", " , ".join(urls))
    monkeypatch.setenv("SENTISYNTH_API_KEY", SECRET)
    b = make_backend("openai", max_concurrency=1, **FAST).load()  # model: asked from every server
    answers = b.chat_many(requests(9))
    assert b.resolved_base_urls() == urls
    assert b.identity() == {"backend": "openai", "model": "fault-model", "base_url": "fleet"}
    assert len(answers) == 9 and sorted(b.requests_per_server_) == sorted(host(u) for u in urls)
    assert sum(b.requests_per_server_.values()) == 9 and all(b.requests_per_server_.values())
    assert b.get_params()["api_key"] is None and b.get_params()["base_url"] is None


# ------------------------------------------------------------------------------ the pool


def test_pool_picks_least_in_flight_first_listed_and_fails_over():
    pool = ServerPool(["a", "b", "c"], per_server=2)
    assert [pool.acquire() for _ in range(6)] == [0, 1, 2, 0, 1, 2]  # ties to the first listed; at most 2 each
    pool.release(1, answered=True)
    assert pool.acquire() == 1
    for i in (0, 1, 2, 0, 1, 2):
        pool.release(i, answered=False)
    assert pool.acquire(failed={0: 0}) == 1  # a retry avoids the server that failed it ...
    assert pool.acquire(failed={0: 0, 1: 1}) == 2
    pool.release(1, True)
    pool.release(2, True)
    assert pool.acquire(failed={0: 1, 1: 0, 2: 2}) == 1  # ... and, all failed, goes back to the oldest failure
    assert pool.stats() == {"a": {"answered": 0, "failed": 2}, "b": {"answered": 2, "failed": 2}, "c": {"answered": 1, "failed": 2}}


def test_pool_retry_waits_for_a_server_it_has_not_failed_on():
    """The idle server is the one that just failed (a dead server is always idle): wait for the other."""
    pool = ServerPool(["dead", "busy"], per_server=1)
    assert (pool.acquire(), pool.acquire()) == (0, 1)
    pool.release(0, answered=False)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(failed={0: 0})))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got
    pool.release(1, answered=True)
    waiter.join(5)
    assert got == [1]


# ------------------------------------------------------------------------------ generation


def _generate(url: Any, cache: str) -> tuple[list[dict], Any]:
    gen = make_generator(
        "hierarchical", instruction="Classify the sentiment of movie reviews.", labels=["negative", "positive"],
        model="fault-model", backend="openai", backend_params={"base_url": url, **FAST, "max_concurrency": 2},
        cache_path=cache, style_examples=0, n_source_type=2, n_topic=2, n_subtopic=2, sample_per_subtopic=2,
    ).fit([])
    records = [e.to_dict() for batch in gen.generate(32) for e in batch]
    return records, gen


@pytest.mark.parametrize("with_dead", [False, True])
def test_hierarchical_generation_through_a_fleet_equals_one_server(tmp_path, healthy, with_dead):
    """Separate call caches: the fleet's run really asks its servers (a fleet's cache identity
    differs from one server's anyway)."""
    one, _ = _generate(healthy[0], str(tmp_path / "one.sqlite"))
    urls = [closed_port_url()] * with_dead + healthy[:2]
    many, gen = _generate(urls, str(tmp_path / "fleet.sqlite"))
    assert len(one) == 32 and many == one
    stats = gen.backend_.backend.server_stats()
    assert all(stats[host(u)]["answered"] > 0 for u in healthy[:2]), stats
    assert (stats[host(urls[0])]["failed"] > 0) == with_dead
    retries = sum(st["retries"] for st in gen.stats_.values())
    assert retries == (stats[host(urls[0])]["failed"] if with_dead else 0)
