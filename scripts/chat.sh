#!/usr/bin/env bash
# An interactive chat in the terminal: set up, build, fetch the default model and start
# `parley chat` on it (the README's main job is scripts/serve.sh). Extra arguments go to `parley chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py gemma3-270m
exec build/bin/parley chat -m models/gemma-3-270m-q4_k_m.gguf "$@"
