#!/usr/bin/env bash
# Runs every test from a fresh machine: installs what is missing, fetches the models,
# builds, runs the unit, tiny-model, golden and bad-file tests, the HTTP end-to-end tests
# (Python, in the git-ignored .venv-test), a 3-minute soak, the GGUF / bad-file / tokenizer
# tests under AddressSanitizer + UBSan, and the fuzz targets. docs/testing.md says what each
# stage covers. Each stage prints its time; PARLEY_SKIP_STAGES="soak asan fuzz" skips stages
# by name, for a quicker local run. Two stages are opt-in, not yet in CI (never run to the
# end here, their time unmeasured): PARLEY_STAGES="asan-all tsan" adds every unit test and
# the tiny-model e2e tests under ASan + UBSan, and the threaded ones under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE_T0=$SECONDS
stage_time() { echo "-- $1: $((SECONDS - STAGE_T0)) s"; STAGE_T0=$SECONDS; }
skip() { [[ " ${PARLEY_SKIP_STAGES:-} " == *" $1 "* ]] && echo "== $1: skipped (PARLEY_SKIP_STAGES)"; }
# Opt-in stages run only when PARLEY_STAGES names them.
opted_out() { [[ " ${PARLEY_STAGES:-} " != *" $1 "* ]] && echo "== $1: not run (opt-in: PARLEY_STAGES=\"$1\")"; }
# The tiny-model e2e tests: every test but those needing a real model file or a browser.
SAN_E2E_MARKS="not real_model and not browser"
scripts/setup.sh build
python3 scripts/fetch_models.py
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600)
stage_time "build and unit tests"

echo "== HTTP end-to-end tests: parley serve + the openai client (tests/e2e) =="
[ -x .venv-test/bin/python ] || python3 -m venv .venv-test
.venv-test/bin/python -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt
PARLEY_BIN=build/bin/parley PARLEY_WRITE_TINY_MODEL=build/bin/write_tiny_model \
  PARLEY_GEMMA_MODEL=models/gemma-3-270m-q4_k_m.gguf \
  timeout 900 .venv-test/bin/python -m pytest -q -p no:cacheprovider tests/e2e
stage_time "e2e"

if ! skip soak; then
  echo "== Soak: 3 minutes of mixed load on a tiny model, --check-integrity (scripts/soak.sh) =="
  PARLEY_SOAK_OUT=build/soak timeout 600 scripts/soak.sh 3
  stage_time "soak"
fi

if ! skip asan; then
  echo "== AddressSanitizer + UBSan: GGUF reader, bad model files, tokenizers (build-asan) =="
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_ASAN=ON > /dev/null
  cmake --build build-asan -j "$(nproc)" --target parley gguf_test bad_model_test tokenizer_test
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure -j "$(nproc)" -R '^(GgufTest|BadModelTest|.*Tokenizer.*)\.')
  stage_time "asan"
fi

if ! opted_out asan-all; then
  # One clang build serves this stage and the fuzz stage: -DPARLEY_FUZZ=ON compiles every
  # library with ASan + UBSan (and libFuzzer's coverage hooks, inert outside a fuzz target).
  echo "== AddressSanitizer + UBSan: every unit test and the tiny-model e2e tests (build-fuzz, clang) =="
  # Configured exactly as scripts/fuzz.sh configures it, so the fuzz stage rebuilds nothing.
  export PARLEY_FUZZ_BUILD_TESTS=ON
  LAUNCHER=()
  if command -v ccache > /dev/null; then
    LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DPARLEY_FUZZ=ON -DPARLEY_BUILD_TESTS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LAUNCHER[@]}" > /dev/null
  cmake --build build-fuzz -j "$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  (cd build-fuzz && ctest --output-on-failure -j "$(nproc)" --timeout 900)
  PARLEY_BIN=build-fuzz/bin/parley PARLEY_WRITE_TINY_MODEL=build-fuzz/bin/write_tiny_model \
    timeout 1200 .venv-test/bin/python -m pytest -q -p no:cacheprovider -m "$SAN_E2E_MARKS" tests/e2e
  unset ASAN_OPTIONS UBSAN_OPTIONS PARLEY_FUZZ_BUILD_TESTS
  stage_time "asan-all"
fi

if ! opted_out tsan; then
  # The modules with threads: the thread pool, the engine loop and its scheduler, the prefix
  # cache and KV manager it drives, the HTTP server, the Generator facade and the invariance
  # tests on tiny models (real forward passes on the thread pool); then the tiny-model e2e
  # tests against a TSan parley. scripts/tsan.supp lists third-party false positives only.
  echo "== ThreadSanitizer: threaded unit tests and the tiny-model e2e tests (build-tsan) =="
  TSAN_TARGETS=(parley write_tiny_model base_test prefix_cache_test engine_test server_test server_api_test
                webui_test generator_test invariance_test)
  TSAN_TESTS='(ThreadPoolTest|EnvTest|PrefixCache[A-Za-z]*|KvManagerTest|DiskTier[A-Za-z]*|HostTierTest|'
  TSAN_TESTS+='Scheduler[A-Za-z]*|StallFreeTest|EngineTest|EngineStatsRecorderTest|OutputProcessorTest|'
  TSAN_TESTS+='CanaryEngineTest|QualityCanaryTest|MetricsTest|ConnectionTest|DrainTest|MetricsExporterTest|'
  TSAN_TESTS+='ClientLimiterTest|WebUiTest|GeneratorTest)\.|InvarianceTest\.Tiny'
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_TSAN=ON > /dev/null
  cmake --build build-tsan -j "$(nproc)" --target "${TSAN_TARGETS[@]}"
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
  (cd build-tsan && ctest --output-on-failure -j "$(nproc)" --timeout 900 -R "$TSAN_TESTS")
  PARLEY_BIN=build-tsan/bin/parley PARLEY_WRITE_TINY_MODEL=build-tsan/bin/write_tiny_model \
    timeout 1500 .venv-test/bin/python -m pytest -q -p no:cacheprovider -m "$SAN_E2E_MARKS and not bench" tests/e2e
  unset TSAN_OPTIONS
  stage_time "tsan"
fi

if ! skip fuzz; then
  echo "== libFuzzer targets (fuzz/), 15 s each, under ASan + UBSan =="
  scripts/fuzz.sh 15
  stage_time "fuzz"
fi
echo "all tests passed"
