"""Copies of generation pools without the records that repeat their own prompt (issue 20).

The hierarchical generator now drops an example that shares five consecutive words with its prompt's instructions
(``HierarchicalGenerator._echoes_prompt``) and asks again. This script applies the same rule, with the generator's own
code, to pools made before the check: each POOL (a generation run directory) is rebuilt from its manifest's generator
config and seed set (``fit_prompts``: no model), and POOL-noecho/synthetic.jsonl gets every record that passes, in
order; the dropped ones are printed with their labels. The copies measure the check on exactly the records it acts on
(the same pool with and without them), where a newly generated pool would also differ in everything else.

    python scripts/drop_prompt_echoes.py runs/grounding/pool-sst2-prefix runs/grounding/pool-sst2-prefix-seed1
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pools", nargs="+", type=Path)
    ap.add_argument("--suffix", default="-noecho")
    ap.add_argument("--quiet", action="store_true", help="counts only, not the dropped texts")
    args = ap.parse_args()
    import sentisynth as ss
    from sentisynth.generators.base import make_generator

    for pool in args.pools:
        manifest = json.loads((pool / "manifest.json").read_text())
        params = dict(manifest["config"]["params"])
        source = manifest["seed_set"]["source"] if manifest.get("seed_set") else None
        seeds = ss.load_dataset(source).examples() if source else []
        gen = make_generator(manifest["config"]["generator"], **params).fit_prompts(seeds)
        records = [json.loads(line) for line in (pool / "synthetic.jsonl").read_text().splitlines() if line.strip()]
        kept, dropped = [], []
        for r in records:
            (dropped if gen._echoes_prompt("examples", r["text"]) else kept).append(r)
        out = pool.with_name(pool.name + args.suffix)
        out.mkdir(exist_ok=True)
        (out / "synthetic.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        counts = Counter(r["label"] for r in dropped)
        print(f"{pool}: {len(dropped)} of {len(records)} records repeat their prompt ({dict(sorted(counts.items()))}) -> {out}/synthetic.jsonl")
        if not args.quiet:
            for r in dropped:
                print(f"  {r['label']}: {r['text'][:150]}")


if __name__ == "__main__":
    main()
