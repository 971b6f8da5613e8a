#!/usr/bin/env bash
# Runs the test suite: sets up and builds if needed (tools/setup.sh), then
#   - ctest labels `unit` and `model` on the Release build,
#   - the hostile-GGUF corpus and GGUF tests again under AddressSanitizer and
#     UBSan (build-asan/).
#   - the unit tests again with dispatch capped at each lower target in turn
#     (AVX2, SSE4, SSSE3, SCALAR; STRUCTKV_SIMD_MAX, simd/dispatch.h): the
#     kernel tests already visit every target the CPU supports, but the rest
#     of the suite (models, runtime, compression) otherwise only ever runs on
#     the best one. Every target computes the same bits (simd/quant_dot.h,
#     simd/fixed_math-inl.h), so the same tests hold on each; a cap above
#     what the CPU has changes nothing.
# `tools/test.sh --long` adds the `long` label (long-context tests).
set -euo pipefail
cd "$(dirname "$0")/.."
LABELS='unit|model'
[ "${1:-}" = "--long" ] && LABELS='unit|model|long'

tools/setup.sh
JOBS=$(nproc)

echo "== ctest -L '$LABELS' (Release)"
ctest --test-dir build -L "$LABELS" --output-on-failure -j"$JOBS" --timeout 1800

for cap in AVX2 SSE4 SSSE3 SCALAR; do
  echo "== ctest -L unit with dispatch capped at $cap (STRUCTKV_SIMD_MAX=$cap)"
  STRUCTKV_SIMD_MAX=$cap ctest --test-dir build -L unit --output-on-failure -j"$JOBS" --timeout 1800
done

echo "== GGUF reader under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTRUCTKV_SANITIZE=ON \
  -DSTRUCTKV_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan --target skv_models_test -j"$JOBS"
ctest --test-dir build-asan -R 'gguf|Gguf' --output-on-failure -j"$JOBS"
