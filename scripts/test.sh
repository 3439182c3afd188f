#!/usr/bin/env bash
# Runs every losskit test from a fresh clone on a fresh Debian 12 machine:
#   1. installs the Debian packages the build and the tests need (when missing),
#   2. makes (or reuses) the Python environment .venv: torch==2.13.0 (CPU), NumPy, pytest, pybind11,
#   3. builds the release preset (the extension for .venv's Python; the C++ parity tests linked to
#      the libtorch that the torch wheel ships) and runs its tests (unit, libtorch 2.13 parity,
#      install consumers),
#   4. runs the Python tests in .venv against torch 2.13 and the extension just built,
#   5. builds the ASan+UBSan preset and runs the unit tests under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/debian-packages.sh
ensure_debian_packages cmake ninja-build g++ libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev libdlpack-dev

# The Python environment: made once, then reused (pip only checks the pins).
python=${LOSSKIT_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== making .venv with $($python --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r python/requirements-test.txt
# The peer libraries (MONAI, Keras 3, optax + JAX CPU), references of the losses PyTorch lacks:
# an exactly pinned closure, installed without dependency resolution so that nothing can replace
# torch or numpy (python/requirements-peers.txt says why); pip check verifies the closure.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r python/requirements-peers.txt
.venv/bin/python -m pip check -q --disable-pip-version-check
venv_py=$PWD/.venv/bin/python
torch_prefix=$($venv_py -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')

jobs=${JOBS:-$(nproc)}
echo "== release build"
cmake --preset release -DLOSSKIT_BUILD_TESTS=ON -DLOSSKIT_BUILD_TORCH_TESTS=ON -DLOSSKIT_BUILD_PYTHON=ON \
      -DLOSSKIT_BUILD_BENCH=ON -DLOSSKIT_BUILD_EXAMPLES=ON -DPython3_EXECUTABLE="$venv_py" \
      -Dpybind11_DIR="$($venv_py -m pybind11 --cmakedir)" -DCMAKE_PREFIX_PATH="$torch_prefix"
cmake --build --preset release -j "$jobs"
echo "== release tests"
ctest --preset release -j "$jobs" --no-tests=error

if [ -d python/tests ]; then
  echo "== python tests ($($venv_py -c 'import torch; print("torch", torch.__version__)'))"
  PYTHONPATH=build/python "$venv_py" -m pytest -q python/tests
fi

if [ "${LOSSKIT_SKIP_ASAN:-0}" != 1 ]; then
  echo "== sanitizer build (ASan + UBSan)"
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs" --no-tests=error
fi
echo "== all tests passed"
