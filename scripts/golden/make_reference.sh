#!/usr/bin/env bash
# Regenerates tests/golden/NAME.reference.json: an exact (float64) forward pass for the
# prompts of the llama.cpp golden files, with NumPy and the `gguf` package in a venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-reference"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "numpy>=1.26" "gguf>=0.10"
python3 "$ROOT/scripts/fetch_models.py"
for pair in "gemma3-270m:gemma-3-270m-q4_k_m.gguf" "smollm2-135m:SmolLM2-135M-Instruct.Q4_1.gguf"; do
  name=${pair%%:*}; file=${pair#*:}
  "$VENV/bin/python" "$ROOT/scripts/golden/reference_forward.py" --model "$ROOT/models/$file" \
    --golden "$ROOT/tests/golden/$name.json" --out "$ROOT/tests/golden/$name.reference.json"
done
