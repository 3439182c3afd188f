#!/usr/bin/env bash
# Builds losskit (release) and runs the demo: the seed notebook's numbers, then each seed loss
# training a small model with its gradient. Works as the first command on a fresh Debian 12
# machine: it installs the Debian packages the build needs when they are missing (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/debian-packages.sh
ensure_debian_packages cmake ninja-build g++ libhwy-dev
jobs=${JOBS:-$(nproc)}
# Reuse the full build of scripts/test.sh when there is one; otherwise build just the library and
# the examples in a directory of their own.
dir=build
if [ ! -f build/build.ninja ]; then
  dir=build-demo
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOSSKIT_BUILD_TESTS=OFF -DLOSSKIT_BUILD_TORCH_TESTS=OFF \
        -DLOSSKIT_BUILD_BENCH=OFF -DLOSSKIT_BUILD_PYTHON=OFF -DLOSSKIT_BUILD_EXAMPLES=ON >/dev/null
fi
cmake --build "$dir" -j "$jobs" --target losskit_demo losskit_example >/dev/null
"./$dir/examples/losskit_demo"
echo
echo "== examples/example.cpp"
"./$dir/examples/losskit_example"
