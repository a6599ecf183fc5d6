#!/usr/bin/env bash
# The main job: set up, build, fetch the default model (Gemma 3 270M) and serve it over an
# OpenAI-compatible HTTP API on http://127.0.0.1:8080 (Ctrl-C stops it). Extra arguments go
# to `parley serve`, e.g. scripts/serve.sh --port 9000 --api-key KEY --max-seqs 32.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py gemma3-270m
exec build/bin/parley serve -m models/gemma-3-270m-q4_k_m.gguf "$@"
