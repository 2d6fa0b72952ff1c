"""A deterministic stand-in LLM for fast unit tests of generator *policy* (never the only proof).

It answers every request with distinct items derived from the request's seed and the prompt, and
can be told to misbehave (prose instead of JSON, duplicates) to exercise parsing and retries.
"""

from __future__ import annotations

import hashlib
import json
import re

from sentisynth.backends.base import Backend, ChatRequest, Completion


def crashing(after: int) -> "FakeBackend":
    fb = FakeBackend()
    fb.crash_after = after
    return fb


class FakeBackend(Backend):
    name = "fake"
    supports_schema = False

    #: Raise after this many calls (simulates a crash; not a constructor parameter, so a crashing
    #: and a healthy backend share one config hash and the rerun resumes).
    crash_after: int | None = None

    def __init__(self, model: str = "fake", garbage_every: int = 0, duplicate_every: int = 0):
        self.model = model
        self.garbage_every = garbage_every
        self.duplicate_every = duplicate_every

    def load(self):
        self.calls_ = getattr(self, "calls_", 0)
        return self

    def chat(self, request: ChatRequest) -> Completion:
        self.calls_ = getattr(self, "calls_", 0) + 1
        if self.crash_after is not None and self.calls_ > self.crash_after:
            raise KeyboardInterrupt("simulated crash")
        user = request.messages[-1]["content"]
        n = int(re.search(r"\.\.\.(\d+) strings", user).group(1))
        tag = hashlib.sha256((user + str(request.seed)).encode()).hexdigest()[:6]
        if self.garbage_every and self.calls_ % self.garbage_every == 0:
            return Completion(text="Sure! Here you go:\n" + "\n".join(f"{i + 1}. prose item {tag} {i}" for i in range(n)), completion_tokens=5)
        items = [f"item {tag} {i}" for i in range(n)]
        if self.duplicate_every and self.calls_ % self.duplicate_every == 0 and n > 1:
            items[-1] = items[0]
        return Completion(text=json.dumps({"items": items}), prompt_tokens=len(user.split()), completion_tokens=3 * n)


class Recording(FakeBackend):
    """The fake LLM, keeping every prompt it was asked (and every request)."""

    def chat(self, request):
        self.prompts = getattr(self, "prompts", []) + [request.messages[-1]["content"]]
        self.requests = getattr(self, "requests", []) + [request]
        return super().chat(request)
