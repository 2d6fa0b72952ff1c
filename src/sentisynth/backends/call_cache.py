"""A disk cache of LLM calls, so reruns and crash-resumes never pay for a call twice.

The key is a hash of the backend's identity (backend kind, model, weights hash — never an API
key) and every field of the request (messages, schema, sampling parameters, seed). SQLite commits
each answer as soon as it arrives, so a ``kill -9`` loses at most the call in flight.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from .base import Backend, ChatRequest, Completion, OnAnswer


def call_key(identity: dict[str, Any], request: ChatRequest) -> str:
    payload = json.dumps({"id": identity, "req": request.key_fields()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CallCache:
    """Completions by key in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        if not hasattr(self, "con_"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT, created REAL)")
            self.con_ = con
        return self.con_

    def get(self, key: str) -> Completion | None:
        row = self._connect().execute("SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
        return Completion.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion) -> None:
        con = self._connect()
        with con:
            con.execute(
                "INSERT OR REPLACE INTO calls (key, completion, created) VALUES (?, ?, ?)",
                (key, json.dumps(completion.to_dict(), ensure_ascii=False), time.time()),
            )

    def close(self) -> None:
        if hasattr(self, "con_"):
            self.con_.close()
            del self.con_


def cached_backend(backend: Any, model: str, backend_params: dict[str, Any] | None, cache_path: Any = None) -> "CachedBackend":
    """``backend`` (a Backend, or a registered name opened on ``model``) behind the shared call cache
    (``cache_path``, default ``<cache>/llm_calls.sqlite``): what generators and LLM teachers use."""
    from ..paths import cache_dir
    from .base import make_backend

    if not isinstance(backend, Backend) and "model" in (backend_params or {}):
        raise ConfigError(
            f"backend_params set 'model' ({backend_params['model']!r}); expected the model in the 'model' parameter "
            f"beside backend_params, which also keys the call cache; fix: move it out of backend_params (model: ...)."
        )
    inner = backend if isinstance(backend, Backend) else make_backend(backend, model=model, **(backend_params or {}))
    return CachedBackend(inner, CallCache(cache_path or cache_dir() / "llm_calls.sqlite"))


class CachedBackend(Backend):
    """Wraps a backend: answers from the cache when it can, stores every new answer.

    Counters (``calls``, ``hits``) let a generator report cache reuse per stage.
    """

    def __init__(self, backend: Backend, cache: CallCache):
        self.backend = backend
        self.cache = cache

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.backend.name

    @property
    def supports_schema(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.backend, "supports_schema", False))

    @property
    def blocks_copies(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.backend, "blocks_copies", False))

    def identity(self) -> dict[str, Any]:
        if not hasattr(self, "identity_"):
            self.identity_ = self.backend.identity()
        return self.identity_

    def get_params(self) -> dict[str, Any]:
        return self.backend.get_params()

    def load(self) -> "CachedBackend":
        self.backend.load()
        return self

    def chat(self, request: ChatRequest) -> Completion:
        return self.chat_many([request])[0]

    def chat_many(self, requests: Sequence[ChatRequest], on_answer: OnAnswer | None = None) -> list[Completion]:
        """Cached answers at once, the others from the backend, each stored as soon as it ends
        (a kill mid-batch loses only the answers still being decoded); ``on_answer`` sees new ones."""
        keys = [call_key(self.identity(), r) for r in requests]

        def answer(todo: list[int], store: OnAnswer) -> list[Completion]:
            if not getattr(self, "loaded_", False):
                self.backend.load()
                self.loaded_ = True

            def stored(j: int, completion: Completion) -> None:
                store(j, completion)
                if on_answer is not None:
                    on_answer(todo[j], completion)

            batch = [requests[i] for i in todo]
            if "on_answer" not in inspect.signature(self.backend.chat_many).parameters:
                return self.backend.chat_many(batch)  # a backend written before the hook: stored when it returns
            return self.backend.chat_many(batch, on_answer=stored)

        return self._through_cache(keys, answer)

    def _through_cache(self, keys: list[str], compute: Any) -> list[Completion]:
        """Cached completions for ``keys`` (marked ``cached``); ``compute(missing indices, store)``
        answers the rest and may call ``store(j, completion)`` for the j-th missing one as soon as
        it is ready; what it did not store is stored when it returns. Counts hits and calls."""
        out: list[Completion | None] = [self.cache.get(k) for k in keys]
        for c in out:
            if c is not None:
                c.cached = True
        todo = [i for i, c in enumerate(out) if c is None]
        self.hits = getattr(self, "hits", 0) + len(keys) - len(todo)
        self.calls = getattr(self, "calls", 0) + len(todo)
        stored: set[int] = set()

        def store(j: int, completion: Completion) -> None:
            self.cache.put(keys[todo[j]], completion)
            stored.add(j)

        if todo:
            for j, completion in enumerate(compute(todo, store)):
                if j not in stored:
                    store(j, completion)
                out[todo[j]] = completion
        return out  # type: ignore[return-value]

    def token_logprobs(self, texts: Sequence[str]) -> list[list[float]]:
        return self.backend.token_logprobs(texts)

    def choice_logprobs(self, prompts: Sequence[list[dict[str, str]]], choices: Sequence[str]) -> list[list[float]]:
        """Cached like chat calls (the scores are stored as the completion's text, JSON-encoded)."""
        keys = [hashlib.sha256(json.dumps({"id": self.identity(), "choice_logprobs": [m, list(choices)]}, sort_keys=True,
                                          ensure_ascii=False).encode("utf-8")).hexdigest() for m in prompts]

        def score(todo: list[int], store: OnAnswer) -> list[Completion]:
            return [Completion(text=json.dumps(lp)) for lp in self.backend.choice_logprobs([prompts[i] for i in todo], choices)]

        return [json.loads(c.text) for c in self._through_cache(keys, score)]

    def close(self) -> None:
        self.backend.close()
        self.cache.close()
