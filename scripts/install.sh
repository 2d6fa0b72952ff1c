#!/usr/bin/env bash
# Install SentiSynth with every extra into ./.venv (CPU PyTorch), plus WordNet for the EDA baseline.
# Safe to rerun: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

# WordNet database files (Debian/Ubuntu package wordnet-base) for EDA's synonym replacement.
if [ ! -f /usr/share/wordnet/data.noun ] && [ -z "${SENTISYNTH_WORDNET_DIR:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null
  else
    echo "warning: WordNet not found; EDA needs it: sudo apt-get install wordnet-base, or set SENTISYNTH_WORDNET_DIR" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
.venv/bin/python -m pip install -q torch==2.13.0
# llama-cpp-python compiles llama.cpp; GGML_NATIVE=OFF makes a wheel that runs on any x86-64 CPU
# with AVX2 (runtime dispatch), so pip's cached wheel stays valid on other machines.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip install -q -e ".[all,test]"
echo "installed: $(.venv/bin/sentisynth --help >/dev/null && echo sentisynth OK)"
