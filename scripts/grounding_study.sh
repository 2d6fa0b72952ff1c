#!/usr/bin/env bash
# Issue 20: the pools of the grounding study (docs/studies/grounding.md), default model Qwen2.5-Coder-0.5B.
# Seed files (made here when missing): 10 per class drawn from each dataset's train split with seed 100 (never dev or test):
#   python -c 'import sentisynth as ss; [ss.sample(ss.load_dataset(n), k=10, seed=100).to_pandas().to_csv(f"runs/grounding/seed-{n}.csv", index=False) for n in ["sst2","rt-snippets","tweets","trec"]]'
# A variant may name a generation seed, e.g. sst2:cap2@1 -> runs/grounding/pool-sst2-cap2-seed1 (--seed 1; no @ = seed 0).
# Then the grids: sentisynth experiment experiments/grounding/<grid>.yaml --out runs/grounding/<grid>
set -euo pipefail
cd "$(dirname "$0")/.."
SS=${SS:-.venv/bin/sentisynth}
seed_file() {  # the seed set a grounded pool is grounded in, drawn once (seed 100, train split only)
  local ds=$1 f=runs/grounding/seed-$1.csv
  [ -f "$f" ] && return 0
  mkdir -p runs/grounding
  ${PY:-.venv/bin/python} -c "import sentisynth as ss; ss.sample(ss.load_dataset('$ds'), k=10, seed=100).to_pandas().to_csv('$f', index=False)"
}
pool() {  # pool <dataset> <variant>[@<generation seed>] <n> [extra flags...]
  local ds=$1 variant=${2%%@*} n=$3 gseed=
  if [[ $2 == *@* ]]; then gseed=${2##*@}; fi
  shift 3
  if [ -n "$gseed" ]; then set -- --seed "$gseed" "$@"; fi
  local out=runs/grounding/pool-$ds-$variant${gseed:+-seed$gseed}
  [ -f "$out/manifest.json" ] && grep -q '"status": "complete"' "$out/manifest.json" && return 0
  local data=()
  [[ "$variant" != zero* ]] && seed_file "$ds" && data=(--data "runs/grounding/seed-$ds.csv")
  local cfg=experiments/grounding/pool-$ds-$variant.yaml
  $SS generate hierarchical --config "$cfg" "${data[@]}" -n "$n" --out "$out" "$@"
}
# 240 records for 3- and 6-class sets, 160 for binary ones (ratio 8 at k = 10); banking77 770 (10 per intent, ratio 1);
# the prefix1k and broad1k curve pools 1,280 (SST-2, ratio 64); tweets prefix960 and broad960 (ratio 32).
size() {
  case $1:$2 in
    sst2:prefix1k|sst2:broad1k) echo 1280;; tweets:prefix960|tweets:broad960) echo 960;; banking77:*) echo 770;;
    sst2:*|rt-snippets:*) echo 160;; *) echo 240;;
  esac
}
for spec in "${@:-tweets:grounded trec:grounded sst2:grounded sst2:zero sst2:profile rt-snippets:zero rt-snippets:grounded}"; do
  for item in $spec; do v=${item##*:}; pool "${item%%:*}" "$v" "$(size "${item%%:*}" "${v%%@*}")"; done
done
