#!/usr/bin/env bash
# Builds the release tree with the benchmarks and runs losskit against libtorch, side by side.
#   scripts/bench.sh                       all cases, 2 threads
#   LOSSKIT_BENCH_THREADS=4 scripts/bench.sh --benchmark_filter=ce_
# The machine should be otherwise idle: the table is medians, but noise still shows.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
cmake --preset release -DLOSSKIT_BUILD_BENCH=ON >/dev/null
cmake --build --preset release -j "$jobs" --target losskit_bench
exec ./build/bench/losskit_bench "$@"
