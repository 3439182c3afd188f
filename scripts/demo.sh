#!/usr/bin/env bash
# Builds losskit (release) and runs the demo: the seed notebook's numbers, then each seed loss
# training a small model with its gradient. Run scripts/test.sh once first on a fresh machine
# (it installs the Debian packages), or have cmake, ninja-build, g++ and libgtest-dev installed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
if [ ! -f build/build.ninja ]; then
  cmake --preset release -DLOSSKIT_BUILD_TESTS=OFF -DLOSSKIT_BUILD_BENCH=OFF -DLOSSKIT_BUILD_PYTHON=OFF >/dev/null
fi
cmake --build build -j "$jobs" --target losskit_demo losskit_example >/dev/null
./build/examples/losskit_demo
echo
echo "== examples/example.cpp"
./build/examples/losskit_example
