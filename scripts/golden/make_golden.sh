#!/usr/bin/env bash
# Regenerates Parley's golden reference data (tests/golden/*.json) from llama.cpp,
# through the PyPI package llama-cpp-python.
#
# - Creates a venv at .venv-golden (git-ignored) and installs a pinned llama-cpp-python,
#   built from source (sdist) so its vendored llama.cpp is compiled for this machine.
# - Runs scripts/golden/make_golden.py for both default models.
#
# Compiler choice: clang (CC=clang CXX=clang++; clang-14 on our machines).
#   On Sapphire Rapids (AVX-512 + AMX) a GCC 12 native build of llama.cpp dies with
#   "Illegal instruction" on quantized prompt batches because GCC 12 miscompiles the AMX
#   tile config. clang builds the same native code (AMX included) correctly.
#   If clang is not available, set GOLDEN_NO_AMX=1 to build with the default compiler and
#   AMX disabled (-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF).
# make_golden.py loads models with use_extra_bufts=false (no CPU_REPACK/AMX weight repacking),
#   so the logits come from ggml's plain per-type kernels whatever the build or CPU.
#
# Usage: scripts/golden/make_golden.sh            (install if needed, then generate)
#        REINSTALL=1 scripts/golden/make_golden.sh (force rebuild of llama-cpp-python)
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"   # newest on PyPI at the time; vendored llama.cpp has gemma3

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-golden"
PY="$VENV/bin/python"

installed_version() {
    "$PY" -c 'import llama_cpp; print(llama_cpp.__version__)' 2>/dev/null || true
}

if [[ ! -x "$PY" ]]; then
    python3 -m venv "$VENV"
    "$PY" -m pip install --upgrade pip
fi

if [[ "${REINSTALL:-0}" == "1" || "$(installed_version)" != "$LLAMA_CPP_PYTHON_VERSION" ]]; then
    # No server/multimodal extras needed; only the core library.
    cmake_args="-DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON"
    if [[ "${GOLDEN_NO_AMX:-0}" == "1" ]]; then
        cmake_args="$cmake_args -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    else
        export CC=clang CXX=clang++
    fi
    export CMAKE_ARGS="$cmake_args"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"  # 2-core machines
    echo "Building llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION: CC=${CC:-default} CMAKE_ARGS=$CMAKE_ARGS"
    "$PY" -m pip install --no-cache-dir --force-reinstall --no-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
fi

MODELS="$ROOT/models"
if [[ ! -f "$MODELS/gemma-3-270m-q4_k_m.gguf" || ! -f "$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf" ]]; then
    python3 "$ROOT/scripts/fetch_models.py"
fi

OUT="$ROOT/tests/golden"
mkdir -p "$OUT"
"$PY" "$ROOT/scripts/golden/make_golden.py" --model "$MODELS/gemma-3-270m-q4_k_m.gguf" \
    --name gemma3-270m --out "$OUT/gemma3-270m.json"
"$PY" "$ROOT/scripts/golden/make_golden.py" --model "$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf" \
    --name smollm2-135m --out "$OUT/smollm2-135m.json"
