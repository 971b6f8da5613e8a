#!/usr/bin/env bash
# Builds llama.cpp (llama-cpp-python, the same version as the reference in
# tools/requirements-dev.txt) for THIS machine's CPU (-DGGML_NATIVE=ON: AVX-512,
# VNNI, BF16 where present) into models-cache/llama-native, beside the
# portable reference build the tests use. bench/compare_llamacpp.py --llama
# native then benchmarks against it: the fair opponent on an AVX-512 machine.
# Not part of set-up (it compiles for ~10 minutes on 2 cores); run it once
# before a comparison. Usage: bench/build_llamacpp_native.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip ] || { echo "build_llamacpp_native: run tools/setup.sh first (.venv missing)" >&2; exit 1; }
VERSION=$(sed -n 's/^llama-cpp-python==\([0-9.]*\).*/\1/p' tools/requirements-dev.txt)
[ -n "$VERSION" ] || { echo "build_llamacpp_native: no llama-cpp-python pin in tools/requirements-dev.txt" >&2; exit 1; }
DEST=models-cache/llama-native
echo "build_llamacpp_native: llama-cpp-python $VERSION, -DGGML_NATIVE=ON -> $DEST"
rm -rf "$DEST.tmp"
CMAKE_ARGS="-DGGML_NATIVE=ON" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
  .venv/bin/pip install -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
    --target "$DEST.tmp" "llama-cpp-python==$VERSION"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
echo "build_llamacpp_native: done ($DEST)"
