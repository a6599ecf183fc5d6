#!/usr/bin/env bash
# Runs every test from a fresh machine: installs what is missing, fetches the models,
# builds, runs the unit, tiny-model, golden and bad-file tests, then the bad-file and
# GGUF tests again under AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600)

echo "== AddressSanitizer + UBSan: GGUF reader and bad model files =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_ASAN=ON > /dev/null
cmake --build build-asan -j "$(nproc)" --target parley gguf_test bad_model_test tokenizer_test
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
   ctest --output-on-failure -j "$(nproc)" -R '^(GgufTest|BadModelTest|.*Tokenizer.*)\.')
echo "all tests passed"
