"""Several chat requests decoded together in one llama.cpp context (continuous batching).

Why: llama-cpp-python's ``create_chat_completion`` decodes one sequence at a time and, with a JSON
schema, runs the grammar over all ~150k vocabulary entries of Qwen before top-k at every step.
For Qwen2.5-1.5B on 2 cores here that was 107 ms per token with the grammar and 78 ms without.
This decoder drives llama.cpp's batch API itself, as llama.cpp's server does with ``--parallel``:

- ``n_parallel`` sequences share each one-token decode step, so the weights are read once per
  step for all of them;
- the grammar is asked only about the token the sampler chain picked, and filters the whole
  vocabulary only when it rejects that token (llama.cpp's ``common_sampler`` does the same);
- a slot freed by a finished answer takes the next waiting request at once;
- the prefix common to a call's prompts (the chat template's system turn and the start of the
  user turn) is evaluated once and its KV copied to every stream, and a stream keeps what it
  holds of its next prompt (prompts are evaluated at ~47 tokens/s on 2 cores here, so the 12k
  prompt tokens of a 200-record hierarchical run had cost about half of its time);
- requests start in the order of their prompts, and a stream takes a copy of another stream
  that holds a longer prefix of its next prompt than it does (the prompts of one label, source
  type and topic differ only after them).

``benchmarks/bench_llamacpp_parallel.py`` measures the gain against one at a time.

What stays the same as llama-cpp-python's path: the prompt (the GGUF chat template, evaluated
in ``n_batch`` chunks while the other streams wait), the sampler chain (its own ``Llama._init_sampler`` with
``create_chat_completion``'s defaults, seeded per request) and the stop rules of
``Llama._create_completion`` (end-of-generation token, stop strings, ``max_tokens`` truncated to
the context, incomplete UTF-8 held back). Each request keeps its own KV stream of the chat
context's length.

What changes: the texts. Sampling before the grammar is another procedure, and a one-token step
over several rows may use other matrix kernels than a step over one row (on this build the
results match for 2 rows and differ from 4), so a seed gives other text than with
``n_parallel=1``, and a request's text can depend on which requests shared its steps. The same
requests in the same call give the same texts every time (tested: every call starts from empty
streams, so the prefixes a call reuses are its own), so a run is reproducible;
``LlamaCppBackend.identity`` marks this decoder so its answers are cached apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


_MIN_SHARED_PREFIX = 8  # shorter common prefixes are not worth a KV copy
#: A copy between streams moves a whole stream's KV buffer (``n_ctx`` cells; ~50 MB for a 0.5B model
#: at 4096), about what evaluating a few prompt tokens costs; it is made when it saves at least this many.
_MIN_COPY_GAIN = 16


def _common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class DecodeJob:
    """One request ready to decode: its prompt tokens, its sampler chain and its stop rules."""

    prompt_tokens: list[int]
    chain: Any  # llama_cpp._internals.LlamaSampler without the grammar: top-k ... dist(seed)
    grammar: Any  # a LlamaSampler holding only the grammar, or None
    max_tokens: int
    stop: list[bytes]
    #: what not to sample after the answer's last tokens (``ChatRequest.avoid``), or None
    blocker: Any = None


@dataclass
class DecodeResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass
class _Slot:
    job_index: int
    job: DecodeJob
    pos: int
    next_token: int
    tokens: list[int] = field(default_factory=list)
    multibyte_fix: int = 0


class ParallelDecoder:
    """Decode :class:`DecodeJob`s ``n_parallel`` at a time with the weights of an open ``Llama``.

    The decoder opens its own context (``n_parallel`` KV streams of ``llm``'s ``n_ctx`` each) the
    first time it runs and keeps it; the chat context of ``llm`` is not touched.
    """

    def __init__(self, llm: Any, n_parallel: int):
        self.llm = llm
        self.n_parallel = n_parallel
        self._ctx: Any = None
        self._batch: Any = None
        self._cur: Any = None
        self._one: Any = None
        self._mem: Any = None
        self._held: dict[int, list[int]] = {}  # the prompt tokens each stream's KV holds
        self.prompt_tokens_evaluated = 0  # prompt tokens llama.cpp evaluated (held prefixes are not)

    def _open(self) -> None:
        import llama_cpp
        from llama_cpp import _internals

        from ..errors import ResourceError

        params = llama_cpp.llama_context_params.from_buffer_copy(self.llm.context_params)
        params.n_seq_max = self.n_parallel
        params.n_ctx = self.llm.n_ctx() * self.n_parallel
        params.kv_unified = False
        try:
            self._ctx = _internals.LlamaContext(model=self.llm._model, params=params, verbose=self.llm.verbose)
        except (ValueError, RuntimeError) as e:
            raise ResourceError(
                f"llama.cpp could not open a context for {self.n_parallel} parallel sequences of {self.llm.n_ctx()} "
                f"tokens ({e}); fix: lower n_parallel or n_ctx."
            ) from e
        self._batch = _internals.LlamaBatch(n_tokens=max(self.llm.n_batch, self.n_parallel), embd=0,
                                            n_seq_max=self.n_parallel, verbose=False)
        self._mem = llama_cpp.llama_get_memory(self._ctx.ctx)
        self._cur = _internals.LlamaTokenDataArray(n_vocab=self.llm.n_vocab())
        one = (llama_cpp.llama_token_data * 1)()
        self._one = (one, llama_cpp.llama_token_data_array(data=one, size=1, selected=-1, sorted=False))

    def close(self) -> None:
        for attr in ("_batch", "_ctx"):
            obj = getattr(self, attr)
            if obj is not None:
                obj.close()
                setattr(self, attr, None)
        self._mem = None  # belonged to the closed context

    # -- llama.cpp calls ---------------------------------------------------------------------------
    def _decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence, wants_logits)`` entries."""
        b = self._batch.batch
        b.n_tokens = 0
        for token, pos, seq, logits in entries:
            k = b.n_tokens
            b.token[k] = token
            b.pos[k] = pos
            b.seq_id[k][0] = seq
            b.n_seq_id[k] = 1
            b.logits[k] = logits
            b.n_tokens += 1
        self._ctx.decode(self._batch)

    def _start(self, seq: int, job_index: int, job: DecodeJob) -> _Slot:
        """Evaluate a prompt in stream ``seq`` and sample its first token.

        The stream keeps the longest prefix it already holds of this prompt (the call's shared
        prefix, or the previous prompt of this stream), or takes a copy of another stream that
        holds a longer one (a prompt that shares its label, source type and topic with one being
        answered), and evaluates only the rest, alone, in ``n_batch`` chunks like ``Llama.eval``.
        A stream's prompt cells stay valid while it answers (the answer's cells come after them).
        At least the last prompt token is evaluated, since its logits give the first answer token.
        """
        import llama_cpp

        toks = job.prompt_tokens
        keep = _common_prefix_len(self._held[seq], toks)
        donor, longest = max(((s, _common_prefix_len(held, toks)) for s, held in self._held.items() if s != seq),
                             key=lambda sn: sn[1], default=(seq, 0))
        if longest - keep >= _MIN_COPY_GAIN:
            llama_cpp.llama_memory_seq_cp(self._mem, donor, seq, -1, -1)  # the whole stream; cut below
            keep = longest
        keep = min(keep, len(toks) - 1)
        if not llama_cpp.llama_memory_seq_rm(self._mem, seq, keep, -1):  # a model whose cache cannot be cut
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
            keep = 0
        self._held[seq] = list(toks)
        last_row = self._evaluate(seq, toks, keep, logits_last=True)
        first = self._sample(job, last_row, [])
        return _Slot(job_index=job_index, job=job, pos=len(toks), next_token=first)

    def _evaluate(self, seq: int, toks: Sequence[int], start: int, logits_last: bool) -> int:
        """Evaluate ``toks[start:]`` (at their positions) in stream ``seq``, alone, in ``n_batch``
        chunks like ``Llama.eval``; the batch row of the last token, whose logits are kept when
        ``logits_last``."""
        step = self.llm.n_batch
        for i in range(start, len(toks), step):
            chunk = toks[i : i + step]
            self._decode([(t, i + j, seq, logits_last and i + j == len(toks) - 1) for j, t in enumerate(chunk)])
            self.prompt_tokens_evaluated += len(chunk)
        return len(chunk) - 1

    def _share_prefix(self, jobs: Sequence[DecodeJob]) -> None:
        """Evaluate the prefix common to every prompt of the call once and copy it to each stream.

        The prompts of one generator stage share the chat template's system turn and the start
        of the user turn. A copy between streams moves the whole KV buffer of the stream (a memory
        copy at the next decode, as llama.cpp requires for non-unified streams), which is cheap
        next to evaluating the prefix again.
        """
        import llama_cpp

        shared = jobs[0].prompt_tokens
        for job in jobs[1:]:
            shared = shared[: _common_prefix_len(shared, job.prompt_tokens)]
        shared = shared[: min(len(j.prompt_tokens) for j in jobs) - 1]
        if len(jobs) < 2 or len(shared) < _MIN_SHARED_PREFIX:
            return
        self._evaluate(0, shared, 0, logits_last=False)
        self._held[0] = list(shared)
        for seq in range(1, min(self.n_parallel, len(jobs))):
            llama_cpp.llama_memory_seq_cp(self._mem, 0, seq, -1, -1)
            self._held[seq] = list(shared)

    def _sample(self, job: DecodeJob, row: int, answer: Sequence[int]) -> int:
        """The next token from the logits of batch row ``row``, grammar checked lazily; ``answer``
        holds the tokens sampled so far (``job.blocker`` rules out, first, a token that would complete
        a run of a text to avoid).

        llama-cpp-python applies the grammar to every token of the vocabulary before top-k at
        every step (150k candidates for Qwen), which cost about as much as the decoding itself
        here. Like llama.cpp's own ``common_sampler``, this samples with the chain first and
        asks the grammar about that one token; only when the grammar rejects it are all
        candidates filtered by the grammar and the chain applied again. The chain's random stream
        is seeded per request, so the choice is deterministic.
        """
        import ctypes

        import llama_cpp
        import numpy as np

        cur = self._cur
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx.ctx, row), shape=(cur.n_vocab,))
        if job.blocker is not None:
            job.blocker.rule_out(answer, logits)
        cur.copy_logits(logits)
        llama_cpp.llama_sampler_apply(job.chain.sampler, ctypes.byref(cur.candidates))
        token = int(cur.candidates.data[cur.candidates.selected].id)
        if job.grammar is not None:
            if not self._grammar_allows(job.grammar, token):
                cur.copy_logits(logits)
                llama_cpp.llama_sampler_apply(job.grammar.sampler, ctypes.byref(cur.candidates))
                llama_cpp.llama_sampler_apply(job.chain.sampler, ctypes.byref(cur.candidates))
                token = int(cur.candidates.data[cur.candidates.selected].id)
            job.grammar.accept(token)
        job.chain.accept(token)
        return token

    def _grammar_allows(self, grammar: Any, token: int) -> bool:
        import ctypes

        import llama_cpp

        one, arr = self._one
        one[0].id, one[0].logit, one[0].p = token, 0.0, 0.0
        arr.size, arr.selected, arr.sorted = 1, -1, False
        llama_cpp.llama_sampler_apply(grammar.sampler, ctypes.byref(arr))
        return one[0].logit != float("-inf")

    # -- the stop rules of Llama._create_completion -------------------------------------------------
    def _advance(self, slot: _Slot) -> DecodeResult | None:
        """Take ``slot.next_token`` into the answer; a result when the answer ended with it."""
        import llama_cpp

        llm, job, token = self.llm, slot.job, slot.next_token

        def done(reason: str, text: bytes | None = None) -> DecodeResult:
            if text is None:
                text = llm.detokenize(slot.tokens, prev_tokens=job.prompt_tokens)
            return DecodeResult(text=text.decode("utf-8", errors="ignore"), prompt_tokens=len(job.prompt_tokens),
                                completion_tokens=len(slot.tokens), finish_reason=reason)

        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            return done("stop")
        slot.tokens.append(token)
        all_text = llm.detokenize(slot.tokens, prev_tokens=job.prompt_tokens)
        for k, char in enumerate(all_text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    slot.multibyte_fix = num - k
        if slot.multibyte_fix > 0:
            slot.multibyte_fix -= 1
            return None
        stops = [s for s in job.stop if s in all_text]
        if stops:
            return done("stop", all_text[: all_text.index(stops[0])])
        if len(slot.tokens) >= job.max_tokens:
            return done("length", all_text)
        return None

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, jobs: Sequence[DecodeJob], on_result: Callable[[int, DecodeResult], None] | None = None) -> list[DecodeResult]:
        """Every job's result, in job order; ``on_result(job index, result)`` as each one ends."""
        import llama_cpp

        if self._ctx is None:
            self._open()
        # every call starts from empty streams, so a call's texts never depend on earlier calls
        llama_cpp.llama_memory_clear(self._mem, True)
        self._held = {seq: [] for seq in range(self.n_parallel)}
        if jobs:
            self._share_prefix(jobs)
        results: list[DecodeResult | None] = [None] * len(jobs)
        # Started in the order of their prompts, so that prompts sharing a long prefix (one label,
        # source type and topic) follow each other and a freed stream finds its prefix held nearby;
        # results still come back in job order.
        waiting = sorted(range(len(jobs)), key=lambda i: jobs[i].prompt_tokens)
        waiting.reverse()  # popped from the end
        slots: dict[int, _Slot] = {}

        def finish(i: int, result: DecodeResult) -> None:
            results[i] = result
            if on_result is not None:
                on_result(i, result)

        def fill(seq: int) -> None:
            while waiting:
                i = waiting.pop()
                slot = self._start(seq, i, jobs[i])
                result = self._advance(slot)
                if result is None:
                    slots[seq] = slot
                    return
                finish(i, result)

        for seq in range(self.n_parallel):
            fill(seq)
        while slots:
            order = sorted(slots)
            self._decode([(slots[s].next_token, slots[s].pos, s, True) for s in order])
            for row, seq in enumerate(order):
                slot = slots[seq]
                slot.pos += 1
                slot.next_token = self._sample(slot.job, row, slot.tokens)
            for seq in order:
                slot = slots[seq]
                result = self._advance(slot)
                if result is not None:
                    del slots[seq]
                    finish(slot.job_index, result)
                    fill(seq)
        return results  # type: ignore[return-value]
