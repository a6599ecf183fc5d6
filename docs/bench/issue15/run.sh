#!/usr/bin/env bash
# Issue 15's before/after figures, one sitting: bench-model (interleaved, before then after, per
# model) and `parley bench compare` against two servers (before on :8091, after on :8092).
#   docs/bench/issue15/run.sh BEFORE_PARLEY AFTER_PARLEY OUT_DIR
set -uo pipefail
B=$1; A=$2; OUT=$3; mkdir -p "$OUT"
{ date -u; grep -m1 'model name' /proc/cpuinfo; grep -m1 -o 'avx512_vnni\|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' '; echo; nproc; } > "$OUT/machine.txt"
SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf; GEMMA=models/gemma-3-270m-q4_k_m.gguf
for round in 1 2; do
  for m in $SMOL $GEMMA; do
    for who in before after; do
      bin=$B; [ $who = after ] && bin=$A
      for flags in "" "--exact"; do
        tag=$(basename $m .gguf)-$who${flags:+-exact}-r$round
        $bin bench-model -m $m -t 2 -p 512 -n 128 -r 3 $flags > "$OUT/bm-$tag.txt" 2>&1
        echo "$tag: $(grep -E 'pp512|tg128' "$OUT/bm-$tag.txt" | tr -s ' ' | tr '\n' ' ')"
      done
    done
  done
done
$B serve -m $SMOL --port 8091 -t 2 --canary-rate 0 > "$OUT/serve-before.log" 2>&1 & pb=$!
$A serve -m $SMOL --port 8092 -t 2 --canary-rate 0 > "$OUT/serve-after.log" 2>&1 & pa=$!
sleep 5
$A bench compare --url-a http://127.0.0.1:8092 --name-a after --url-b http://127.0.0.1:8091 --name-b before \
  -n 8 --turns 4 --users 4 --reply-tokens 48 --think-time 0 --seed 15 --no-plots -q -o "$OUT/compare" > "$OUT/compare.txt" 2>&1
kill $pb $pa; wait 2>/dev/null
tail -40 "$OUT/compare.txt"
