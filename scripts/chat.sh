#!/usr/bin/env bash
# An interactive chat in the terminal: set up, build, fetch the default model and start
# `parley chat` on it (the README's main job is scripts/serve.sh). Extra arguments go to `parley chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py smollm2-135m
exec build/bin/parley chat -m models/SmolLM2-135M-Instruct.Q4_1.gguf "$@"
