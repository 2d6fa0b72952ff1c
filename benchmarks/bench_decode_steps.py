"""Benchmark: what one llama.cpp decode step costs with R rows, and prompt evaluation by chunk size.

The parallel decoder's time is prompt chunks plus R-row decode steps (``benchmarks/profile_decoder.py``
splits a real run). This measures both in isolation on the decoder's own context, so a default such as
``n_parallel`` can be chosen by what the CPU does: a step of R rows (each stream holding a 300-token
prompt) for contexts of P streams, and one stream's prompt evaluated in chunks of 32-512 tokens. Times
are the mean of 15 steps (the best of 3 evaluations for prompts), in one process.

    python benchmarks/bench_decode_steps.py                       # Qwen2.5-Coder-0.5B, P = 4 and 16
    python benchmarks/bench_decode_steps.py --model qwen2.5-1.5b-instruct --streams 16 --rows 1 4 16

Results: a table on stdout and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-0.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--streams", type=int, nargs="+", default=[4, 16], help="P: KV streams of the decoder's context")
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16], help="R: rows per decode step")
    ap.add_argument("--chunks", type=int, nargs="+", default=[32, 64, 128, 256, 512], help="prompt chunk sizes")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-decode-steps.json"))
    args = ap.parse_args()
    from sentisynth.backends.llamacpp import LlamaCppBackend, configure_openmp_waiting

    configure_openmp_waiting()  # the library's setting, before llama_cpp loads
    import llama_cpp

    from sentisynth.backends.llamacpp_parallel import ParallelDecoder

    backend = LlamaCppBackend(model=args.model, n_threads=args.threads, n_parallel=max(args.streams)).load()
    llm = backend._llm
    text = "Write a long review of a movie you saw, with many details about the plot and the actors. " * 60
    tokens = llm.tokenize(text.encode())[: max(512, max(args.chunks))]
    prompt = tokens[:300]
    steps, chunks = [], []
    try:
        for p in args.streams:
            decoder = ParallelDecoder(llm, p)
            decoder._open()
            for r in (r for r in args.rows if r <= p):
                llama_cpp.llama_memory_clear(decoder._mem, True)
                for seq in range(r):
                    decoder._evaluate(seq, prompt, 0, logits_last=True)
                t = time.perf_counter()
                for i in range(15):
                    decoder._decode([(prompt[i], len(prompt) + i, seq, True) for seq in range(r)])
                ms = (time.perf_counter() - t) / 15 * 1000
                steps.append({"streams": p, "rows": r, "ms_per_step": round(ms, 1), "tokens_per_s": round(r / ms * 1000, 1)})
                print(f"P={p} R={r}: {ms:.1f} ms per step, {r / ms * 1000:.1f} tokens/s", flush=True)
            if p == max(args.streams):
                for n in args.chunks:
                    best = float("inf")
                    for _ in range(3):
                        llama_cpp.llama_memory_clear(decoder._mem, True)
                        t = time.perf_counter()
                        decoder._evaluate(0, tokens[:n], 0, logits_last=True)
                        best = min(best, time.perf_counter() - t)
                    chunks.append({"chunk": n, "tokens_per_s": round(n / best, 1)})
                    print(f"prompt chunk of {n}: {n / best:.1f} tokens/s", flush=True)
            decoder.close()
    finally:
        backend.close()
    print(f"\n{args.model}, {args.threads} threads\n| streams P | rows R | ms per step | tokens/s |\n|---:|---:|---:|---:|")
    for s in steps:
        print(f"| {s['streams']} | {s['rows']} | {s['ms_per_step']} | {s['tokens_per_s']} |")
    print("\n| prompt chunk | tokens/s |\n|---:|---:|")
    for c in chunks:
        print(f"| {c['chunk']} | {c['tokens_per_s']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "threads": args.threads, "steps": steps, "prompt_chunks": chunks}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
