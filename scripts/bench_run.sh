#!/usr/bin/env bash
# Side-by-side speed of `parley run` and llama.cpp's llama-bench on the same model files,
# thread counts and lengths, in one sitting. Prints figures; never fails on speed.
#   scripts/bench_run.sh [PATH/TO/llama-bench]     (default: ../peer/llama.cpp/build/bin/llama-bench)
# PROMPT_TOKENS (default 128) and GEN_TOKENS (default 64) set the lengths; REPS (default 3)
# the repetitions (the median is reported); PARLEY_ARGS adds options to `parley run` (e.g.
# "--activations q8").
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_BENCH=${1:-../peer/llama.cpp/build/bin/llama-bench}
P=${PROMPT_TOKENS:-128}; N=${GEN_TOKENS:-64}; REPS=${REPS:-3}
PARLEY=build/bin/parley
[ -x "$PARLEY" ] || scripts/setup.sh build
python3 scripts/fetch_models.py >/dev/null

# A prompt of exactly P tokens for each model: repeat a sentence, cut by token count.
prompt_for() {  # model
  local text="The quick brown fox jumps over the lazy dog while the river keeps flowing to the sea."
  local long=""; for i in $(seq 1 40); do long="$long $text"; done
  python3 - "$1" "$P" "$long" <<'PY'
import sys, subprocess
model, p, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
words = text.split()
# Grow the prompt word by word until `parley run -n 0` reports p prompt tokens.
lo, hi = 1, len(words)
def count(k):
    out = subprocess.run(["build/bin/parley", "run", "-m", model, "-p", " ".join(words[:k]), "-n", "0", "-t", "1"],
                         capture_output=True, text=True).stderr
    return int(out.split("prompt: ")[1].split()[0])
while lo < hi:
    mid = (lo + hi + 1) // 2
    if count(mid) <= p: lo = mid
    else: hi = mid - 1
print(" ".join(words[:lo]))
PY
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf "%-34s %3s | %22s | %22s\n" "model" "thr" "parley pp / tg tok/s" "llama.cpp pp / tg tok/s"
for model in models/gemma-3-270m-q4_k_m.gguf models/SmolLM2-135M-Instruct.Q4_1.gguf; do
  prompt=$(prompt_for "$model")
  for t in 1 2; do
    pps=(); tgs=()
    for r in $(seq 1 "$REPS"); do
      line=$($PARLEY run -m "$model" -p "$prompt" -n "$N" -t "$t" --ignore-eos ${PARLEY_ARGS:-} 2>&1 >/dev/null | grep "^prompt:")
      pps+=("$(echo "$line" | sed -E 's/.*prompt: [0-9]+ tokens in [0-9.]+ s \(([0-9.]+) tok\/s\).*/\1/')")
      tgs+=("$(echo "$line" | sed -E 's/.*decode steps in [0-9.]+ s \(([0-9.]+) tok\/s\).*/\1/')")
    done
    pp=$(printf "%s\n" "${pps[@]}" | median); tg=$(printf "%s\n" "${tgs[@]}" | median)
    peer="(no llama-bench)"
    if [ -x "$LLAMA_BENCH" ]; then
      peer=$("$LLAMA_BENCH" -m "$model" -t "$t" -p "$P" -n "$N" -r "$REPS" -o csv 2>/dev/null |
             python3 -c "
import csv, sys
rows = list(csv.DictReader(sys.stdin))
pp = [r for r in rows if int(r['n_prompt']) > 0][0]['avg_ts']; tg = [r for r in rows if int(r['n_gen']) > 0][0]['avg_ts']
print('%.1f / %.1f' % (float(pp), float(tg)))")
    fi
    printf "%-34s %3s | %22s | %22s\n" "$(basename "$model")" "$t" "$pp / $tg" "$peer"
  done
done
echo "(prompt $P tokens, $N generated; parley: median of $REPS runs of parley run; llama.cpp: llama-bench -p $P -n $N -r $REPS, mean)"
