#!/usr/bin/env bash
# One sitting for issue #20, the products at the file's own bits (--weights packed): decode
# speed against the int8 path and llama.cpp, interleaved (tg128, medians of REPS runs of each,
# one run of each engine in turn so drift hits all three alike), prompt speed (pp512), 16
# streams against one, the memory read bandwidth that bounds decode, peak RSS, and perplexity
# over the GPL-3 text. Raw outputs go to $OUT; prints figures, never fails on speed. Run it
# with nothing else on the machine.
#   scripts/bench_packed.sh LLAMA_BUILD_DIR     (holds bin/llama-bench)
# OUT (default /tmp/bench_packed), THREADS (2), REPS (4), SKIP_PPL=1 skips perplexity.
set -uo pipefail
cd "$(dirname "$0")/.."
LLAMA=${1:?usage: scripts/bench_packed.sh LLAMA_BUILD_DIR}
OUT=${OUT:-/tmp/bench_packed}; THREADS=${THREADS:-2}; REPS=${REPS:-4}
PARLEY=build/bin/parley
MODELS=(models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf)
mkdir -p "$OUT"
{
  echo "date: $(date -u)"; echo "parley: $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty)"
  echo "llama.cpp: $(git -C "$LLAMA/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
  lscpu | grep -E 'Model name|^CPU\(s\)'
  echo "flags: $(grep -o -E 'avx512[a-z_]*|amx[a-z_]*|avx_vnni|avx2|f16c' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "threads: $THREADS"; echo "load before: $(cat /proc/loadavg)"
} | tee "$OUT/machine.txt"

build/bench/kernels_bench --benchmark_filter='ReadBandwidth' 2>&1 | tee "$OUT/bandwidth.txt" | grep -E 'BM_'

tps() { grep -E "$1" | tail -1 | awk -F'|' '{print $(NF-1)}' | awk '{print $1}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for m in "${MODELS[@]}"; do
  mn=$(basename "$m" .gguf)
  : > "$OUT/tg-$mn.txt"
  for r in $(seq 1 "$REPS"); do
    for w in int8 packed; do
      v=$($PARLEY bench-model -m "$m" -t "$THREADS" -p 0 -n 128 -r 1 --weights "$w" 2>&1 | tps tg128)
      echo "$w $v" >> "$OUT/tg-$mn.txt"
    done
    v=$("$LLAMA/bin/llama-bench" -m "$m" -t "$THREADS" -p 0 -n 128 -r 1 2>&1 | tps tg128)
    echo "llama.cpp $v" >> "$OUT/tg-$mn.txt"
  done
  for e in int8 packed llama.cpp; do
    echo "$mn tg128 $e: median $(grep "^$e " "$OUT/tg-$mn.txt" | awk '{print $2}' | median) of $(grep "^$e " "$OUT/tg-$mn.txt" | awk '{print $2}' | tr '\n' ' ')"
  done | tee -a "$OUT/summary.txt"
  for w in int8 packed; do
    $PARLEY bench-model -m "$m" -t "$THREADS" -p 512 -n 0 -r 3 --weights "$w" > "$OUT/pp-$mn-$w.txt" 2>&1
    $PARLEY bench-model -m "$m" -t "$THREADS" -p 0 -n 32 -s 1,16 -r 2 --weights "$w" > "$OUT/streams-$mn-$w.txt" 2>&1
    echo "$mn $w: $(grep -E 'pp512' "$OUT/pp-$mn-$w.txt" | awk -F'|' '{print $(NF-2), $(NF-1)}' | tr -s ' ') |" \
      "$(grep -E 'tg32' "$OUT/streams-$mn-$w.txt" | awk -F'|' '{print $(NF-2), $(NF-1)}' | tr -s ' ' | tr '\n' ';')" | tee -a "$OUT/summary.txt"
    /usr/bin/time -f "maxrss_kib %M" $PARLEY run -m "$m" -t "$THREADS" -p "Tell me a story about a cat." -n 32 \
      --weights "$w" > "$OUT/rss-$mn-$w.txt" 2>&1
    echo "$mn $w: $(grep maxrss "$OUT/rss-$mn-$w.txt")" | tee -a "$OUT/summary.txt"
  done
  "$LLAMA/bin/llama-bench" -m "$m" -t "$THREADS" -p 512 -n 0 -r 3 > "$OUT/pp-$mn-llama.txt" 2>&1
  echo "$mn llama.cpp: $(grep pp512 "$OUT/pp-$mn-llama.txt" | awk -F'|' '{print $(NF-1)}')" | tee -a "$OUT/summary.txt"
  if [ "${SKIP_PPL:-0}" != 1 ]; then
    for w in "--exact" "--weights int8" "--weights packed"; do
      # shellcheck disable=SC2086
      $PARLEY perplexity -m "$m" -f /usr/share/common-licenses/GPL-3 -c 512 -t "$THREADS" $w > "$OUT/ppl-$mn-${w##* }.txt" 2>&1
      echo "$mn perplexity $w: $(grep -E '^Final' "$OUT/ppl-$mn-${w##* }.txt")" | tee -a "$OUT/summary.txt"
    done
  fi
done
echo "load after: $(cat /proc/loadavg)" | tee -a "$OUT/machine.txt"
