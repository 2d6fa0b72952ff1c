"""Benchmark: what one llama.cpp step costs, by tokens per step and by how they are laid out.

The parallel decoder's steps put N rows from N sequences (one token each) in one ``llama_decode``;
plain ``Llama.eval`` of one sequence puts N consecutive tokens of one sequence in one step. Both
do N tokens of matrix work, but a multi-sequence step also attends over N separate KV streams.
This measures, in one process and one run (the machine is noisy), tokens/s for:

* ``prompt``: one sequence, one 256-token prompt in one step (prompt evaluation);
* ``1 seq x N``: one sequence, N tokens per step (logits for every row, as a decoder needs);
* ``N seq x 1``: N sequences, one token each per step, KV per sequence of ``--ctx-per-seq`` cells,
  each sequence already holding ``--held`` tokens (the decoder's steady state), streams apart
  (``kv_unified=False``, the decoder's setting) and, with ``--unified``, in one shared buffer too.

Run it once per llama.cpp build to compare builds (``llama_print_system_info`` is printed):

    python benchmarks/bench_llama_steps.py                                  # qwen2.5-1.5b-instruct
    python benchmarks/bench_llama_steps.py --model qwen2.5-0.5b-instruct --rows 1 4 8 16 --unified
    PYTHONPATH=/tmp/llama-avx2 python benchmarks/bench_llama_steps.py      # another build of llama_cpp
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _context(llm, n_seq: int, n_ctx: int, unified: bool, n_batch: int):
    import llama_cpp
    from llama_cpp import _internals

    params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_seq_max = n_seq
    params.n_ctx = n_ctx
    params.n_batch = params.n_ubatch = max(n_batch, n_seq)
    params.kv_unified = unified
    ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=max(n_batch, n_seq), embd=0, n_seq_max=n_seq, verbose=False)
    return ctx, batch


def _decode(ctx, batch, rows) -> None:
    b = batch.batch
    b.n_tokens = 0
    for token, pos, seq, logits in rows:
        k = b.n_tokens
        b.token[k], b.pos[k], b.seq_id[k][0], b.n_seq_id[k], b.logits[k] = token, pos, seq, 1, logits
        b.n_tokens += 1
    ctx.decode(batch)


def prompt_rate(llm, tokens: list[int]) -> float:
    ctx, batch = _context(llm, 1, 2048, False, len(tokens))
    try:
        _decode(ctx, batch, [(t, i, 0, i == len(tokens) - 1) for i, t in enumerate(tokens)])  # warm-up
        llama_mem_clear(ctx)
        t = time.perf_counter()
        _decode(ctx, batch, [(t_, i, 0, i == len(tokens) - 1) for i, t_ in enumerate(tokens)])
        return len(tokens) / (time.perf_counter() - t)
    finally:
        batch.close()
        ctx.close()


def llama_mem_clear(ctx) -> None:
    import llama_cpp

    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx.ctx), True)


def one_sequence_rate(llm, tokens: list[int], per_step: int, held: int, steps: int) -> float:
    """N consecutive tokens of one sequence per step, logits for every row."""
    ctx, batch = _context(llm, 1, held + per_step * (steps + 1) + 8, False, max(per_step, 512))
    try:
        _decode(ctx, batch, [(tokens[i % len(tokens)], i, 0, False) for i in range(held)])
        pos = held
        _decode(ctx, batch, [(tokens[(pos + j) % len(tokens)], pos + j, 0, True) for j in range(per_step)])  # warm-up
        pos += per_step
        t = time.perf_counter()
        for _ in range(steps):
            _decode(ctx, batch, [(tokens[(pos + j) % len(tokens)], pos + j, 0, True) for j in range(per_step)])
            pos += per_step
        return per_step * steps / (time.perf_counter() - t)
    finally:
        batch.close()
        ctx.close()


def many_sequences_rate(llm, tokens: list[int], n_seq: int, held: int, steps: int, ctx_per_seq: int, unified: bool) -> float:
    """One token in each of N sequences per step (the parallel decoder's step), each holding ``held`` tokens."""
    import llama_cpp

    ctx, batch = _context(llm, n_seq, ctx_per_seq * n_seq, unified, 512)
    try:
        mem = llama_cpp.llama_get_memory(ctx.ctx)
        _decode(ctx, batch, [(tokens[i % len(tokens)], i, 0, False) for i in range(held)])
        for s in range(1, n_seq):
            llama_cpp.llama_memory_seq_cp(mem, 0, s, -1, -1)
        pos = held
        _decode(ctx, batch, [(tokens[(pos + s) % len(tokens)], pos, s, True) for s in range(n_seq)])  # warm-up
        pos += 1
        t = time.perf_counter()
        for _ in range(steps):
            _decode(ctx, batch, [(tokens[(pos + s) % len(tokens)], pos, s, True) for s in range(n_seq)])
            pos += 1
        return n_seq * steps / (time.perf_counter() - t)
    finally:
        batch.close()
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-1.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--held", type=int, default=300, help="tokens each sequence already holds (a prompt's length)")
    ap.add_argument("--steps", type=int, default=24, help="timed steps per setting")
    ap.add_argument("--ctx-per-seq", type=int, default=2048, help="KV cells per sequence (the decoder's n_ctx)")
    ap.add_argument("--small-ctx", type=int, default=512, help="also time N-sequence steps with this many cells per sequence")
    ap.add_argument("--unified", action="store_true", help="also time N-sequence steps with one shared KV buffer")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-llama-steps.json"))
    args = ap.parse_args()
    from sentisynth.backends.llamacpp import configure_openmp_waiting

    configure_openmp_waiting()  # the library's setting, before llama_cpp loads
    import llama_cpp

    from sentisynth.backends.models import resolve_model

    path = resolve_model(args.model).path
    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    text = ("The film opens on a quiet street where a retired projectionist keeps a cinema alive for a handful of "
            "regulars; what follows is a patient, funny and sometimes maddening portrait of obsession. ") * 20
    tokens = llm.tokenize(text.encode())[:512]
    info = llama_cpp.llama_print_system_info().decode().strip()
    rows = {"prompt_256": prompt_rate(llm, tokens[:256])}
    for n in args.rows:
        rows[f"1seq_x{n}"] = one_sequence_rate(llm, tokens, n, args.held, args.steps)
        rows[f"{n}seq_x1"] = many_sequences_rate(llm, tokens, n, args.held, args.steps, args.ctx_per_seq, False)
        if args.small_ctx and n > 1:
            rows[f"{n}seq_x1_ctx{args.small_ctx}"] = many_sequences_rate(llm, tokens, n, args.held, args.steps, args.small_ctx, False)
        if args.unified and n > 1:
            rows[f"{n}seq_x1_unified"] = many_sequences_rate(llm, tokens, n, args.held, args.steps, args.ctx_per_seq, True)
    llm.close()
    print(f"{args.model}, {args.threads} threads, sequences holding {args.held} tokens; build: {info}")
    print(f"prompt evaluation (256 tokens in one step): {rows['prompt_256']:.1f} tokens/s")
    print("| tokens per step | 1 seq x N tokens/s | N seq x 1 (ctx " + str(args.ctx_per_seq) + ") tokens/s | ratio |"
          + (f" N seq x 1 (ctx {args.small_ctx}) |" if args.small_ctx else "") + (" N seq x 1 unified |" if args.unified else ""))
    print("|---:|---:|---:|---:|" + ("---:|" if args.small_ctx else "") + ("---:|" if args.unified else ""))
    for n in args.rows:
        one, many = rows[f"1seq_x{n}"], rows[f"{n}seq_x1"]
        line = f"| {n} | {one:.1f} | {many:.1f} | {many / one:.2f} |"
        if args.small_ctx:
            line += f" {rows.get(f'{n}seq_x1_ctx{args.small_ctx}', many):.1f} |"
        if args.unified:
            line += f" {rows.get(f'{n}seq_x1_unified', many):.1f} |"
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "threads": args.threads, "held": args.held, "build": info,
                                    "tokens_per_s": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
