#!/usr/bin/env bash
# The main job: set up, build, fetch the default model (SmolLM2-135M-Instruct, a chat model) and serve it over an
# OpenAI-compatible HTTP API on http://127.0.0.1:8080 (Ctrl-C stops it). Extra arguments go
# to `parley serve`, e.g. scripts/serve.sh --port 9000 --api-key KEY --max-seqs 32.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py smollm2-135m
exec build/bin/parley serve -m models/SmolLM2-135M-Instruct.Q4_1.gguf "$@"
