"""Benchmark: hierarchical generation throughput against the decode-bound limit and anyclassifier.

Three measurements in one invocation, back to back on the same model file and thread count,
because this machine's speed varies from minute to minute:

1. **Decode-bound limit.** Plain completions (no chat template, no grammar, no cache) of the same
   GGUF: completion tokens per second. A generator that spends ``T`` tokens (prompts and answers
   of every stage, summed) per accepted record cannot beat ``tokens/s ÷ T`` records per second if
   every token cost one decode step; prompt tokens are cheaper than that, so a ratio above 1 is
   possible and a ratio well below 1 means time lost to retries, rejected duplicates or overhead.
2. **SentiSynth** ``HierarchicalGenerator`` with ``n_record_to_generate=N`` and a fresh call cache,
   written as a normal generation run (``OUT/sentisynth``) so the pool can feed an experiment.
3. **anyclassifier 0.2.0** (the public implementation of the design), same model, same thread
   count, same ``n_record_to_generate``. Its package ``__init__`` imports training code
   (setfit, fasttext) and its generator module calls ``hf_hub_download`` in a default argument at
   import time, so the submodules are loaded from their files under a stub package with
   ``hf_hub_download`` patched to return the local GGUF path. Install it apart from the project:

       pip install --no-deps --target /tmp/anyclassifier-0.2.0 anyclassifier==0.2.0

   Its raw rows and its unique rows (exact text) are both reported; the unique rows are written
   as ``OUT/anyclassifier/synthetic.jsonl`` for the accuracy comparison
   (``experiments/bench/bench-vs-anyclassifier-sst2-k10.yaml``).

    python benchmarks/bench_hierarchical.py --anyclassifier /tmp/anyclassifier-0.2.0
    python benchmarks/bench_hierarchical.py --model qwen2.5-0.5b-instruct --n 40   # quick look

Results: ``OUT/results.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sys
import tempfile
import time
import types
from pathlib import Path

INSTRUCTION = "Classify the sentiment of movie reviews."
LABELS = ["negative", "positive"]


def decode_rate(model_path: str, threads: int, max_tokens: int = 128) -> dict:
    """Completion tokens/s of plain sampling (three prompts, model load excluded)."""
    from sentisynth.backends.llamacpp import configure_openmp_waiting

    configure_openmp_waiting()  # the library's setting, before llama_cpp loads
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, seed=0, verbose=False)
    prompts = ["Write a long review of a film you saw recently.", "The history of cinema began", "Dear diary, today I went to the movies and"]
    tokens, seconds = 0, 0.0
    for i, prompt in enumerate(prompts):
        llm.reset()
        t = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.8, seed=i)
        seconds += time.perf_counter() - t
        tokens += out["usage"]["completion_tokens"]
    llm.close()
    return {"completion_tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": tokens / seconds}


def run_sentisynth(model: str, n: int, threads: int, out: Path, cache: Path, n_parallel: int, batch_size: int | None) -> dict:
    from sentisynth.generators.hierarchical import HierarchicalGenerator, normalize
    from sentisynth.pipeline import write_generation_run
    from sentisynth.store import read_json, read_jsonl

    gen = HierarchicalGenerator(instruction=INSTRUCTION, labels=LABELS, model=model, n_record_to_generate=n,
                                backend_params={"n_threads": threads, "n_parallel": n_parallel}, cache_path=str(cache), random_state=0,
                                **({"batch_size": batch_size} if batch_size else {}))
    t = time.perf_counter()
    path = write_generation_run(out, gen, None, n, seed=0, source="none")
    seconds = time.perf_counter() - t
    # prompt tokens llama.cpp evaluated (the parallel decoder evaluates a shared prefix once)
    evaluated = getattr(gen.backend_.backend, "prompt_tokens_evaluated_", None)
    texts = [r["text"] for r in read_jsonl(path)]
    stages = read_json(out / "manifest.json")["generator_report"]["stages"]
    return {
        "seconds": round(seconds, 1), "rows": len(texts), "unique_rows": len(set(texts)),
        "unique_normalized": len({normalize(x) for x in texts}),
        "calls": sum(s["calls"] for s in stages.values()),
        "prompt_tokens": sum(s["prompt_tokens"] for s in stages.values()),
        "completion_tokens": sum(s["completion_tokens"] for s in stages.values()),
        "prompt_tokens_evaluated": evaluated,
        "batch_size": gen.batch_size,
        "shape": read_json(out / "manifest.json")["generator_report"]["tree"]["shape"],
    }


def load_anyclassifier(root: Path, model_path: str, threads: int):
    """The generator class of anyclassifier 0.2.0, loaded without its package ``__init__``."""
    import huggingface_hub
    import llama_cpp

    pkg = root / "anyclassifier"
    if not (pkg / "synthetic_data_generation" / "data_generator.py").is_file():
        sys.exit(f"{root}: no anyclassifier package; fix: pip install --no-deps --target {root} anyclassifier==0.2.0")
    for name, sub in (("anyclassifier", pkg), ("anyclassifier.schema", pkg / "schema"),
                      ("anyclassifier.synthetic_data_generation", pkg / "synthetic_data_generation")):
        stub = types.ModuleType(name)
        stub.__path__ = [str(sub)]
        sys.modules[name] = stub

    def load(name: str, file: Path):
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    real_download = huggingface_hub.hf_hub_download
    huggingface_hub.hf_hub_download = lambda *a, **k: model_path
    try:
        schema = load("anyclassifier.schema.schema", pkg / "schema" / "schema.py")
        dg = load("anyclassifier.synthetic_data_generation.data_generator", pkg / "synthetic_data_generation" / "data_generator.py")
    finally:
        huggingface_hub.hf_hub_download = real_download
    # Same thread count as SentiSynth (its default would be cpu_count() // 2).
    dg.Llama = functools.partial(llama_cpp.Llama, n_threads=threads, n_threads_batch=threads)
    return dg.SyntheticDataGeneratorForSequenceClassification, schema.Label


def run_anyclassifier(root: Path, model_path: str, n: int, threads: int, out: Path) -> dict:
    from sentisynth.generators.hierarchical import normalize
    from sentisynth.records import SyntheticExample
    from sentisynth.store import write_atomic

    Generator, Label = load_anyclassifier(root, model_path, threads)
    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    t = time.perf_counter()
    gen = Generator(model_path=model_path, n_gpu_layers=0)
    chat = gen._llm.create_chat_completion

    def counted(*a, **k):
        result = chat(*a, **k)
        usage["calls"] += 1
        usage["prompt_tokens"] += result["usage"]["prompt_tokens"]
        usage["completion_tokens"] += result["usage"]["completion_tokens"]
        return result

    gen._llm.create_chat_completion = counted
    ds = gen.generate(INSTRUCTION, [Label(id=0, desc="negative sentiment"), Label(id=1, desc="positive sentiment")],
                      n_record_to_generate=n)
    seconds = time.perf_counter() - t
    rows = [(r["text"], LABELS[r["label"]], r["meta"]) for r in ds]
    unique: dict[str, SyntheticExample] = {}
    for text, label, meta in rows:
        unique.setdefault(text, SyntheticExample(text=text, label=label, generator="anyclassifier-0.2.0", meta=dict(meta)))
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "synthetic.jsonl", "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in unique.values()))
    return {"seconds": round(seconds, 1), "rows": len(rows), "unique_rows": len(unique),
            "unique_normalized": len({normalize(x) for x, _, _ in rows}), **usage}


def summarize(result: dict, rate: float) -> dict:
    tokens_per_record = (result["prompt_tokens"] + result["completion_tokens"]) / max(1, result["unique_rows"])
    per_s = result["unique_rows"] / result["seconds"]
    limit = rate / tokens_per_record
    return {**result, "unique_records_per_s": round(per_s, 4), "tokens_per_unique_record": round(tokens_per_record, 1),
            "decode_bound_records_per_s": round(limit, 4), "ratio_to_decode_bound": round(per_s / limit, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-1.5b-instruct", help="short name or .gguf path (default: qwen2.5-1.5b-instruct)")
    ap.add_argument("--n", type=int, default=200, help="n_record_to_generate for both generators (default: 200)")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads for every measurement (default: 2)")
    ap.add_argument("--n-parallel", type=int, default=4,
                    help="SentiSynth's requests decoded together (llamacpp n_parallel; 1 = one at a time; default: 4)")
    ap.add_argument("--batch-size", type=int, default=None, help="SentiSynth's requests per chat_many call (default: the generator's)")
    ap.add_argument("--anyclassifier", type=Path, default=None, help="directory holding the anyclassifier package (pip --target)")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-hierarchical"), help="where pools and results.json go")
    args = ap.parse_args()

    from sentisynth.backends.models import resolve_model

    model_path = str(resolve_model(args.model).path)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"model": args.model, "model_path": model_path, "n_record_to_generate": args.n, "threads": args.threads,
                     "n_parallel": args.n_parallel}
    print(f"decode-bound rate of {args.model} ...", flush=True)
    results["decode"] = decode_rate(model_path, args.threads)
    rate = results["decode"]["tokens_per_s"]
    print(f"  {rate:.1f} completion tokens/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="sentisynth-bench-") as tmp:
        print("sentisynth hierarchical ...", flush=True)
        results["sentisynth"] = summarize(run_sentisynth(args.model, args.n, args.threads, args.out / "sentisynth",
                                                         Path(tmp) / "calls.sqlite", args.n_parallel,
                                                         args.batch_size), rate)
    if args.anyclassifier:
        print("anyclassifier 0.2.0 ...", flush=True)
        results["anyclassifier"] = summarize(run_anyclassifier(args.anyclassifier, model_path, args.n, args.threads,
                                                               args.out / "anyclassifier"), rate)
        theirs = results["anyclassifier"]["unique_records_per_s"]
        results["unique_records_per_s_vs_anyclassifier"] = (
            round(results["sentisynth"]["unique_records_per_s"] / theirs, 2) if theirs else None)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"\nmodel {args.model}, n_record_to_generate={args.n}, {args.threads} threads, decode {rate:.1f} tok/s")
    print(f"{'':15}{'seconds':>9}{'rows':>6}{'unique':>8}{'unique/s':>10}{'tok/rec':>9}{'limit/s':>9}{'ratio':>7}")
    for name in ("sentisynth", "anyclassifier"):
        r = results.get(name)
        if r:
            print(f"{name:15}{r['seconds']:9.1f}{r['rows']:6d}{r['unique_rows']:8d}{r['unique_records_per_s']:10.3f}"
                  f"{r['tokens_per_unique_record']:9.1f}{r['decode_bound_records_per_s']:9.3f}{r['ratio_to_decode_bound']:7.2f}")
    if results.get("unique_records_per_s_vs_anyclassifier"):
        print(f"unique records/s, sentisynth / anyclassifier: {results['unique_records_per_s_vs_anyclassifier']:.2f}x")
    print(f"written: {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
