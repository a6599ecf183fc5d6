#!/usr/bin/env bash
# The main job until the server exists: set up, build, fetch the default model and start
# an interactive chat with it. Extra arguments go to `parley chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py gemma3-270m
exec build/bin/parley chat -m models/gemma-3-270m-q4_k_m.gguf "$@"
