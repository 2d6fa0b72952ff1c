"""llama.cpp in-process: GGUF models through llama-cpp-python.

``model`` is a short name known to :func:`sentisynth.backends.models.resolve_model`
(``smollm2-135m``, ``qwen2.5-0.5b-instruct``, ...) or a path to a ``.gguf`` file.

Two decoders. By default (``n_parallel`` = 16) requests go through SentiSynth's own decoder,
:mod:`~sentisynth.backends.llamacpp_parallel`: several sequences per decode step and the grammar
checked after sampling, about four times the tokens/s (``benchmarks/bench_llamacpp_parallel.py``). Its
texts are reproducible for the same requests in the same call, but a request's text can depend on
which requests shared its decode steps. ``n_parallel=1`` keeps llama-cpp-python's
``create_chat_completion``, one request at a time, with the stronger guarantee below.

Determinism with ``n_parallel=1``: llama-cpp-python (0.3.x) builds a fresh sampler for every completion and seeds it
from the ``seed`` argument of ``create_chat_completion``; this backend passes ``request.seed``
every time. That alone is not enough: by default llama-cpp-python reuses the KV cache of the
longest common prompt prefix with the previous call and re-evaluates only the rest, and logits
computed that way differ slightly from a fresh evaluation (different batch shapes), which at
temperature > 0 changes the sampled text. So :meth:`LlamaCppBackend.chat` resets the context
before every request and evaluates the whole prompt (prompt processing is about four times
faster per token than generation: ~76 vs ~18 tokens/s for Qwen2.5-1.5B on 2 cores here, so a
shared prefix of ~100 tokens costs ~1.3 s per call; ``benchmarks/bench_hierarchical.py`` measures
the whole cost). The same request (messages, sampling
settings, seed) on the same model file, thread count and build then gives the same text,
whatever was asked before.

JSON schemas are enforced by constrained decoding: the schema is compiled to a llama.cpp GBNF
grammar (once per distinct schema) and passed as ``grammar``. Unlike llama-cpp-python's own
``response_format`` handling, which silently falls back to "any JSON" when a schema cannot be
compiled, an unsupported schema here is a :class:`ConfigError`.

Token log-probabilities need logits for every position (``logits_all=True``), which the chat
instance does not keep. :meth:`LlamaCppBackend.token_logprobs` therefore opens a second ``Llama``
on the same file the first time it is called. The weights are memory-mapped, so they are shared
with the chat instance through the page cache; the extra cost is one more KV cache and context
(a few tens of MB for small models at ``n_ctx`` 4096) plus a host buffer of ``n_ctx x vocab``
float32 logits that is only touched for the positions actually scored. Texts longer than
``n_ctx - 1`` tokens are truncated.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, ResourceError
from .base import Backend, ChatRequest, Completion, CopyBlocker, OnAnswer, register_backend

_UINT32 = 0xFFFFFFFF


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file on disk and what identifies it."""

    name: str
    path: Path
    sha256: str | None
    source: str


def resolve_gguf(model: str | Path) -> GGUFModel:
    """A short name or a ``.gguf`` path → the file to open (via :func:`models.resolve_model`)."""
    from .models import resolve_model

    r = resolve_model(str(model))
    if str(r.format).lower() != "gguf":
        raise ConfigError(
            f"model {str(model)!r} resolves to a {r.format} model ({r.path}); the llamacpp backend needs a "
            f"GGUF file; fix: pass a .gguf path or a short name, or use backend 'transformers'."
        )
    return GGUFModel(name=r.name, path=Path(r.path), sha256=r.sha256 or None, source=str(r.source))


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def gguf_sha256(m: GGUFModel) -> str:
    """The file's sha256, from the resolver when it knows it, else computed once per process."""
    if m.sha256:
        return m.sha256
    from ..store import file_sha256

    st = m.path.stat()
    key = (str(m.path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = file_sha256(m.path)
    return _SHA_CACHE[key]


#: How long (GNU OpenMP spin iterations) llama.cpp's threads spin at a barrier before they sleep.
OPENMP_SPIN_COUNT = "1000"


def configure_openmp_waiting() -> None:
    """Let llama.cpp's OpenMP threads spin briefly at each barrier, then sleep.

    Why (``benchmarks/bench_omp_wait.py``, Qwen2.5-0.5B, 2 cores, tokens/s of the parallel
    decoder's steps): the runtime's default spins long — fastest on a quiet machine (1-row steps
    25.9, 4-row 65.1) but it collapses when another process holds a core (1.3 / 3.9: a spinning
    thread waits for a descheduled one). ``OMP_WAIT_POLICY=PASSIVE``, used before, sleeps at every
    barrier (hundreds per token): safe under load (12.9 / 33.1) but slow when the cores are free
    (16.4 / 44.8). Spinning 1,000 iterations first keeps both: 24.6 / 61.4 quiet, 11.7 / 30.1 with
    one core busy. ``GOMP_SPINCOUNT`` is GNU libgomp's knob (Linux builds); ``KMP_BLOCKTIME=0`` keeps
    LLVM's libomp passive as before. A user's own ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
    ``KMP_BLOCKTIME`` wins. Must run before the OpenMP runtime loads, i.e. before llama.cpp's import.
    """
    if any(k in os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")):
        return
    os.environ["GOMP_SPINCOUNT"] = OPENMP_SPIN_COUNT
    os.environ["KMP_BLOCKTIME"] = "0"


def _import_llama_cpp():
    configure_openmp_waiting()
    try:
        import llama_cpp
    except ImportError as e:
        raise ResourceError(
            "the llamacpp backend needs llama-cpp-python; fix: pip install 'llama-cpp-python==0.3.36' "
            "(compiles llama.cpp, about 10 minutes)."
        ) from e
    return llama_cpp


def _seed32(seed: int) -> int:
    """llama.cpp seeds are uint32 and 0xFFFFFFFF means 'random': map any int to a fixed valid seed."""
    s = int(seed) & _UINT32
    return s - 1 if s == _UINT32 else s


def _too_long(n_prompt: int | None, n_ctx: int) -> str:
    size = f"{n_prompt} tokens" if n_prompt is not None else "too many tokens"
    return (f"a prompt of {size} does not fit the context of {n_ctx} tokens; expected a prompt shorter than n_ctx; "
            f"fix: raise the backend's n_ctx or shorten the prompt template.")


@register_backend("llamacpp")
class LlamaCppBackend(Backend):
    """A GGUF model run in-process by llama.cpp; schemas enforced by grammar-constrained decoding.

    Parameters
    ----------
    model : short name (``smollm2-135m``, ``qwen2.5-0.5b-instruct``, ...) or a ``.gguf`` path.
    n_ctx : context length (prompt + answer) in tokens.
    n_threads : CPU threads for generation and prompt processing.
    n_batch : prompt tokens processed per llama.cpp decode call.
    chat_format : a llama-cpp-python chat format name (``chatml``, ``llama-2``...); ``None`` uses
        the chat template stored in the GGUF file.
    n_parallel : requests decoded together by :meth:`chat_many` with SentiSynth's own decoder
        (continuous batching and lazy grammar checks, :mod:`~sentisynth.backends.llamacpp_parallel`;
        about 4x the tokens/s of one at a time on 2 cores). Each parallel sequence holds its own KV
        cache of ``n_ctx`` tokens (16 x 4096 tokens: 0.8 GB for the 0.5B model, 1.8 GB for the 1.5B
        one). 16 because a step of 16 rows costs 2.4x a step of 4 on these 2 cores (not 4x): the
        main job's generation ran 1.21x faster than at 4, 8 in between (docs/SPEED.md). ``1`` uses
        llama-cpp-python's ``create_chat_completion`` one request at a time: slower, but a request's
        text never depends on the requests around it (the mode every figure before this decoder was
        measured in).
    verbose : let llama.cpp print its logs to stderr.
    """

    supports_schema = True
    blocks_copies = True

    def __init__(
        self,
        model: str = "qwen2.5-0.5b-instruct",
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 512,
        chat_format: str | None = None,
        n_parallel: int = 16,
        verbose: bool = False,
    ):
        self.model = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.chat_format = chat_format
        self.n_parallel = n_parallel
        self.verbose = verbose
        self._resolved: GGUFModel | None = None
        self._llm: Any = None
        self._scorer: Any = None
        self._grammars: dict[str, Any] = {}
        self._parallel: Any = None
        self._lock = threading.Lock()

    # -- setup -----------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("n_ctx", "n_threads", "n_batch", "n_parallel"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"The '{name}' parameter of LlamaCppBackend must be a positive int; got {v!r} instead.")

    def resolved(self) -> GGUFModel:
        if self._resolved is None:
            self._resolved = resolve_gguf(self.model)
        return self._resolved

    def _open(self, logits_all: bool) -> Any:
        llama_cpp = _import_llama_cpp()
        m = self.resolved()
        kwargs: dict[str, Any] = dict(
            model_path=str(m.path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads,
            n_batch=self.n_batch,
            seed=0,
            logits_all=logits_all,
            verbose=self.verbose,
        )
        if self.chat_format is not None:
            kwargs["chat_format"] = self.chat_format
        try:
            return llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as e:
            raise ResourceError(f"llama.cpp could not open {m.path} ({m.name}): {e}") from e

    def load(self) -> "LlamaCppBackend":
        self._check_params()
        if self._llm is None:
            self._llm = self._open(logits_all=False)
        return self

    def close(self) -> None:
        if self._parallel is not None:
            self._parallel.close()
            self._parallel = None
        for attr in ("_llm", "_scorer"):
            llm = getattr(self, attr)
            if llm is not None:
                try:
                    llm.close()
                except Exception:  # pragma: no cover - best effort
                    pass
                setattr(self, attr, None)

    def identity(self) -> dict[str, Any]:
        m = self.resolved()
        ident = {
            "backend": self.name,
            "model": m.name,
            "sha256": gguf_sha256(m),
            "chat_format": self.chat_format,
        }
        if self._uses_decoder():
            # Another decoder (batched steps, grammar checked after sampling) samples other texts
            # for the same seed: its answers are cached apart from one-at-a-time answers.
            ident["decoder"] = "parallel"
        return ident

    # -- chat --------------------------------------------------------------------------------------
    def grammar_for(self, schema: dict[str, Any]) -> Any:
        """The GBNF grammar for a JSON schema (compiled once per schema); ConfigError if unsupported."""
        key = json.dumps(schema, sort_keys=True)
        g = self._grammars.get(key)
        if g is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                g = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except Exception as e:
                raise ConfigError(f"llama.cpp cannot turn this JSON schema into a grammar ({type(e).__name__}: {e}); simplify the schema.") from e
            self._grammars[key] = g
        return g

    def chat(self, request: ChatRequest) -> Completion:
        if self._uses_decoder():
            return self._decode_together([request])[0]
        if self._llm is None:
            self.load()
        grammar = self.grammar_for(request.schema) if request.schema else None
        with self._lock:
            # Evaluate the prompt from scratch: reusing a cached KV prefix changes the logits
            # slightly (a different batch shape), enough to change sampled text for one seed.
            self._llm.reset()
            try:
                out = self._llm.create_chat_completion(
                    messages=self.safe_messages(request.messages),
                    temperature=request.temperature,
                    top_p=request.top_p,
                    max_tokens=request.max_tokens,
                    seed=_seed32(request.seed),
                    stop=request.stop or None,
                    grammar=grammar,
                    logits_processor=self._copy_blocker(request),
                )
            except ValueError as e:
                if "exceed context window" not in str(e):
                    raise
                raise ConfigError(_too_long(None, self._llm.n_ctx()) + f" (llama.cpp: {e})") from e
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    def _uses_decoder(self) -> bool:
        """Whether requests go through :class:`~.llamacpp_parallel.ParallelDecoder` (``n_parallel`` > 1)
        rather than llama-cpp-python's ``create_chat_completion``. An explicit ``chat_format`` keeps
        the latter, which is the only one that knows how to render it."""
        return self.n_parallel > 1 and self.chat_format is None

    def chat_many(self, requests: Sequence[ChatRequest], on_answer: OnAnswer | None = None) -> list[Completion]:
        """The answers to ``requests``, in order; ``n_parallel`` of them decoded at a time, each
        handed to ``on_answer`` as soon as it ends."""
        if not self._uses_decoder():
            return super().chat_many(requests, on_answer)
        return self._decode_together(requests, on_answer)

    def _decode_together(self, requests: Sequence[ChatRequest], on_answer: OnAnswer | None = None) -> list[Completion]:
        from .llamacpp_parallel import ParallelDecoder

        def completion(r: Any) -> Completion:
            return Completion(text=r.text, prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens,
                              finish_reason=r.finish_reason)

        def ended(i: int, r: Any) -> None:
            if on_answer is not None:
                on_answer(i, completion(r))

        if self._llm is None:
            self.load()
        with self._lock:
            jobs = [self._decode_job(r) for r in requests]
            if self._parallel is None:
                self._parallel = ParallelDecoder(self._llm, self.n_parallel)
            before = self._parallel.prompt_tokens_evaluated
            results = self._parallel.run(jobs, on_result=ended)
            self.prompt_tokens_evaluated_ = (getattr(self, "prompt_tokens_evaluated_", 0)
                                             + self._parallel.prompt_tokens_evaluated - before)
        return [completion(r) for r in results]

    def _decode_job(self, request: ChatRequest) -> Any:
        """``request`` ready for the decoder: prompt tokens (GGUF chat template), sampler chain
        (llama-cpp-python's ``_init_sampler`` with ``create_chat_completion``'s defaults, seeded),
        grammar apart, stop strings (plus the EOS text, as the chat handler adds) and max_tokens."""
        from .llamacpp_parallel import DecodeJob

        llm = self._llm
        # A GGUF chat template writes its own BOS text (llama-cpp-python tokenizes its prompt the same way).
        has_template = bool(llm.metadata.get("tokenizer.chat_template"))
        prompt = llm.tokenize(self.chat_prompt(request.messages).encode("utf-8"), add_bos=not has_template, special=True)
        n_ctx = llm.n_ctx()
        if len(prompt) >= n_ctx:
            raise ConfigError(_too_long(len(prompt), n_ctx))
        room = n_ctx - len(prompt)  # llama-cpp-python: no max_tokens means "to the end of the context"
        max_tokens = min(request.max_tokens, room) if request.max_tokens and request.max_tokens > 0 else room
        llm.set_seed(_seed32(request.seed))
        chain = llm._init_sampler(top_k=40, top_p=request.top_p, min_p=0.05, typical_p=1.0,
                                  temp=request.temperature, repeat_penalty=1.0)
        grammar = None
        if request.schema:
            from llama_cpp import _internals

            grammar = _internals.LlamaSampler()
            grammar.add_grammar(llm._model, self.grammar_for(request.schema))
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        stop = [s.encode("utf-8") for s in (request.stop or []) + ([eos] if eos else [])]
        return DecodeJob(prompt_tokens=prompt, chain=chain, grammar=grammar, max_tokens=max_tokens, stop=stop,
                         blocker=self._blocker(request))

    def _blocker(self, request: ChatRequest) -> CopyBlocker | None:
        """The :class:`~.base.CopyBlocker` for ``request.avoid`` (None without it): each text tokenized
        as it starts an answer and as it follows a space (a JSON string's first word is tokenized with
        its quote, the rest with their spaces, so the second form covers all but the first token)."""
        if not request.avoid:
            return None
        llm = self._llm
        return CopyBlocker([llm.tokenize(form.encode("utf-8"), add_bos=False, special=False)
                            for text in request.avoid for form in (text, " " + text)])

    def _copy_blocker(self, request: ChatRequest) -> Any:
        """``request.avoid`` for llama-cpp-python's one-at-a-time path: the blocker as a logits
        processor over the tokens so far (None when nothing is to be avoided)."""
        blocker = self._blocker(request)
        if blocker is None:
            return None
        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList([blocker.rule_out])

    def safe_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """``messages`` with any of this model's control tokens inside their text broken into plain
        text (see :func:`~sentisynth.backends.base.break_control_markers`): data cannot open a turn."""
        import llama_cpp

        from .base import break_control_markers

        model = self.load()._llm._model
        out = []
        for m in messages:
            content = m.get("content") or ""
            toks = self._llm.tokenize(content.encode("utf-8"), add_bos=False, special=True)
            pieces = {model.token_get_text(t) for t in toks if model.token_get_attr(t) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL}
            out.append({**m, "content": break_control_markers(content, pieces)} if pieces else m)
        return out

    # -- scoring -----------------------------------------------------------------------------------
    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt text the chat instance would read for ``messages``, up to the answer's start.

        Rendered with the chat template stored in the GGUF (as llama-cpp-python does by default);
        a model without one, or an explicit ``chat_format``, gets the messages joined by blank lines.
        """
        llm = self.load()._llm
        template = llm.metadata.get("tokenizer.chat_template")
        if template and self.chat_format is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(tok: int) -> str:
                return llm._model.token_get_text(tok) if tok is not None and tok >= 0 else ""

            return Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()),
                                       bos_token=text(llm.token_bos()))(messages=self.safe_messages(messages)).prompt
        return "\n\n".join(m.get("content") or "" for m in self.safe_messages(messages)) + "\n\n"

    def choice_logprobs(self, prompts: Sequence[list[dict[str, str]]], choices: Sequence[str]) -> list[list[float]]:
        import numpy as np

        from .base import distinct_first_tokens

        llm = self.load()._llm
        ids = distinct_first_tokens(choices, lambda c: llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)[0])
        out: list[list[float]] = []
        with self._lock:
            for messages in prompts:
                toks = llm.tokenize(self.chat_prompt(messages).encode("utf-8"), add_bos=False, special=True)
                if len(toks) >= self.n_ctx:
                    raise ConfigError(f"a scoring prompt has {len(toks)} tokens, more than n_ctx={self.n_ctx}; fix: raise n_ctx or shorten the text.")
                llm.reset()
                llm.eval(toks)
                # Without logits_all, llama-cpp-python keeps no scores; the context still holds the
                # logits of the last evaluated token, which is all this needs.
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
                mx = logits.max()
                lse = mx + np.log(np.exp(logits - mx).sum())
                out.append([float(logits[t] - lse) for t in ids])
        return out

    def token_logprobs(self, texts: Sequence[str]) -> list[list[float]]:
        """Log-probability of each token of each text given the tokens before it.

        The text is preceded by the model's BOS token when it has one, so the first token is scored
        too; a model without BOS returns one value fewer than the text has tokens. Opens a second
        llama.cpp context with ``logits_all=True`` on first use (see the module docstring).
        """
        import numpy as np

        self._check_params()
        with self._lock:
            if self._scorer is None:
                self._scorer = self._open(logits_all=True)
            llm = self._scorer
            bos = llm.token_bos()
            prefix = [bos] if bos is not None and bos >= 0 else []
            out: list[list[float]] = []
            for text in texts:
                toks = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
                seq = (prefix + list(toks))[: self.n_ctx]
                if len(seq) < 2:
                    out.append([])
                    continue
                llm.reset()
                llm.eval(seq)
                logits = np.asarray(llm.scores[: len(seq) - 1], dtype=np.float64)
                mx = logits.max(axis=1, keepdims=True)
                lse = (mx[:, 0] + np.log(np.exp(logits - mx).sum(axis=1)))
                target = np.asarray(seq[1:])
                lp = logits[np.arange(len(target)), target] - lse
                out.append([float(x) for x in lp])
            return out

