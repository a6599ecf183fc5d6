#!/usr/bin/env bash
# One sitting that chooses and checks Parley's default numerics (issue #14): for every
# candidate configuration on both models, perplexity over the GPL-3 text, bench-model pp512 /
# tg128, and peak RSS of `parley run`; then llama-bench on the same files and `parley bench
# compare` of the defaults against llama-server. Raw outputs go to $OUT; prints figures, never
# fails on speed. Run it with nothing else on the machine.
#   scripts/bench_defaults.sh LLAMA_BUILD_DIR     (holds bin/llama-bench and bin/llama-server)
# OUT (default /tmp/bench_defaults), THREADS (2), REPS (3), SKIP_COMPARE=1 skips the serving part;
# ALT_PARLEY=BINARY ALT_NAME=NAME adds another build's default path as a candidate (e.g. an
# earlier int8 plan) to the perplexity and speed rows; SKIP_CANDIDATES=1 keeps only the peer's
# llama-bench rows and the serving part.
set -uo pipefail
cd "$(dirname "$0")/.."
LLAMA=${1:?usage: scripts/bench_defaults.sh LLAMA_BUILD_DIR}
OUT=${OUT:-/tmp/bench_defaults}; THREADS=${THREADS:-2}; REPS=${REPS:-3}
PARLEY=build/bin/parley
TEXT=/usr/share/common-licenses/GPL-3
MODELS=(models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf)
# name|flags
CANDIDATES=(
  "exact|--exact"
  "gguf-q8act|--weights gguf --activations q8 --kv-dtype f32"
  "gguf-int8kv|--weights gguf --activations f32 --kv-dtype int8"
  "int8w-f32kv|--weights int8 --kv-dtype f32"
  "int8w-f16kv|--weights int8 --kv-dtype f16"
  "packed|--weights packed"
  "default|"
)
mkdir -p "$OUT"
{
  echo "date: $(date -u)"; echo "parley: $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty)"
  echo "llama.cpp: $(git -C "$LLAMA/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
  lscpu | grep -E 'Model name|^CPU\(s\)'
  echo "flags: $(grep -o -E 'avx512[a-z_]*|amx[a-z_]*|avx_vnni|avx2|f16c' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "threads: $THREADS"
} | tee "$OUT/machine.txt"

for m in "${MODELS[@]}"; do
  mn=$(basename "$m" .gguf)
  for c in "${CANDIDATES[@]}"; do
    [ "${SKIP_CANDIDATES:-0}" = 1 ] && break
    name=${c%%|*}; flags=${c#*|}
    echo "== $mn $name: perplexity"
    # shellcheck disable=SC2086
    $PARLEY perplexity -m "$m" -f "$TEXT" -c 512 -t "$THREADS" $flags > "$OUT/ppl-$mn-$name.txt" 2>&1
    grep -E "^(perplexity|PPL|final|Final)" "$OUT/ppl-$mn-$name.txt" | tail -1
    echo "== $mn $name: bench-model"
    # shellcheck disable=SC2086
    $PARLEY bench-model -m "$m" -t "$THREADS" -p 512 -n 128 -r "$REPS" $flags > "$OUT/bm-$mn-$name.txt" 2>&1
    grep -E "pp512|tg128" "$OUT/bm-$mn-$name.txt"
    echo "== $mn $name: peak RSS of parley run"
    # shellcheck disable=SC2086
    /usr/bin/time -f "maxrss_kib %M" $PARLEY run -m "$m" -t "$THREADS" -p "Tell me a story about a cat." -n 32 \
      $flags > "$OUT/rss-$mn-$name.txt" 2>&1
    grep maxrss "$OUT/rss-$mn-$name.txt"
  done
  if [ -n "${ALT_PARLEY:-}" ] && [ "${SKIP_CANDIDATES:-0}" != 1 ]; then
    name=${ALT_NAME:-alt}
    echo "== $mn $name ($ALT_PARLEY): perplexity, bench-model"
    "$ALT_PARLEY" perplexity -m "$m" -f "$TEXT" -c 512 -t "$THREADS" > "$OUT/ppl-$mn-$name.txt" 2>&1
    grep -E "^(perplexity|PPL|final|Final)" "$OUT/ppl-$mn-$name.txt" | tail -1
    "$ALT_PARLEY" bench-model -m "$m" -t "$THREADS" -p 512 -n 128 -r "$REPS" > "$OUT/bm-$mn-$name.txt" 2>&1
    grep -E "pp512|tg128" "$OUT/bm-$mn-$name.txt"
  fi
  echo "== $mn: llama-bench"
  "$LLAMA/bin/llama-bench" -m "$m" -t "$THREADS" -p 512 -n 128 -r "$REPS" > "$OUT/llama-bench-$mn.txt" 2>&1
  grep -E "pp512|tg128" "$OUT/llama-bench-$mn.txt"
done

# Idle RSS of `parley serve` after one request: the defaults and the exact path.
serve_rss() {  # model name flags...
  local m=$1 name=$2; shift 2
  $PARLEY serve -m "$m" -t "$THREADS" --port 18990 "$@" > "$OUT/serve-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18990/health > /dev/null && break; sleep 0.2; done
  curl -s http://127.0.0.1:18990/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"Hello!"}],"max_tokens":16}' > /dev/null
  sleep 1
  echo "$name: $(grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' \n' ' ')" | tee -a "$OUT/serve-rss.txt"
  kill $pid; wait $pid 2>/dev/null
}
for m in "${MODELS[@]}"; do
  [ "${SKIP_CANDIDATES:-0}" = 1 ] && break
  mn=$(basename "$m" .gguf)
  serve_rss "$m" "$mn-default"
  serve_rss "$m" "$mn-exact" --exact
done

[ "${SKIP_COMPARE:-0}" = 1 ] && exit 0
# Parley's defaults against llama-server (-np 4), the issue's workload: 12 conversations x 8
# turns, 4 users, 48-token replies. Both servers up, measured one after the other.
for m in "${MODELS[@]}"; do
  mn=$(basename "$m" .gguf)
  $PARLEY serve -m "$m" -t "$THREADS" --port 18991 > "$OUT/compare-parley-$mn.log" 2>&1 &
  p1=$!
  "$LLAMA/bin/llama-server" -m "$m" -t "$THREADS" -tb "$THREADS" -np 4 -c 16384 --host 127.0.0.1 --port 18992 \
    > "$OUT/compare-llama-$mn.log" 2>&1 &
  p2=$!
  $PARLEY bench compare --url-a http://127.0.0.1:18991 --name-a parley --url-b http://127.0.0.1:18992 \
    --name-b llama-server -n 12 --turns 8 --users 4 --reply-tokens 48 --wait-ready 120 \
    -o "$OUT/compare-$mn" > "$OUT/compare-$mn.txt" 2>&1
  curl -s http://127.0.0.1:18991/metrics > "$OUT/compare-parley-$mn.metrics"
  kill $p1 $p2; wait $p1 $p2 2>/dev/null
  echo "== $mn: parley bench compare"; cat "$OUT/compare-$mn.txt" | tail -40
done

# The quality canary's reading on a short bench run: every request re-scored (--canary-rate 1).
for m in "${MODELS[@]}"; do
  mn=$(basename "$m" .gguf)
  $PARLEY serve -m "$m" -t "$THREADS" --port 18993 --canary-rate 1 > "$OUT/canary-$mn.log" 2>&1 &
  p1=$!
  $PARLEY bench --url http://127.0.0.1:18993 -n 4 --turns 3 --users 2 --reply-tokens 48 --wait-ready 120 \
    -o "$OUT/canary-bench-$mn" > "$OUT/canary-bench-$mn.txt" 2>&1
  for _ in $(seq 1 120); do
    curl -s http://127.0.0.1:18993/metrics | grep -q '^parley_canary_pending 0' && break; sleep 1
  done
  curl -s http://127.0.0.1:18993/metrics | grep '^parley_canary' | tee "$OUT/canary-$mn.metrics"
  kill $p1; wait $p1 2>/dev/null
done
