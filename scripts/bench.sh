#!/usr/bin/env bash
# Builds the release tree with the benchmarks and runs losskit against libtorch, side by side.
#   scripts/bench.sh                       all cases, 2 threads
#   LOSSKIT_BENCH_THREADS=4 scripts/bench.sh --benchmark_filter=ce_
# The machine should be otherwise idle: the table is medians, but noise still shows.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
# libtorch (the baseline) from the torch wheel of .venv (made by scripts/test.sh).
prefix=()
if [ -x .venv/bin/python ]; then
  prefix=(-DCMAKE_PREFIX_PATH="$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')")
fi
cmake --preset release -DLOSSKIT_BUILD_BENCH=ON "${prefix[@]}" >/dev/null
cmake --build --preset release -j "$jobs" --target losskit_bench
exec ./build/bench/losskit_bench "$@"
