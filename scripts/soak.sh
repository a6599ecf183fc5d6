#!/usr/bin/env bash
# Soak: `parley serve` under a mixed load for MINUTES (default 3), with a small KV arena, a
# small host tier and a disk tier so pages spill and come back, and --check-integrity on.
# Passes when RSS, fds and threads stay flat after warm-up, nothing answers 5xx, every
# request completes or is cancelled by its own client, and the server's integrity checks
# pass (the last at shutdown). The load and the checks are scripts/soak.py's; see
# docs/testing.md, "Soak".
#   scripts/soak.sh [MINUTES]
# Env:
#   PARLEY_SOAK_MODEL  tiny (default: a tiny random Gemma-3-shaped model, two KV groups, as CI
#                      runs it), smol (models/SmolLM2-135M-Instruct.Q4_1.gguf), or a .gguf path
#   PARLEY_BIN         the parley binary (build/bin/parley)
#   PARLEY_SOAK_OUT    where samples.csv, summary.json, server.log and soak.png go (build/soak)
#   PARLEY_SOAK_ARGS   more soak.py flags, e.g. "--workers 4 --env MALLOC_ARENA_MAX=2"
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-3}
BIN=${PARLEY_BIN:-build/bin/parley}
OUT=${PARLEY_SOAK_OUT:-build/soak}
MODEL=${PARLEY_SOAK_MODEL:-tiny}
PY=.venv-test/bin/python
[ -x "$PY" ] || PY=python3
[ -x "$BIN" ] || { echo "soak: $BIN not found: build first (cmake --build build)" >&2; exit 2; }

mkdir -p "$OUT"
DISK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/parley-soak-disk.XXXXXX")
trap 'rm -rf "$DISK_DIR"' EXIT

case "$MODEL" in
  tiny)
    WRITER=${PARLEY_WRITE_TINY_MODEL:-$(dirname "$BIN")/write_tiny_model}
    MODEL_PATH="$OUT/tiny-gemma3.gguf"
    "$WRITER" "$MODEL_PATH" gemma3 > /dev/null
    # ~136 B of KV per token: a 1 MiB arena holds a few of the 48 conversations. Its
    # vocabulary is nearly one token per character: a longer context for a few turns each.
    # Its process is ~24 MiB: the allocator's own warm-up (~2 MiB over the first minutes) is
    # more than 5% of it, so growth within 4 MiB passes too.
    LOAD=(--workers 8 --conversations 6 --context 2048 --max-reply 48 --rss-slack-mib 4)
    SERVE=(-t 1 --kv-cache-mb 1 --host-cache-mb 1 --disk-cache-mb 4 --max-seqs 8) ;;
  smol)
    MODEL_PATH=models/SmolLM2-135M-Instruct.Q4_1.gguf
    # ~12 KiB of KV per token: the 96 MiB arena holds ~8k tokens of the ~24 conversations.
    LOAD=(--workers 6 --conversations 4 --context 2048 --max-reply 64)
    SERVE=(--kv-cache-mb 96 --host-cache-mb 48 --disk-cache-mb 192 --max-seqs 8) ;;
  *)
    MODEL_PATH=$MODEL
    LOAD=(--workers 6 --conversations 4 --context 2048)
    SERVE=(--kv-cache-mb 96 --host-cache-mb 48 --disk-cache-mb 192) ;;
esac
[ -f "$MODEL_PATH" ] || { echo "soak: $MODEL_PATH not found (scripts/fetch_models.py)" >&2; exit 2; }

# shellcheck disable=SC2086
"$PY" scripts/soak.py --minutes "$MINUTES" --bin "$BIN" --model "$MODEL_PATH" --out "$OUT" \
  "${LOAD[@]}" ${PARLEY_SOAK_ARGS:-} -- "${SERVE[@]}" --disk-cache-dir "$DISK_DIR" --write-timeout 5
