"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1, for reliability tests.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models`` like an OpenAI-compatible server
and, at set rates, misbehaves the way real servers and networks do:

=================  ==========================================================================
``http_500``       500 with an error body (echoing the caller's Authorization header when
                   ``echo_auth`` is on: a careless proxy that would leak a key into logs)
``http_429``       429 with ``Retry-After`` (seconds)
``timeout``        holds the connection ``hang`` seconds before answering (past the client's timeout)
``truncated``      sends the headers and half of a valid body, then closes the connection
``malformed_body`` 200 whose body is not JSON
``empty_choices``  200 with ``"choices": []``
``bad_json``       200 whose message content is cut-off JSON (the model stopped mid-answer)
``schema``         200 whose content is valid JSON that violates the requested schema
=================  ==========================================================================

The first five are transport faults a client must retry; the last two are model faults the
generator must repair or re-ask. Whether a request is faulted is drawn from an rng seeded by
(``seed``, the request body, how many times that body was seen), so a run's faults do not depend
on thread timing, and a retried request gets a fresh draw.

Healthy answers come from ``content`` (request JSON → message text). The default writes, for a
prompt asking for ``N strings``, ``{"items": [N distinct strings]}`` derived from the prompt and
the request's seed — deterministic, so two runs with the same seed get the same answers. With
``upstream`` set, healthy requests are forwarded to a real server instead (e.g. llama.cpp).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

TRANSPORT_FAULTS = ("http_500", "http_429", "timeout", "truncated", "malformed_body", "empty_choices")
CONTENT_FAULTS = ("bad_json", "schema")
FAULTS = TRANSPORT_FAULTS + CONTENT_FAULTS
_WORDS = ("quiet", "bright", "slow", "odd", "warm", "sharp", "plain", "wild", "dense", "light", "bold", "stale", "crisp",
          "murky", "lush", "dry", "vivid", "flat", "brisk", "grim")


def items_content(request: dict[str, Any]) -> str:
    """A healthy answer to a hierarchical-generator prompt: N distinct short texts."""
    user = request["messages"][-1]["content"]
    m = re.search(r"\.\.\.(\d+) strings", user)
    n = int(m.group(1)) if m else 3
    digest = hashlib.sha256((user + str(request.get("seed"))).encode()).digest()
    items = [f"{_WORDS[digest[i % 32] % 20]} {_WORDS[digest[(i + 7) % 32] % 20]} text {digest.hex()[:10]} number {i}" for i in range(n)]
    return json.dumps({"items": items})


class FaultServer:
    """The server's settings and what it did (``served`` counts outcomes, ``auth_seen`` keys sent)."""

    def __init__(self, rates: dict[str, float] | None = None, seed: int = 0, hang: float = 3.0, retry_after: float = 1.0,
                 latency: float = 0.0, echo_auth: bool = False, model: str = "fault-model",
                 content: Callable[[dict[str, Any]], str] = items_content, upstream: str | None = None):
        unknown = set(rates or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        if sum((rates or {}).values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self.rates = dict(rates or {})
        self.seed = seed
        self.hang = hang
        self.retry_after = retry_after
        self.latency = latency
        self.echo_auth = echo_auth
        self.model = model
        self.content = content
        self.upstream = upstream
        self.served: Counter[str] = Counter()
        self.auth_seen: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def draw(self, body: bytes) -> str:
        """The outcome for this request body: "ok" or a fault name."""
        sha = hashlib.sha256(body).hexdigest()
        with self._lock:
            attempt = self._attempts[sha]
            self._attempts[sha] += 1
        u = random.Random(f"{self.seed}|{sha}|{attempt}").random()
        edge = 0.0
        for name in FAULTS:
            edge += self.rates.get(name, 0.0)
            if u < edge:
                return name
        return "ok"

    def count(self, outcome: str) -> None:
        with self._lock:
            self.served[outcome] += 1

    def healthy(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.upstream:
            req = urllib.request.Request(self.upstream.rstrip("/") + "/chat/completions", data=json.dumps(request).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.load(r)
        text = self.content(request)
        return {
            "id": "chatcmpl-fault", "object": "chat.completion", "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(json.dumps(request["messages"])) // 4, "completion_tokens": len(text) // 4,
                      "total_tokens": len(json.dumps(request["messages"])) // 4 + len(text) // 4},
        }


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, cut: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
            self.wfile.flush()
            if cut:
                self.close_connection = True

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": server.model, "object": "model"}]}).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization", "")
            if auth:
                server.auth_seen.add(auth.split(" ", 1)[-1])
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            request = json.loads(body)
            outcome = server.draw(body)
            server.count(outcome)
            if server.latency:
                time.sleep(server.latency)
            try:
                self._answer(outcome, request, auth)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
                self.close_connection = True

        def _answer(self, outcome: str, request: dict[str, Any], auth: str) -> None:
            if outcome == "http_500":
                msg = "internal error" + (f" (request had Authorization: {auth})" if server.echo_auth else "")
                self._send(500, json.dumps({"error": {"message": msg, "type": "server_error"}}).encode())
            elif outcome == "http_429":
                self._send(429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}',
                           {"Retry-After": f"{server.retry_after:g}"})
            elif outcome == "timeout":
                time.sleep(server.hang)
                self._send(200, json.dumps(server.healthy(request)).encode())
            elif outcome == "truncated":
                self._send(200, json.dumps(server.healthy(request)).encode(), cut=True)
            elif outcome == "malformed_body":
                self._send(200, b'{"id": "chatcmpl-fault", "choices": [{"index": 0, "message": {"content": "{\\"ite')
            elif outcome == "empty_choices":
                answer = server.healthy(request)
                answer["choices"] = []
                self._send(200, json.dumps(answer).encode())
            elif outcome in CONTENT_FAULTS:
                answer = server.healthy(request)
                text = answer["choices"][0]["message"]["content"]
                answer["choices"][0]["message"]["content"] = (text[: len(text) // 2] if outcome == "bad_json"
                                                              else json.dumps({"answer": "I would rather not list them."}))
                self._send(200, json.dumps(answer).encode())
            else:
                self._send(200, json.dumps(server.healthy(request)).encode())

    return Handler


@contextlib.contextmanager
def running_fault_server(**settings: Any) -> Iterator[tuple[str, FaultServer]]:
    """Start a :class:`FaultServer` on a free 127.0.0.1 port; yields (``/v1`` base URL, server)."""
    state = FaultServer(**settings)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="fault-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    finally:
        httpd.shutdown()
        httpd.server_close()
