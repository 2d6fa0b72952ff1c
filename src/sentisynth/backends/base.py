"""The backend interface: where generated text and token scores come from.

Policy (generators, filters) is kept apart from backends (distilabel's lesson): a generator asks
for a chat completion, optionally constrained to a JSON schema, and never knows whether
llama.cpp in-process, an OpenAI-compatible server or a transformers model answered.

A backend's ``__init__`` only stores settings; ``load()`` does the heavy imports and opens models
or clients. ``chat_many`` is the batching hook: llama.cpp decodes ``n_parallel`` requests together, the HTTP
backend runs requests concurrently up to its limit, the others answer one at a time. Its
``on_answer`` callback hands over each answer as soon as it exists, so the call cache can store
it before the rest of the batch is done (a crash then loses only answers still being written).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from ..registry import Registry, constructor_params
from ..store import scrub_secrets

# Backends check their own values (base_url lists, timeouts) with errors that name the fix: names only here.
BACKENDS: Registry["Backend"] = Registry("backend", typed=False)
#: ``chat_many``'s callback: the index of a request and its answer, as soon as it is ready.
OnAnswer = Callable[[int, "Completion"], None]
register_backend = BACKENDS.register



#: Chat-template control markers of common model families (ChatML/Qwen/SmolLM ``<|im_start|>``,
#: Llama 3 ``<|eot_id|>``, Gemma ``<start_of_turn>``, Llama 2/Mistral ``[INST]``, ``<s>``), for
#: backends that cannot ask the model's own vocabulary (a remote server formats the prompt).
CONTROL_MARKERS = re.compile(r"<\|[^|<>\s]{1,40}\|>|<(?:start|end)_of_turn>|</?s>|\[/?INST\]|<</?SYS>>|<bos>|<eos>")
_BREAK = "\u200b"  # a zero-width space inside a marker: same text to a reader, plain tokens to the model


def break_control_markers(text: str, pieces: Any = None) -> str:
    """``text`` with every chat-control marker broken so the tokenizer reads it as plain text.

    Why: prompts carry text from data (seed examples, label names, model-written topics); llama.cpp
    and its server parse special tokens inside message content, so a seed text containing
    ``<|im_end|><|im_start|>system`` would otherwise end the user turn and open a new system turn.
    ``pieces`` are the exact control-token texts of the model (from its vocabulary); without them
    :data:`CONTROL_MARKERS` is used.
    """
    if pieces is None:
        return CONTROL_MARKERS.sub(lambda m: m.group(0)[0] + _BREAK + m.group(0)[1:], text)
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) > 1:
            text = text.replace(piece, piece[0] + _BREAK + piece[1:])
    return text


@dataclass
class ChatRequest:
    """One chat call. ``schema`` (a JSON schema) asks the backend to constrain output to it.

    ``avoid`` holds texts shown in the prompt that the answer must not reproduce (real examples
    shown for style): a backend with :attr:`Backend.blocks_copies` never writes
    :data:`AVOID_NGRAM_TOKENS` consecutive tokens of them; the caller still checks answers itself.
    """

    messages: list[dict[str, str]]
    schema: dict[str, Any] | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    stop: list[str] | None = None
    avoid: list[str] | None = None

    def key_fields(self) -> dict[str, Any]:
        """Everything that determines the answer (used in cache keys); ``avoid`` only when set, so
        the keys of requests without it are those they had before the field existed."""
        fields = asdict(self)
        if not fields["avoid"]:
            del fields["avoid"]
        return fields


#: A backend that blocks copies (:attr:`Backend.blocks_copies`) never writes this many consecutive
#: tokens of a text in ``ChatRequest.avoid``: short enough to stop a copied sentence within its
#: first words, long enough to leave common two- and three-word phrases alone.
AVOID_NGRAM_TOKENS = 4


class CopyBlocker:
    """What a decoder must not sample so that it never writes ``n`` consecutive tokens of any of
    ``token_lists`` (the tokenized ``ChatRequest.avoid`` texts): each run of ``n - 1`` tokens mapped to
    the tokens that would complete an ``n``-token run of one of them."""

    def __init__(self, token_lists: Sequence[Sequence[int]], n: int = AVOID_NGRAM_TOKENS):
        self.n = n
        banned: dict[tuple[int, ...], set[int]] = {}
        for toks in token_lists:
            for i in range(len(toks) - n + 1):
                banned.setdefault(tuple(toks[i : i + n - 1]), set()).add(int(toks[i + n - 1]))
        self.banned = {k: sorted(v) for k, v in banned.items()}

    def rule_out(self, tokens: Sequence[int], logits: Any) -> Any:
        """``logits`` (a numpy vector over the vocabulary) with every token that would complete a
        banned run after ``tokens`` (what was written so far) set to -inf, in place."""
        if len(tokens) >= self.n - 1:
            ids = self.banned.get(tuple(int(t) for t in tokens[len(tokens) - self.n + 1 :]))
            if ids:
                logits[ids] = float("-inf")
        return logits


@dataclass
class Completion:
    """A backend's answer with the usage figures the manifest reports."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    retries: int = 0
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Completion":
        return cls(**d)


class Backend:
    """Base class; subclasses implement ``load``, ``chat`` and optionally ``token_logprobs``."""

    name: ClassVar[str] = "base"
    #: True when ``schema`` is enforced by constrained decoding (else the caller must validate).
    supports_schema: ClassVar[bool] = False
    #: True when ``ChatRequest.avoid`` is enforced while decoding (else only the caller's checks apply).
    blocks_copies: ClassVar[bool] = False

    def get_params(self) -> dict[str, Any]:
        """Settings safe to record: secrets are replaced by a marker saying whether one was set."""
        return scrub_secrets(constructor_params(self))

    def identity(self) -> dict[str, Any]:
        """What identifies the model answering (name, file hash where local); part of cache keys."""
        return {"backend": self.name, "model": getattr(self, "model", None)}

    def load(self) -> "Backend":  # pragma: no cover - abstract
        raise NotImplementedError

    def chat(self, request: ChatRequest) -> Completion:  # pragma: no cover - abstract
        raise NotImplementedError

    def chat_many(self, requests: Sequence[ChatRequest], on_answer: OnAnswer | None = None) -> list[Completion]:
        """The answers to ``requests``, in order; the default asks one after another.

        ``on_answer(i, completion)`` is called in the caller's thread for each answer as soon as
        it is ready (in any order), before ``chat_many`` returns.
        """
        out = []
        for i, r in enumerate(requests):
            out.append(self.chat(r))
            if on_answer is not None:
                on_answer(i, out[-1])
        return out

    def token_logprobs(self, texts: Sequence[str]) -> list[list[float]]:  # pragma: no cover - optional
        """Per-token log-probabilities of each text under the model (perplexity, zero-shot scoring)."""
        raise NotImplementedError(f"backend {self.name!r} does not provide token log-probabilities")

    def choice_logprobs(self, prompts: Sequence[list[dict[str, str]]], choices: Sequence[str]) -> list[list[float]]:
        """For each chat prompt, log P(answer starts with choice) for every choice (zero-shot scoring).

        The model reads the prompt up to the start of its answer; each choice is scored by the
        log-probability of its first token there, so choices must start with different tokens
        (label words such as ``negative``/``positive`` do). One forward pass per prompt.
        """
        raise NotImplementedError(f"backend {self.name!r} does not score choices; use backend 'llamacpp' or 'transformers'")

    def close(self) -> None:
        """Release models, clients or threads."""


def distinct_first_tokens(choices: Sequence[str], first_token: Any) -> list[int]:
    """The first token id of each choice; ConfigError when two choices share one (unscorable)."""
    from ..errors import ConfigError

    ids = [first_token(c) for c in choices]
    seen: dict[int, str] = {}
    for c, t in zip(choices, ids):
        if t in seen:
            raise ConfigError(
                f"choices {seen[t]!r} and {c!r} start with the same token, so their first-token log-probabilities "
                f"cannot tell them apart; expected choices with distinct first words; fix: rename the labels "
                f"(label_words) or use another teacher."
            )
        seen[t] = c
    return ids


def make_backend(name: str, **params: Any) -> Backend:
    from . import llamacpp, openai_compat, transformers_lm  # noqa: F401  (register backends)

    return BACKENDS.make(name, **params)
