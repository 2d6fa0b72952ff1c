"""Benchmark: small-LM throughput, each against a plain baseline measured in the same run.

1. **Perplexity scoring** (the perplexity filter's backend): texts/s of padded batches of 16
   vs a one-text-at-a-time loop, same model, same SST-2 dev sentences, same thread count.
   The two must agree (max relative difference of perplexities is printed).
2. **Generation**: generated tokens/s of ``SmallLMGenerator`` (prompt mode, ``candidates_per_label``
   sequences per batched ``generate`` call, cut at the first line break) vs one plain
   ``model.generate`` call per sequence with the same prompts and sampling settings.

    python benchmarks/bench_small_lm.py                      # SmolLM2-135M, 2 threads
    python benchmarks/bench_small_lm.py --model gpt2 --texts 400
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time


def sst2_dev(n: int) -> list[str]:
    from sentisynth.data.builtin import _find_sst2_dir

    with open(_find_sst2_dir(None) / "dev.tsv", encoding="utf-8") as fh:
        rows = [r["sentence"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return rows[:n]


def bench_perplexity(model: str, texts: list[str], threads: int) -> dict:
    from sentisynth.backends.transformers_lm import TransformersBackend

    batched = TransformersBackend(model=model, batch_size=16, n_threads=threads).load()
    single = TransformersBackend(model=model, batch_size=1, n_threads=threads)
    single._tok, single._lm, single._resolved, single._device = batched._tok, batched._lm, batched._resolved, batched._device
    batched.token_logprobs(texts[:8])  # warm-up
    t = time.perf_counter()
    lp_loop = [single.token_logprobs([x])[0] for x in texts]
    loop_s = time.perf_counter() - t
    t = time.perf_counter()
    lp_batch = batched.token_logprobs(texts)
    batch_s = time.perf_counter() - t

    def ppl(lp):
        return math.exp(-sum(lp) / len(lp))

    diff = max(abs(ppl(a) - ppl(b)) / ppl(a) for a, b in zip(lp_loop, lp_batch) if a)
    return {"texts": len(texts), "loop_texts_per_s": len(texts) / loop_s, "batched_texts_per_s": len(texts) / batch_s,
            "speedup": loop_s / batch_s, "max_rel_ppl_diff": diff}


def bench_generation(model: str, threads: int, n: int) -> dict:
    import torch

    from sentisynth.generators.small_lm import SmallLMGenerator
    from sentisynth.records import Example

    from sentisynth.data.builtin import _find_sst2_dir

    with open(_find_sst2_dir(None) / "dev.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[:40]
    seed = [Example(text=r["sentence"], label=["negative", "positive"][int(r["label"])]) for r in rows]
    gen = SmallLMGenerator(model=model, mode="prompt", candidates_per_label=16, max_new_tokens=40, n_threads=threads,
                           random_state=0).fit(seed)
    t = time.perf_counter()
    made = sum(len(b) for b in gen.generate(n))
    ours_s = time.perf_counter() - t
    ours_tokens = gen.stats_["generated_tokens"]
    # Baseline: one plain generate call per sequence, same prompts and sampling settings.
    rng = random.Random(0)
    prompts = [p for lab in gen.labels_ for p in gen._prompts(lab, 8, rng)]
    tok, lm = gen.tok_, gen.lm_
    tokens, t = 0, time.perf_counter()
    with gen._threads(), torch.no_grad():
        for i, p in enumerate(prompts):
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            torch.manual_seed(i)
            out = lm.generate(**enc, do_sample=True, temperature=0.9, top_p=0.95, top_k=50, max_new_tokens=40,
                              pad_token_id=tok.pad_token_id)
            tokens += out.shape[1] - enc["input_ids"].shape[1]
    plain_s = time.perf_counter() - t
    return {"records": made, "ours_tokens_per_s": ours_tokens / ours_s, "plain_tokens_per_s": tokens / plain_s,
            "ratio": (ours_tokens / ours_s) / (tokens / plain_s), "ours_records_per_s": made / ours_s,
            "sequences": gen.stats_["sequences"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--texts", type=int, default=200, help="SST-2 dev sentences to score (default 200)")
    ap.add_argument("--records", type=int, default=64, help="records to generate (default 64)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    p = bench_perplexity(args.model, sst2_dev(args.texts), args.threads)
    print(f"perplexity scoring, {args.model}, {p['texts']} SST-2 dev sentences, {args.threads} threads")
    print(f"  one at a time: {p['loop_texts_per_s']:7.1f} texts/s")
    print(f"  batched (16):  {p['batched_texts_per_s']:7.1f} texts/s   -> {p['speedup']:.1f}x   "
          f"(max relative perplexity difference {p['max_rel_ppl_diff']:.1e})")
    g = bench_generation(args.model, args.threads, args.records)
    print(f"generation, {args.model}, prompt mode, {g['records']} records ({g['sequences']} sequences sampled)")
    print(f"  plain generate, one sequence per call: {g['plain_tokens_per_s']:7.1f} tokens/s")
    print(f"  SmallLMGenerator (16 per call):        {g['ours_tokens_per_s']:7.1f} tokens/s   -> {g['ratio']:.1f}x"
          f"   ({g['ours_records_per_s']:.1f} records/s)")
    if p["max_rel_ppl_diff"] > 1e-3:
        sys.exit("batched and one-at-a-time perplexities disagree")


if __name__ == "__main__":
    main()
