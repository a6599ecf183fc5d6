#!/usr/bin/env bash
# Installs what Parley needs to build and test on a fresh Debian 12 machine (only the
# packages that are missing), then configures and builds. Idempotent.
#   scripts/setup.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

PKGS=(build-essential cmake pkg-config python3 python3-venv
      libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev libpcre2-dev libxxhash-dev libzstd-dev libcpp-httplib-dev
      libhiredis-dev redis-server haproxy  # the fleet: shared KV tier on Redis, sticky routing (docs/fleet.md)
      gnuplot-nox    # gnuplot draws parley bench's PNG plots
      clang          # libFuzzer and the ASan + UBSan build of scripts/test.sh
      chromium chromium-driver)  # the chat page's browser tests (tests/e2e/test_webui.py)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q || echo "setup: apt-get update failed; trying the cached package lists"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" || {
    echo "error: could not install ${missing[*]} (is the Debian mirror reachable?)" >&2; exit 1; }
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${@:2}" > /dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
