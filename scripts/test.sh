#!/usr/bin/env bash
# Runs every losskit test from a fresh clone on a fresh Debian 12 machine:
#   1. installs the Debian packages the build and the tests need (when missing),
#   2. builds the release preset and runs its tests (unit, libtorch parity, install consumer),
#   3. runs the Python tests against the extension just built,
#   4. builds the ASan+UBSan preset and runs the unit tests under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev libtorch-dev
          pybind11-dev python3-dev python3-numpy python3-pytest python3-torch python3-setuptools
          python3-pip libdlpack-dev)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

jobs=${JOBS:-$(nproc)}
echo "== release build"
cmake --preset release -DLOSSKIT_BUILD_TESTS=ON -DLOSSKIT_BUILD_TORCH_TESTS=ON -DLOSSKIT_BUILD_PYTHON=ON \
      -DLOSSKIT_BUILD_BENCH=ON -DLOSSKIT_BUILD_EXAMPLES=ON
cmake --build --preset release -j "$jobs"
echo "== release tests"
ctest --preset release -j "$jobs" --no-tests=error

if [ -d python/tests ]; then
  echo "== python tests"
  PYTHONPATH=build/python /usr/bin/python3 -m pytest -q python/tests
fi

if [ "${LOSSKIT_SKIP_ASAN:-0}" != 1 ]; then
  echo "== sanitizer build (ASan + UBSan)"
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs" --no-tests=error
fi
echo "== all tests passed"
