"""How many records of each synthetic pool copy or closely paraphrase its dataset's dev and test texts.

The contamination filter's own rule (a shared 8-word n-gram, or MiniLM cosine >= 0.95; see
``filters/contamination.py``), applied to whole pools so that a study can report, for every pool it
measures, how many records would have been removed before training (issue 20: "the contamination count
of every pool reported"). Grids that read pools with ``generator: file`` and no filters train on them
as they are, so a count above zero says which cells could be inflated.

    python scripts/pool_contamination.py sst2:runs/grounding/pool-sst2-prefix trec:runs/grounding/pool-trec-prefix15
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pools", nargs="+", help="DATASET:POOL_DIR (a run directory with synthetic.jsonl)")
    args = ap.parse_args()
    from sentisynth.filters.contamination import ContaminationFilter
    from sentisynth.records import SyntheticExample
    from sentisynth.store import read_jsonl

    print("| pool | dataset | records | contaminated (dev + test) | example |\n|---|---|---:|---:|---|")
    for spec in args.pools:
        dataset, _, pool = spec.partition(":")
        path = Path(pool) / "synthetic.jsonl"
        if not dataset or not path.exists():
            sys.exit(f"error: expected DATASET:POOL_DIR with POOL_DIR/synthetic.jsonl; got {spec!r}")
        records = [SyntheticExample.from_dict(r) for r in read_jsonl(path)]  # as generator: file reads a pool
        filt = ContaminationFilter(dataset=dataset).fit()
        _, rejected = filt.apply(records)
        example = f"{rejected[0]['record']['text'][:70]!r} ({rejected[0]['reason'][:40]})" if rejected else ""
        print(f"| {pool} | {dataset} | {len(records)} | {len(rejected)} | {example} |", flush=True)


if __name__ == "__main__":
    main()
