"""Profile: where a sentisynth command's llama.cpp time goes (prompt chunks vs R-row decode steps).

Runs any ``sentisynth`` command in this process with every ``llama_decode`` of the parallel decoder
timed (``bench_engines.StepTimer``), then prints the split: prompt tokens evaluated and their rate,
decode steps by their number of rows, and the total. This is how the main job's time was found to be
half prompt evaluation and half decode steps of 4 rows (docs/SPEED.md), before choosing what to change.

    python benchmarks/profile_decoder.py --out runs/profile-main-job.json -- \\
        augment --dataset rt-snippets --k 20 --instruction "Classify the sentiment of movie reviews." \\
        --ratios 0.5,1,2 --config FRESH_CACHE.yaml --out runs/main-job-profiled

Give the command a fresh call cache (``generator_params: {cache_path: ...}`` in ``--config``), or cached
answers never reach the decoder. Results: a table on stdout and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/profile-decoder.json"))
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the sentisynth command after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("expected a sentisynth command after --, e.g. -- augment my.csv --instruction ...")
    from bench_engines import StepTimer
    from sentisynth.cli import main as sentisynth_main

    timer = StepTimer()
    sys.argv = ["sentisynth", *command]
    status = 0
    with timer.installed():
        try:
            sentisynth_main()
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 1
    table = timer.table()
    steps = dict(sorted(((k, v) for k, v in table.items() if k != "prompt"), key=lambda kv: int(kv[0].split()[1])))
    step_tokens, step_seconds = sum(v["tokens"] for v in steps.values()), sum(v["seconds"] for v in steps.values())
    prompt = table.get("prompt", {"calls": 0, "tokens": 0, "seconds": 0.0, "tokens_per_s": None})
    print(f"| part | llama_decode calls | tokens | seconds | tokens/s |\n|---|---:|---:|---:|---:|")
    print(f"| prompt chunks | {prompt['calls']} | {prompt['tokens']} | {prompt['seconds']:.1f} | {prompt['tokens_per_s']} |")
    for kind, v in steps.items():
        print(f"| {kind} | {v['calls']} | {v['tokens']} | {v['seconds']:.1f} | {v['tokens_per_s']} |")
    print(f"| all decode steps | {sum(v['calls'] for v in steps.values())} | {step_tokens} | {step_seconds:.1f} | "
          f"{step_tokens / step_seconds if step_seconds else 0:.1f} |")
    print(f"| total | | | {prompt['seconds'] + step_seconds:.1f} | |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": command, "status": status, "table": table}, indent=1))
    sys.exit(status)


if __name__ == "__main__":
    main()
