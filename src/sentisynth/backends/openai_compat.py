"""Any OpenAI-compatible chat server: OpenAI itself, vLLM, llama.cpp's servers, Ollama, ...

Settings not given fall back to the environment: ``base_url`` to ``SENTISYNTH_BASE_URL`` then
``OPENAI_BASE_URL`` (else OpenAI's own endpoint; a comma-separated value is a fleet, see below),
``api_key`` to ``SENTISYNTH_API_KEY`` then ``OPENAI_API_KEY`` (else a placeholder, enough for
local servers), ``model`` to ``SENTISYNTH_MODEL`` (else the server's only model, asked from
``/v1/models`` at ``load()``).

Reliability is handled here, not by the ``openai`` client (its own retries are off): timeouts,
connection errors (including a body cut off mid-transfer), HTTP 408, 429 and 5xx, a 200 whose body
is not JSON and a 200 without choices are retried up to ``max_retries`` times with exponential
backoff and jitter drawn from an rng seeded by the request's seed (a ``Retry-After`` header wins
when the server sends one); every retry is counted in :attr:`Completion.retries` and by cause in
``Completion.extra["retry_causes"]``. Other 4xx answers fail at once with a :class:`ConfigError`.
The API key never appears in an error message, a manifest (:meth:`get_params`) or a cache key
(:meth:`identity`).

Fleets: ``base_url`` may list several servers of one model (e.g. a vLLM fleet): a YAML list, or a
comma-separated string (the only way an environment variable or ``--base-url`` can hold several).
One client is opened per server; :meth:`chat_many` keeps up to ``max_concurrency`` requests in
flight *per server*, and every attempt of a request goes to the server with the fewest requests in
flight (ties: the first listed), a retry preferring the servers this request has not yet failed on,
so a dead server costs retries, not a failed run. Errors name the server that failed last. Which
server answered is kept out of the :class:`Completion` (completions are cached and compared across
runs) and counted instead in :meth:`server_stats`. For the same reason a fleet's cache identity is
``"base_url": "fleet"`` rather than its hosts: every server serves the same model, so the answer to
a request does not depend on which one gave it, and adding or removing a server keeps the cache. A
single URL keeps the identity ``host:port`` (so caches made before fleets stay valid); a list, even
of one URL, is a fleet. Without ``model``, ``load()`` asks every server and all must serve the same
single model.

``schema_mode`` says how a request's JSON schema is sent:

* ``"json_schema"`` — OpenAI structured outputs, ``response_format={"type": "json_schema",
  "json_schema": {"name": ..., "schema": ..., "strict": True}}`` (OpenAI, vLLM, llama.cpp's
  ``llama-server``). OpenAI's strict mode wants ``additionalProperties: false`` and every property
  listed in ``required``.
* ``"llamacpp"`` — ``response_format={"type": "json_object", "schema": ...}``, what
  llama-cpp-python's ``llama_cpp.server`` understands (grammar-constrained decoding).
* ``"none"`` — the schema is only described in the prompt; ``supports_schema`` is then False and
  the caller must validate the answer.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from ..errors import ConfigError, ResourceError
from .base import Backend, ChatRequest, Completion, OnAnswer, break_control_markers, register_backend

SCHEMA_MODES = ("json_schema", "llamacpp", "none")
#: Longest wait honoured from a Retry-After header (seconds).
MAX_RETRY_AFTER = 120.0
PLACEHOLDER_KEY = "sk-no-key-required"
#: The server used when no base_url is set anywhere (what the openai client itself defaults to).
OPENAI_URL = "https://api.openai.com/v1"
#: The cache identity's ``base_url`` for a list of servers (why: the module docstring).
FLEET = "fleet"
_URL_EXPECTED = ("an http:// or https:// URL such as 'http://127.0.0.1:8000/v1', or a non-empty list of them "
                 "(a comma-separated string in an environment variable)")

#: What a retryable failed attempt leaves: (cause counted in retry_causes, reason for the error, Retry-After).
Failure = tuple[str, str, "float | None"]


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


def _retry_after(headers: Any) -> float | None:
    """Seconds asked by ``retry-after-ms`` / ``Retry-After`` (delta seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        ra = headers.get("retry-after")
    except Exception:
        return None
    if ra is None:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _no_choices(resp: Any) -> tuple[str, str] | None:
    """A chat answer without choices (some servers send one under load) is retried, not used."""
    return None if getattr(resp, "choices", None) else ("empty_choices", "answer without choices")


def _host(url: str) -> str:
    """``host:port`` of a URL (``host`` alone without an explicit port): how errors name a server
    without repeating the rest of its URL."""
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def _is_http_url(url: Any) -> bool:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return bool(parts.hostname)


def _server_labels(urls: Sequence[str]) -> list[str]:
    """The name of each server in stats and errors: ``host:port``, plus the path where two servers
    share a host and port (one proxy in front of several)."""
    hosts = [_host(u) for u in urls]
    return [h if hosts.count(h) == 1 else h + urlsplit(u).path.rstrip("/") for h, u in zip(hosts, urls)]


class HTTPStatusError(ConfigError):
    """The server refused a request with a 4xx status that retrying will not fix."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class ServerPool:
    """Which server takes the next attempt, and what each server did; thread-safe (one lock).

    An attempt goes to the server with the fewest requests in flight (ties: the first listed), so
    a slow server is given less work, and never to a server that already holds ``per_server``
    requests: the caller waits until one is free (``chat_many`` runs at most ``per_server`` times
    the number of servers at once, so a first attempt always finds one). A retry passes
    ``failed``, the servers its request failed on (index -> retry count when it failed), and waits
    for a server not among them while there is one: going back to the failed server because it
    happens to be idle (a dead server fails at once, so it is always idle) would spend the retries
    there. Once every server failed the request, the one it failed on longest ago is tried, so
    retries walk the whole fleet.
    """

    def __init__(self, hosts: Sequence[str], per_server: int):
        self.hosts = list(hosts)
        self.per_server = per_server
        self.in_flight = [0] * len(self.hosts)
        self.answered: dict[str, int] = dict.fromkeys(self.hosts, 0)
        self.failed: dict[str, int] = dict.fromkeys(self.hosts, 0)
        self._free = threading.Condition(threading.Lock())

    def acquire(self, failed: dict[int, int] | None = None) -> int:
        """The index of the server for the next attempt, counted in flight until :meth:`release`."""
        failed = failed or {}
        with self._free:
            i = self._pick(failed)
            while i is None:  # every attempt in flight ends (answer or timeout) and wakes us
                self._free.wait()
                i = self._pick(failed)
            self.in_flight[i] += 1
            return i

    def _pick(self, failed: dict[int, int]) -> int | None:
        """The server to use now, or None to wait for one (called with the lock held)."""
        free = [k for k in range(len(self.hosts)) if self.in_flight[k] < self.per_server]
        if len(failed) < len(self.hosts):
            free = [k for k in free if k not in failed]
        if not free:
            return None
        return min(free, key=lambda k: (failed.get(k, -1), self.in_flight[k], k))

    def release(self, i: int, answered: bool) -> None:
        """The attempt on server ``i`` is over: it answered, or it failed (and may be retried elsewhere)."""
        with self._free:
            self.in_flight[i] -= 1
            (self.answered if answered else self.failed)[self.hosts[i]] += 1
            self._free.notify_all()

    def stats(self) -> dict[str, dict[str, int]]:
        with self._free:
            return {h: {"answered": self.answered[h], "failed": self.failed[h]} for h in self.hosts}


@register_backend("openai")
class OpenAICompatBackend(Backend):
    """Chat completions from OpenAI-compatible HTTP servers, with retries and bounded concurrency.

    Parameters
    ----------
    model : model name sent to the server (env ``SENTISYNTH_MODEL``; else the server's only model).
    base_url : e.g. ``http://127.0.0.1:8080/v1``, or a list of such URLs for a fleet of servers of
        one model (env ``SENTISYNTH_BASE_URL`` / ``OPENAI_BASE_URL``, comma-separated for a fleet).
    api_key : secret, one for all servers (env ``SENTISYNTH_API_KEY`` / ``OPENAI_API_KEY``); never recorded.
    max_concurrency : requests in flight at once per server in :meth:`chat_many`.
    timeout : seconds per HTTP attempt.
    max_retries : retries after the first attempt for retryable failures.
    backoff_base, backoff_max : the n-th retry waits ``min(backoff_max, backoff_base * 2**n)``
        scaled by a jitter factor in [0.5, 1).
    schema_mode : ``"json_schema"``, ``"llamacpp"`` or ``"none"`` (see the module docstring).
    """

    supports_schema = True

    def __init__(
        self,
        model: str | None = None,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        max_concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        schema_mode: str = "json_schema",
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.schema_mode = schema_mode
        # Instance-level: depends on how schemas are sent.
        self.supports_schema = schema_mode != "none"
        self._clients: list[Any] = []
        self._pool: ServerPool | None = None
        self._model: str | None = None

    # -- settings ----------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.schema_mode not in SCHEMA_MODES:
            raise ConfigError(f"The 'schema_mode' parameter of OpenAICompatBackend must be one of {list(SCHEMA_MODES)}; got {self.schema_mode!r} instead.")
        for name, lo in (("max_concurrency", 1), ("max_retries", 0)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"The '{name}' parameter of OpenAICompatBackend must be an int >= {lo}; got {v!r} instead.")
        for name in ("timeout", "backoff_base", "backoff_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or (name == "timeout" and v == 0):
                raise ConfigError(f"The '{name}' parameter of OpenAICompatBackend must be a positive number; got {v!r} instead.")
        self.resolved_base_urls()

    def _base_url_source(self) -> tuple[Any, str]:
        """The ``base_url`` in force and where it was set (errors say which setting to fix)."""
        if self.base_url or isinstance(self.base_url, (list, tuple)):
            return self.base_url, "The 'base_url' parameter of OpenAICompatBackend"
        for name in ("SENTISYNTH_BASE_URL", "OPENAI_BASE_URL"):
            if os.environ.get(name):
                return os.environ[name], f"The environment variable {name}"
        return OPENAI_URL, "The default base_url"

    def _servers(self) -> tuple[list[str], bool]:
        """The server URLs in force, checked, and whether they form a fleet (given as a list, or as a
        comma-separated string: environment variables and command-line options cannot hold a list)."""
        value, where = self._base_url_source()
        if isinstance(value, str) and "," in value:
            value = [u.strip() for u in value.split(",")]
        fleet = isinstance(value, (list, tuple))
        urls = list(value) if fleet else [value.strip() if isinstance(value, str) else value]
        self._check_urls(urls, where, fleet)
        return urls, fleet

    def _check_urls(self, urls: list[Any], where: str, fleet: bool) -> None:
        fix = "fix: give each server's URL once, each starting with http:// or https://"
        if not urls:
            raise ConfigError(f"{where} must be {_URL_EXPECTED}; got an empty list instead; {fix}.")
        for k, url in enumerate(urls):
            if not _is_http_url(url):
                found = f"{url!r} (entry {k + 1} of {len(urls)})" if fleet else repr(url)
                raise ConfigError(self._scrub(f"{where} must be {_URL_EXPECTED}; got {found} instead; {fix}."))
        labels = _server_labels(urls)
        twice = next((k for k, lab in enumerate(labels) if lab in labels[:k]), None)
        if twice is not None:
            first = labels.index(labels[twice])
            raise ConfigError(self._scrub(
                f"{where} must list each server once; got {urls[first]!r} (entry {first + 1}) and {urls[twice]!r} "
                f"(entry {twice + 1}), the same server, instead; fix: remove one of them."
            ))

    def resolved_base_urls(self) -> list[str]:
        """The URLs of the servers requests go to (one for a single server), checked."""
        return self._servers()[0]

    def _resolved_key(self) -> str:
        return self.api_key or _env("SENTISYNTH_API_KEY", "OPENAI_API_KEY") or PLACEHOLDER_KEY

    def resolved_model(self) -> str | None:
        return self._model or self.model or _env("SENTISYNTH_MODEL")

    def identity(self) -> dict[str, Any]:
        """Part of every cache key: the server's ``host:port`` for a single URL (as before fleets, so
        old caches stay valid), ``"fleet"`` for a list: all servers of a fleet serve the same model,
        so an answer does not depend on which one gave it, and adding or removing a server must not
        make the cache miss."""
        urls, fleet = self._servers()
        return {"backend": self.name, "model": self.resolved_model(), "base_url": FLEET if fleet else _host(urls[0])}

    def server_stats(self) -> dict[str, dict[str, int]]:
        """Per server (``host:port``): requests answered and attempts failed since the first ``load()``.

        Kept here, not in the Completions: those are cached and compared across runs, and which
        server answered must not change a record. This is for the operator (is a server down?).
        """
        return self._pool.stats() if self._pool is not None else {}

    def _scrub(self, text: str) -> str:
        """One line, no secrets: the API key and any bearer token are masked."""
        text = " ".join(str(text).split())
        for key in {self.api_key, _env("SENTISYNTH_API_KEY"), _env("OPENAI_API_KEY")}:
            if key and len(key) >= 4:
                text = text.replace(key, "<api_key>")
        text = re.sub(r"(?i)(bearer\s+)\S+", r"\1<api_key>", text)
        return text[:400]

    # -- setup -----------------------------------------------------------------------------------
    def load(self) -> "OpenAICompatBackend":
        self._check_params()
        self.supports_schema = self.schema_mode != "none"
        if self._clients:
            return self
        try:
            import openai
        except ImportError as e:
            raise ResourceError("the openai backend needs the openai client; fix: pip install 'openai==3.52.0'.") from e
        urls = self.resolved_base_urls()
        key = self._resolved_key()
        self._clients = [openai.OpenAI(api_key=key, base_url=u, timeout=float(self.timeout), max_retries=0) for u in urls]
        labels = _server_labels(urls)
        if self._pool is None or self._pool.hosts != labels:  # counts survive close() and a reload
            self._pool = ServerPool(labels, self.max_concurrency)
        self._pool.per_server = self.max_concurrency
        self.requests_per_server_ = self._pool.answered
        if not self.resolved_model():
            try:
                self._model = self._fleet_model()
            except Exception:
                self.close()
                raise
        return self

    def _fleet_model(self) -> str:
        """The model id when every server serves exactly one and the same one (local servers, a
        fleet); else a ConfigError naming the server that differs — answers from two models would
        make a run's records depend on which server answered."""
        assert self._pool is not None
        first: tuple[str, str] | None = None
        for i, host in enumerate(self._pool.hosts):
            ids = self._served_models(i)
            if first is None:
                if len(ids) != 1:
                    raise ConfigError(
                        f"no model given for the openai backend and the server at {host} serves {len(ids)} models "
                        f"{ids[:10]}; fix: set model= (or SENTISYNTH_MODEL)."
                    )
                first = (host, ids[0])
            elif ids != [first[1]]:
                raise ConfigError(
                    f"no model given for the openai backend and the servers of base_url disagree: {first[0]} serves "
                    f"{first[1]!r} but {host} serves {ids[:10]}; expected every server to serve the same single model; "
                    f"fix: set model= (or SENTISYNTH_MODEL), or remove {host} from base_url."
                )
        assert first is not None
        return first[1]

    def _served_models(self, server: int) -> list[str]:
        assert self._pool is not None
        host = self._pool.hosts[server]
        try:
            page = self._call_with_retries(lambda client: client.models.list(), seed=0, server=server)[0]
        except ResourceError as e:
            raise ResourceError(f"no model given and listing models at {host} failed: {e}") from None
        return [m.id for m in page.data]

    def close(self) -> None:
        for client in self._clients:
            try:
                client.close()
            except Exception:  # pragma: no cover - best effort
                pass
        self._clients = []

    # -- requests ----------------------------------------------------------------------------------
    def _messages_and_format(self, request: ChatRequest) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
        # The server formats the prompt and may parse control tokens in content: break any in data.
        messages = [{**m, "content": break_control_markers(m.get("content") or "")} for m in request.messages]
        schema = request.schema
        if not schema:
            return messages, None
        if self.schema_mode == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "response"))[:64] or "response"
            return messages, {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        if self.schema_mode == "llamacpp":
            return messages, {"type": "json_object", "schema": schema}
        # "none": describe the schema in the last user message.
        note = "\n\nAnswer with JSON only, matching this JSON schema:\n" + json.dumps(schema)
        for m in reversed(messages):
            if m.get("role") == "user":
                m["content"] = (m.get("content") or "") + note
                break
        else:
            messages.append({"role": "user", "content": note.strip()})
        return messages, None

    def _delay(self, attempt: int, rng: random.Random, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        base = min(float(self.backoff_max), float(self.backoff_base) * (2.0**attempt))
        return base * (0.5 + 0.5 * rng.random())

    def _call_with_retries(self, fn: Callable[[Any], Any], seed: int, check: Any = None,
                           server: int | None = None) -> tuple[Any, Counter]:
        """Run ``fn(client)`` with our retry policy; returns (result, retries by cause).

        Each attempt goes to the server the pool picks (a retry to another server than the ones
        that failed it, when there is one), or always to ``server`` when given (asking one server
        for its models). ``check(result)`` returns a reason when a 200 answer is unusable (no
        choices); such answers are retried like transport faults, as is a body that is not valid JSON.
        """
        assert self._pool is not None
        rng = random.Random(f"sentisynth-backoff-{seed}")
        causes: Counter = Counter()
        failed_on: dict[int, int] = {}
        while True:
            i = server if server is not None else self._pool.acquire(failed_on)
            result, failure = self._attempt(fn, i, check, pooled=server is None)
            if failure is None:
                return result, causes
            cause, why, retry_after = failure
            retries = sum(causes.values())
            failed_on[i] = retries
            if retries >= self.max_retries:
                raise ResourceError(self._gave_up(i, retries, why, pinned=server is not None)) from None
            time.sleep(self._delay(retries, rng, retry_after))
            causes[cause] += 1

    def _gave_up(self, server: int, retries: int, why: str, pinned: bool) -> str:
        assert self._pool is not None
        n = 1 if pinned else len(self._pool.hosts)
        where = f"server at {self._pool.hosts[server]}" + (f" (the last tried of {n} servers)" if n > 1 else "")
        return (f"{where} failed for model {self.resolved_model()!r} after {retries} retr{'y' if retries == 1 else 'ies'}: "
                f"last error {why}; fix: check that the server{'s are' if n > 1 else ' is'} up, or raise max_retries / timeout.")

    def _attempt(self, fn: Callable[[Any], Any], server: int, check: Any, pooled: bool) -> tuple[Any, Failure | None]:
        """One attempt on one server, released to the pool (counted answered or failed) when pooled."""
        answered = False
        try:
            result, failure = self._try_once(fn, server, check)
            answered = failure is None
            return result, failure
        finally:
            if pooled and self._pool is not None:
                self._pool.release(server, answered)

    def _try_once(self, fn: Callable[[Any], Any], server: int, check: Any) -> tuple[Any, Failure | None]:
        """(result, None), or (None, failure) for a failure worth retrying; a failure that retrying
        will not fix is raised (a :class:`HTTPStatusError` for a 4xx)."""
        import openai

        assert self._pool is not None
        host = self._pool.hosts[server]
        try:
            result = fn(self._clients[server])
            problem = check(result) if check is not None else None
            return (result, None) if problem is None else (None, (*problem, None))
        except openai.APITimeoutError:
            return None, ("timeout", f"timed out after {self.timeout:g} s", None)
        except openai.APIConnectionError as e:
            return None, ("connection", f"connection error ({self._scrub(getattr(e, 'message', '') or e)})", None)
        except openai.APIStatusError as e:
            return None, self._status_failure(e, host)
        except ValueError as e:  # json.JSONDecodeError: a 200 whose body is cut or not JSON
            return None, ("malformed_body", f"answer body is not valid JSON ({self._scrub(e)})", None)
        except openai.APIError as e:
            raise ResourceError(f"server at {host} sent an invalid answer: {self._scrub(e)}") from None

    def _status_failure(self, e: Any, host: str) -> Failure:
        """HTTP 408, 429 and 5xx are retried (honouring Retry-After); other statuses fail at once."""
        status = e.status_code
        detail = self._scrub(getattr(e, "message", "") or e)
        if status == 429 or status == 408 or status >= 500:
            return f"http_{status}", f"HTTP {status}: {detail}", _retry_after(getattr(e.response, "headers", None))
        fix = {
            401: "fix: check the API key (api_key or SENTISYNTH_API_KEY / OPENAI_API_KEY)",
            403: "fix: check the API key's permissions for this model",
            404: "fix: check base_url (usually ending in /v1) and the model name",
        }.get(status, "fix: check the request settings (model, max_tokens, schema_mode)")
        raise HTTPStatusError(
            f"server at {host} refused the request for model {self.resolved_model()!r} "
            f"with HTTP {status} ({detail}); not retried; {fix}.",
            status,
        ) from None

    def chat(self, request: ChatRequest) -> Completion:
        if not self._clients:
            self.load()
        messages, response_format = self._messages_and_format(request)
        kwargs: dict[str, Any] = dict(
            model=self.resolved_model(),
            messages=messages,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            seed=int(request.seed),
        )
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if response_format is not None:
            kwargs["response_format"] = response_format
        resp, causes = self._call_with_retries(lambda client: client.chat.completions.create(**kwargs), seed=request.seed,
                                               check=_no_choices)
        choice = resp.choices[0]
        usage = getattr(resp, "usage", None)
        return Completion(
            text=(choice.message.content if choice.message is not None else None) or "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=choice.finish_reason,
            retries=sum(causes.values()),
            extra={"retry_causes": dict(sorted(causes.items()))} if causes else {},
        )

    def chat_many(self, requests: Sequence[ChatRequest], on_answer: OnAnswer | None = None) -> list[Completion]:
        """Answer requests concurrently (at most ``max_concurrency`` in flight per server), in input order.

        Each answer goes to ``on_answer`` (in this thread) as it arrives, so a failure elsewhere in
        the batch does not lose it. The first failure (in input order) is raised after the others
        finish or fail.
        """
        requests = list(requests)
        if not requests:
            return []
        if not self._clients:
            self.load()
        workers = min(int(self.max_concurrency) * len(self._clients), len(requests))
        if workers == 1:
            return super().chat_many(requests, on_answer)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sentisynth-openai") as pool:
            futures = {pool.submit(self.chat, r): i for i, r in enumerate(requests)}
            if on_answer is not None:
                for f in as_completed(futures):
                    if f.exception() is None:
                        on_answer(futures[f], f.result())
            return [f.result() for f in futures]
