#!/usr/bin/env bash
# Side by side: `parley serve` and llama.cpp's llama-server on the same model file and
# thread count, at 1, 4 and 16 concurrent streams (scripts/bench_serve.py), one server at a
# time on this machine. llama-server gets as many slots as there are streams. Prints the
# figures and the ratios; never fails on speed.
#   scripts/bench_serve.sh [PATH/TO/llama-server]   (default: ../peer/llama.cpp/build-amx/bin/llama-server)
# MODEL (default models/gemma-3-270m-q4_k_m.gguf), THREADS (2), LEVELS ("1 4 16"),
# REQUESTS per stream (2), MAX_TOKENS (128), PROMPT_WORDS (300: ~305 Gemma tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_SERVER=${1:-../peer/llama.cpp/build-amx/bin/llama-server}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}; LEVELS=${LEVELS:-"1 4 16"}; REQUESTS=${REQUESTS:-2}
MAX_TOKENS=${MAX_TOKENS:-128}; PROMPT_WORDS=${PROMPT_WORDS:-300}
PORT=${PORT:-18431}
OUT=${OUT:-/tmp/parley_bench_serve.json}
rm -f "$OUT"
[ -x build/bin/parley ] || scripts/setup.sh build
python3 scripts/fetch_models.py >/dev/null

wait_healthy() {  # pid
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$1" 2>/dev/null || { echo "server exited" >&2; return 1; }
    sleep 0.2
  done
  echo "server not healthy after 120 s" >&2; return 1
}
bench() {  # label levels...
  local label=$1; shift
  python3 scripts/bench_serve.py --url "http://127.0.0.1:$PORT" --label "$label" --concurrency "$@" \
    --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --prompt-words "$PROMPT_WORDS" --json "$OUT"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "== parley serve ($MODEL, $THREADS threads)"
MAXC=0; for c in $LEVELS; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
build/bin/parley serve -m "$MODEL" -t "$THREADS" --port "$PORT" --max-seqs "$MAXC" -c 4096 \
  ${PARLEY_ARGS:-} >/tmp/parley_bench_serve.log 2>&1 &
PID=$!
wait_healthy $PID && bench parley $LEVELS
stop $PID

if [ -x "$LLAMA_SERVER" ]; then
  for c in $LEVELS; do
    echo "== llama-server ($MODEL, $THREADS threads, $c slots)"
    "$LLAMA_SERVER" -m "$MODEL" -t "$THREADS" -tb "$THREADS" -np "$c" -c $((c * 1024)) --host 127.0.0.1 \
      --port "$PORT" >/tmp/llama_bench_serve.log 2>&1 &
    PID=$!
    wait_healthy $PID && bench llama-server "$c"
    stop $PID
  done
else
  echo "(no llama-server at $LLAMA_SERVER: peer figures skipped)"
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
by = {(r["label"], r["concurrency"]): r for r in rows}
levels = sorted({r["concurrency"] for r in rows})
print("\nstreams | parley tok/s | llama tok/s | ratio | parley TTFT s | llama TTFT s | TTFT ratio (llama/parley)")
for c in levels:
    p, l = by.get(("parley", c)), by.get(("llama-server", c))
    f = lambda r, k: r[k] if r and r[k] is not None else float("nan")
    print(f"{c:7d} | {f(p,'output_tok_s'):12.1f} | {f(l,'output_tok_s'):11.1f} | "
          f"{f(p,'output_tok_s')/f(l,'output_tok_s') if l else float('nan'):5.2f} | "
          f"{f(p,'ttft_mean_s'):13.3f} | {f(l,'ttft_mean_s'):12.3f} | "
          f"{f(l,'ttft_mean_s')/f(p,'ttft_mean_s') if l else float('nan'):5.2f}")
PY
