#!/usr/bin/env bash
# docs/BENCHMARKS.md from the run directories behind every README table, in one command:
#   bash scripts/benchmarks-md.sh
# Each experiment run is made by the config of the same name (experiments/<name>.yaml):
#   sentisynth experiment experiments/<name>.yaml   (writes runs/<name>/)
# and the augment runs by the README's main-job command (their config.yaml holds every option).
# Runs that are missing on this machine are listed at the end instead of failing the whole file.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=(
  augment-rt-k20 augment-rt-k20-style2
  study-quantity study-imbalance study-tweets study-tweets-k100 study-tweets-teacher study-trec study-trec-k50
  hierarchical-sst2-k10 hierarchical-sst2-k50 hierarchical-sent-sst2-k10 hierarchical-sent-sst2-k50
  hierarchical-union-sst2-k10 hierarchical-union-sst2-k50 hierarchical-aspects-sst2-k10 hierarchical-aspects-sst2-k50
  hierarchical-filters-sst2-k10 bench-vs-anyclassifier-sst2-k10 bench-par4-vs-anyclassifier-sst2-k10 bench-par4-seed1-sst2-k10 bench-prefix-vs-anyclassifier-sst2-k10 bench-batch64-vs-anyclassifier-sst2-k10
  small-lm-filters-sst2-k10 small-lm-filters-sst2-k50
  gan-ablation-sst2 gan-ablation-rt gan-leave-one-out-sst2 gan-glove-sst2
)
present=() missing=()
for r in "${RUNS[@]}"; do
  if [ -f "runs/$r/summary.csv" ] || [ -f "runs/$r/crossval.json" ]; then present+=("runs/$r"); else missing+=("$r"); fi
done
.venv/bin/sentisynth report "${present[@]}" --out docs/BENCHMARKS.md --title "SentiSynth benchmarks"
if [ ${#missing[@]} -gt 0 ]; then
  printf '\n## Not yet run on the machine that wrote this file\n\n' >> docs/BENCHMARKS.md
  for r in "${missing[@]}"; do printf -- '- `sentisynth experiment experiments/%s.yaml`\n' "$r" >> docs/BENCHMARKS.md; done
fi
