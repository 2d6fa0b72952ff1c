"""List or build the synthetic pools that the configs under experiments/ read (experiments/pools.yaml).

    python scripts/build_pools.py                      # every pool: built or missing, its command, its study
    python scripts/build_pools.py --missing            # build every pool that is not built (pools they need first)
    python scripts/build_pools.py --build runs/hier-qwen15-400 runs/hier-qwen15-union-800
    python scripts/build_pools.py --check              # every path a config reads is listed (exit 1 if not)

A pool counts as built when its run directory holds ``synthetic.jsonl``. Commands run from the
repository root with ``.venv/bin`` first on PATH, one at a time (two llama.cpp processes on two cores
slow each other down far more than twice).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POOLS_FILE = ROOT / "experiments" / "pools.yaml"


def load_pools(path: Path = POOLS_FILE) -> dict[str, dict]:
    """``{pool path: entry}`` from experiments/pools.yaml (entry: command, needs, provides, study, made_with)."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))["pools"]


def paths_read_by_configs(root: Path = ROOT / "experiments") -> dict[str, list[str]]:
    """``{pool path: [configs that read it]}`` for every ``generator: file`` condition under ``root``."""
    import yaml

    found: dict[str, list[str]] = {}
    for cfg in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        for cond in (data or {}).get("conditions", []) if isinstance(data, dict) else []:
            if cond.get("generator") != "file":
                continue
            paths = cond.get("params", {}).get("path")
            for p in paths if isinstance(paths, list) else [paths]:
                found.setdefault(str(p), []).append(str(cfg.relative_to(ROOT)))
    return found


def provided(pools: dict[str, dict]) -> dict[str, str]:
    """Every path a pool entry makes → the entry that makes it."""
    out = {}
    for name, entry in pools.items():
        for p in entry.get("provides", [name]):
            out[p] = name
    return out


def is_built(path: str) -> bool:
    return (ROOT / path / "synthetic.jsonl").is_file() or (ROOT / path).is_file()


def build(name: str, pools: dict[str, dict], done: set[str]) -> None:
    """Build pool ``name`` after the pools it needs; skip what is built."""
    if name in done:
        return
    entry = pools[name]
    for need in entry.get("needs", []):
        build(need, pools, done)
    outputs = entry.get("provides", [name])
    if all(is_built(p) for p in outputs):
        print(f"built already: {name}")
    else:
        print(f"building {name}: {entry['command']}", flush=True)
        env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run(["bash", "-c", entry["command"]], cwd=ROOT, env=env, check=True)
    done.add(name)


def check(pools: dict[str, dict]) -> list[str]:
    """Problems: a path a config reads that no entry makes, or a ``needs`` that names no entry."""
    makes = provided(pools)
    problems = [f"{p}: read by {', '.join(cfgs)}, but experiments/pools.yaml has no command for it"
                for p, cfgs in paths_read_by_configs().items() if p not in makes]
    problems += [f"{name}: needs {need}, which experiments/pools.yaml does not list"
                 for name, entry in pools.items() for need in entry.get("needs", []) if need not in pools]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", nargs="+", metavar="POOL", help="build these pools (paths as listed)")
    ap.add_argument("--missing", action="store_true", help="build every pool that is not built")
    ap.add_argument("--check", action="store_true", help="every path a config reads has a command (exit 1 if not)")
    args = ap.parse_args(argv)
    pools = load_pools()
    if args.check:
        problems = check(pools)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{len(pools)} pools, {len(paths_read_by_configs())} paths read by configs, {len(problems)} problems")
        return 1 if problems else 0
    if args.build or args.missing:
        unknown = [p for p in args.build or [] if p not in pools]
        if unknown:
            print(f"unknown pool(s) {unknown}; expected some of {sorted(pools)}", file=sys.stderr)
            return 2
        todo = args.build or [n for n, e in pools.items() if not all(is_built(p) for p in e.get("provides", [n]))]
        done: set[str] = set()
        for name in todo:
            build(name, pools, done)
        return 0
    readers = paths_read_by_configs()
    for name, entry in pools.items():
        outputs = entry.get("provides", [name])
        state = "built  " if all(is_built(p) for p in outputs) else "missing"
        users = sorted({c for p in outputs for c in readers.get(p, [])})
        print(f"{state} {name}  ({entry.get('study', '')}; read by {len(users)} config(s))")
        print(f"        {entry['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
