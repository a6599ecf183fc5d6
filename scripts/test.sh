#!/usr/bin/env bash
# Runs every test from a fresh machine: installs what is missing, fetches the models,
# builds, runs the unit, tiny-model, golden and bad-file tests, the HTTP end-to-end tests
# (Python, in the git-ignored .venv-test), then the bad-file and GGUF tests again under
# AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
python3 scripts/fetch_models.py
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600)

echo "== HTTP end-to-end tests: parley serve + the openai client (tests/e2e) =="
[ -x .venv-test/bin/python ] || python3 -m venv .venv-test
.venv-test/bin/python -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt
PARLEY_BIN=build/bin/parley PARLEY_WRITE_TINY_MODEL=build/bin/write_tiny_model \
  PARLEY_GEMMA_MODEL=models/gemma-3-270m-q4_k_m.gguf \
  timeout 900 .venv-test/bin/python -m pytest -q -p no:cacheprovider tests/e2e

echo "== AddressSanitizer + UBSan: GGUF reader and bad model files =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_ASAN=ON > /dev/null
cmake --build build-asan -j "$(nproc)" --target parley gguf_test bad_model_test tokenizer_test
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
   ctest --output-on-failure -j "$(nproc)" -R '^(GgufTest|BadModelTest|.*Tokenizer.*)\.')

echo "== libFuzzer targets (fuzz/), 15 s each, under ASan + UBSan =="
scripts/fuzz.sh 15
echo "all tests passed"
