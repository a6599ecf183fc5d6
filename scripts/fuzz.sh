#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan + UBSan) in build-fuzz and runs each
# for SECONDS over a copy of its seed corpus (fuzz/corpus/<name>/), printing executions
# and coverage. Fails if any target crashes; crash inputs go to build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS]   (default 60 per target)
# Env: PARLEY_FUZZ_TARGETS="gguf sse" runs only those; PARLEY_FUZZ_MODELS_DIR as for
# tokenizer_fuzz (default models/); PARLEY_FUZZ_BUILD_TESTS=ON (below).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BUILD_DIR=build-fuzz
TARGETS=(${PARLEY_FUZZ_TARGETS:-gguf tokenizer openai_request chat_template page_codec sse disk_tier remote_page})

if ! command -v clang++ > /dev/null; then
  echo "fuzz: installing clang (libFuzzer)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q || echo "fuzz: apt-get update failed; trying the cached package lists"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang || {
    echo "error: could not install clang" >&2; exit 1; }
fi

LAUNCHER=()
if command -v ccache > /dev/null; then
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# PARLEY_FUZZ_BUILD_TESTS=ON keeps the unit tests in the build: scripts/test.sh's ASan stage
# builds and runs them in this same build directory first (one sanitizer build for both).
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DPARLEY_FUZZ=ON -DPARLEY_BUILD_TESTS="${PARLEY_FUZZ_BUILD_TESTS:-OFF}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LAUNCHER[@]}" > /dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target $(printf '%s_fuzz ' "${TARGETS[@]}")

mkdir -p "$BUILD_DIR/crashes" "$BUILD_DIR/fuzz-logs"
failed=()
for name in "${TARGETS[@]}"; do
  # A scratch copy: libFuzzer adds the inputs it finds to the corpus directory it is given.
  work="$BUILD_DIR/fuzz-corpus/$name"
  rm -rf "$work" && mkdir -p "$work" && cp fuzz/corpus/"$name"/* "$work"/
  log="$BUILD_DIR/fuzz-logs/$name.log"
  echo "== fuzz $name: ${SECONDS_PER_TARGET}s =="
  status=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$BUILD_DIR/fuzz/${name}_fuzz" "$work" -max_total_time="$SECONDS_PER_TARGET" \
      -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
      -artifact_prefix="$BUILD_DIR/crashes/$name-" > "$log" 2>&1 || status=$?
  # libFuzzer's last "#N ... cov: ft:" line and its final stats.
  grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz $name FAILED (exit $status); log: $log; inputs: $BUILD_DIR/crashes/$name-*"
    grep -E 'ERROR: |runtime error|SUMMARY' "$log" | head -5 || true
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s without a crash"
