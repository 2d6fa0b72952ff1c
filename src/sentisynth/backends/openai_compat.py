"""Any OpenAI-compatible chat server: OpenAI itself, vLLM, llama.cpp's servers, Ollama, ...

Settings not given fall back to the environment: ``base_url`` to ``SENTISYNTH_BASE_URL`` then
``OPENAI_BASE_URL`` (else OpenAI's own endpoint), ``api_key`` to ``SENTISYNTH_API_KEY`` then
``OPENAI_API_KEY`` (else a placeholder, enough for local servers), ``model`` to
``SENTISYNTH_MODEL`` (else the server's only model, asked from ``/v1/models`` at ``load()``).

Reliability is handled here, not by the ``openai`` client (its own retries are off): timeouts,
connection errors (including a body cut off mid-transfer), HTTP 408, 429 and 5xx, a 200 whose body
is not JSON and a 200 without choices are retried up to ``max_retries`` times with exponential
backoff and jitter drawn from an rng seeded by the request's seed (a ``Retry-After`` header wins
when the server sends one); every retry is counted in :attr:`Completion.retries` and by cause in
``Completion.extra["retry_causes"]``. Other 4xx answers fail at once with a :class:`ConfigError`.
The API key never appears in an error message, a manifest (:meth:`get_params`) or a cache key
(:meth:`identity`).

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
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence
from urllib.parse import urlsplit

from ..errors import ConfigError, ResourceError
from .base import Backend, ChatRequest, Completion, break_control_markers, register_backend

SCHEMA_MODES = ("json_schema", "llamacpp", "none")
#: Longest wait honoured from a Retry-After header (seconds).
MAX_RETRY_AFTER = 120.0
PLACEHOLDER_KEY = "sk-no-key-required"


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


class HTTPStatusError(ConfigError):
    """The server refused a request with a 4xx status that retrying will not fix."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


@register_backend("openai")
class OpenAICompatBackend(Backend):
    """Chat completions from an OpenAI-compatible HTTP server, with retries and bounded concurrency.

    Parameters
    ----------
    model : model name sent to the server (env ``SENTISYNTH_MODEL``; else the server's only model).
    base_url : e.g. ``http://127.0.0.1:8080/v1`` (env ``SENTISYNTH_BASE_URL`` / ``OPENAI_BASE_URL``).
    api_key : secret (env ``SENTISYNTH_API_KEY`` / ``OPENAI_API_KEY``); never recorded.
    max_concurrency : requests in flight at once in :meth:`chat_many`.
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
        base_url: str | None = None,
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
        self._client: Any = None
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

    def resolved_base_url(self) -> str | None:
        return self.base_url or _env("SENTISYNTH_BASE_URL", "OPENAI_BASE_URL")

    def _resolved_key(self) -> str:
        return self.api_key or _env("SENTISYNTH_API_KEY", "OPENAI_API_KEY") or PLACEHOLDER_KEY

    def resolved_model(self) -> str | None:
        return self._model or self.model or _env("SENTISYNTH_MODEL")

    def _host(self) -> str:
        url = self.resolved_base_url() or "https://api.openai.com/v1"
        parts = urlsplit(url)
        host = parts.hostname or url
        return f"{host}:{parts.port}" if parts.port else host

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.resolved_model(), "base_url": self._host()}

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
        if self._client is not None:
            return self
        try:
            import openai
        except ImportError as e:
            raise ResourceError("the openai backend needs the openai client; fix: pip install 'openai==3.52.0'.") from e
        self._client = openai.OpenAI(
            api_key=self._resolved_key(),
            base_url=self.resolved_base_url(),
            timeout=float(self.timeout),
            max_retries=0,
        )
        if not self.resolved_model():
            self._model = self._server_model()
        return self

    def _server_model(self) -> str:
        """The model id when the server serves exactly one (local servers); else a ConfigError."""
        try:
            ids = [m.id for m in self._call_with_retries(lambda: self._client.models.list(), seed=0)[0].data]
        except ResourceError as e:
            raise ResourceError(f"no model given and listing models at {self._host()} failed: {e}") from None
        if len(ids) != 1:
            raise ConfigError(
                f"no model given for the openai backend and the server at {self._host()} serves {len(ids)} models "
                f"{ids[:10]}; fix: set model= (or SENTISYNTH_MODEL)."
            )
        return ids[0]

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # pragma: no cover - best effort
                pass
            self._client = None

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

    def _call_with_retries(self, fn: Any, seed: int, check: Any = None) -> tuple[Any, Counter]:
        """Run ``fn`` with our retry policy; returns (result, retries by cause).

        ``check(result)`` returns a reason when a 200 answer is unusable (no choices); such
        answers are retried like transport faults, as is a body that is not valid JSON.
        """
        import openai

        rng = random.Random(f"sentisynth-backoff-{seed}")
        causes: Counter = Counter()
        while True:
            retry_after: float | None = None
            try:
                result = fn()
                problem = check(result) if check is not None else None
                if problem is None:
                    return result, causes
                cause, why = problem
            except openai.APITimeoutError:
                cause, why = "timeout", f"timed out after {self.timeout:g} s"
            except openai.APIConnectionError as e:
                cause, why = "connection", f"connection error ({self._scrub(getattr(e, 'message', '') or e)})"
            except openai.APIStatusError as e:
                status = e.status_code
                detail = self._scrub(getattr(e, "message", "") or e)
                if status == 429 or status == 408 or status >= 500:
                    cause, why = f"http_{status}", f"HTTP {status}: {detail}"
                    retry_after = _retry_after(getattr(e.response, "headers", None))
                else:
                    fix = {
                        401: "fix: check the API key (api_key or SENTISYNTH_API_KEY / OPENAI_API_KEY)",
                        403: "fix: check the API key's permissions for this model",
                        404: "fix: check base_url (usually ending in /v1) and the model name",
                    }.get(status, "fix: check the request settings (model, max_tokens, schema_mode)")
                    raise HTTPStatusError(
                        f"server at {self._host()} refused the request for model {self.resolved_model()!r} "
                        f"with HTTP {status} ({detail}); not retried; {fix}.",
                        status,
                    ) from None
            except ValueError as e:  # json.JSONDecodeError: a 200 whose body is cut or not JSON
                cause, why = "malformed_body", f"answer body is not valid JSON ({self._scrub(e)})"
            except openai.APIError as e:
                raise ResourceError(f"server at {self._host()} sent an invalid answer: {self._scrub(e)}") from None
            retries = sum(causes.values())
            if retries >= self.max_retries:
                raise ResourceError(
                    f"server at {self._host()} failed for model {self.resolved_model()!r} after "
                    f"{retries} retr{'y' if retries == 1 else 'ies'}: last error {why}; fix: check that the "
                    f"server is up, or raise max_retries / timeout."
                ) from None
            time.sleep(self._delay(retries, rng, retry_after))
            causes[cause] += 1

    def chat(self, request: ChatRequest) -> Completion:
        if self._client is None:
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
        resp, causes = self._call_with_retries(lambda: self._client.chat.completions.create(**kwargs), seed=request.seed,
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

    def chat_many(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer requests concurrently (at most ``max_concurrency`` in flight), in input order.

        The first failure (in input order) is raised after the others finish or fail.
        """
        requests = list(requests)
        if not requests:
            return []
        if self._client is None:
            self.load()
        workers = min(int(self.max_concurrency), len(requests))
        if workers == 1:
            return [self.chat(r) for r in requests]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sentisynth-openai") as pool:
            futures = [pool.submit(self.chat, r) for r in requests]
            return [f.result() for f in futures]
