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
# llama-cpp-python compiles llama.cpp on this machine, for this CPU (GGML_NATIVE=ON: AVX-512, VNNI
# and BF16 where the CPU has them; 1.6x faster prompt evaluation than the AVX2-only build here,
# docs/BENCHMARKS.md). AMX is left out: ggml's AMX matmul crashed (SIGSEGV in ggml_backend_amx_mul_mat)
# on this workplace's Xeon for the Q4 models. pip's wheel cache is per machine, so the wheel never
# meets another CPU; for a wheel to copy elsewhere, set CMAKE_ARGS="-DGGML_NATIVE=OFF" (AVX2, portable).
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}" CFLAGS="${CFLAGS:-$NO_AMX}" CXXFLAGS="${CXXFLAGS:-$NO_AMX}"
.venv/bin/python -m pip install -q -e ".[all,test]"
# pip reuses a cached wheel whatever CMAKE_ARGS say: rebuild when the installed one is not the build asked for.
if ! .venv/bin/python scripts/check_llama_build.py; then
  .venv/bin/python -m pip cache remove "llama_cpp_python*" >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "llama-cpp-python==0.3.36"
  .venv/bin/python scripts/check_llama_build.py
fi
echo "installed: $(.venv/bin/sentisynth --help >/dev/null && echo sentisynth OK)"
