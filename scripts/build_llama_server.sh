#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` from the llama.cpp that the installed llama-cpp-python vendors
# (same version, same CPU flags as scripts/install.sh: native, AMX left out), for
# benchmarks/bench_engines.py and for anyone who prefers to serve the model over HTTP
# (`--backend openai --backend-param base_url=http://127.0.0.1:PORT/v1`).
# Not part of the install: SentiSynth's default engine is the in-process decoder (docs/SPEED.md says why).
# Takes about 9 minutes on 2 cores. Usage: bash scripts/build_llama_server.sh [OUT_DIR]  (default .cache/llama-server);
# GGML_NATIVE=OFF builds the portable AVX2 variant (for the build comparison in docs/SPEED.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-.cache/llama-server}")
PY=.venv/bin/python
VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$WORK" "llama-cpp-python==$VERSION"
tar xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CFLAGS="${CFLAGS:-$NO_AMX}" CXXFLAGS="${CXXFLAGS:-$NO_AMX}" cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE="${GGML_NATIVE:-ON}" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >/dev/null
mkdir -p "$OUT"
cp "$WORK"/build/bin/llama-server "$OUT"/  # static: needs no shared library of the build
"$OUT"/llama-server --version 2>&1 | head -2
echo "built: $OUT/llama-server (llama.cpp vendored by llama-cpp-python $VERSION)"
