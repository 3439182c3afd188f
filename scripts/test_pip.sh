#!/usr/bin/env bash
# Checks the Python packaging (pyproject.toml: scikit-build-core + pybind11) from a clean state, in
# fresh virtual environments under a temporary directory (removed at the end):
#   1. `pip install .` with build isolation (the build tools come from PyPI) into a fresh venv,
#   2. `pip wheel .` (build isolation again) makes the wheel, which must hold losskit/py.typed,
#   3. the wheel installs (with numpy, its dependency) into a second fresh venv,
#   4. in both venvs, outside the source tree: `import losskit, losskit.numpy`, a loss value, and
#      losskit.__version__ and the distribution's version equal include/losskit/version.hpp's.
# Both builds use the build directory of pyproject.toml (build-pip/<wheel tag>). Needs PyPI and
# the Debian packages below (installed when missing); the venvs are made with $LOSSKIT_PYTHON,
# or python3 (the Python that scripts/test.sh makes .venv with). JOBS: build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/debian-packages.sh
ensure_debian_packages cmake ninja-build g++ libhwy-dev libdlpack-dev ccache

python=${LOSSKIT_PYTHON:-python3}
# Nothing from the caller's environment may stand in for the installed package or the isolation.
unset PYTHONPATH PIP_NO_BUILD_ISOLATION PIP_TARGET PIP_PREFIX
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -z "${JOBS:-}" ] || export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS

version=$(sed -n -E 's/^#define LOSSKIT_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' include/losskit/version.hpp |
          paste -sd.)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "cannot read the version of include/losskit/version.hpp"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/losskit-pip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# An isolated build starts the build tree over: scikit-build-core clears CMake's cache when the
# build environment is new (each isolated pip run makes one), and pybind11's include path moves
# with it. So both builds compile through ccache, with a cache of this run's own: the second one
# takes the C++ library's objects (about 90% of the compile) from it and compiles only the
# bindings again.
export CCACHE_DIR=$tmp/ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache

check() {  # check VENV: the installed package works and has the version of version.hpp
  (cd "$tmp" && "$1/bin/python" - "$version" "$1" <<'PY'
import importlib.metadata, math, os, sys
import numpy as np
import losskit, losskit.numpy as LN
version, venv = sys.argv[1], os.path.realpath(sys.argv[2])
assert os.path.realpath(losskit.__file__).startswith(venv + os.sep), losskit.__file__
value = float(LN.cross_entropy(np.zeros((2, 4)), np.array([1, 3])))
assert abs(value - math.log(4)) < 1e-12, value
assert losskit.__version__ == version, (losskit.__version__, version)
assert importlib.metadata.version("losskit") == version, importlib.metadata.version("losskit")
print(f"   ok: losskit {losskit.__version__} from {os.path.dirname(losskit.__file__)}, "
      f"cross_entropy = {value:.12f} (log 4)")
PY
  )
}

t0=$SECONDS
echo "== pip install . (build isolation) into a fresh venv ($("$python" --version))"
"$python" -m venv "$tmp/venv-install"
"$tmp/venv-install/bin/python" -m pip install -q "$root"
check "$tmp/venv-install"
t1=$SECONDS
echo "   $((t1 - t0)) s"

echo "== pip wheel . (build isolation)"
"$tmp/venv-install/bin/python" -m pip wheel -q --no-deps -w "$tmp/dist" "$root"
wheels=("$tmp"/dist/losskit-"$version"-*.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || { echo "expected one wheel losskit-$version-*.whl in dist"; ls "$tmp/dist"; exit 1; }
wheel=${wheels[0]}
"$tmp/venv-install/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for required in ("losskit/py.typed", "losskit/_version.py", "losskit/__init__.py", "losskit/numpy/__init__.py",
                 "losskit/torch/__init__.py"):
    assert required in names, f"{required} is not in the wheel"
assert any(n.startswith("losskit/_losskit.") and n.endswith((".so", ".pyd")) for n in names), "no extension"
stray = [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
assert not stray, stray
print(f"   ok: {sys.argv[1].rsplit('/', 1)[-1]}, {len(names)} files, py.typed included")
PY
t2=$SECONDS
echo "   $((t2 - t1)) s"

echo "== the wheel into a second fresh venv"
"$python" -m venv "$tmp/venv-wheel"
"$tmp/venv-wheel/bin/python" -m pip install -q "$wheel"
check "$tmp/venv-wheel"
echo "   $((SECONDS - t2)) s"
echo "== pip packaging checks passed ($((SECONDS - t0)) s; ccache: $(ccache --print-stats 2>/dev/null |
     awk -F'\t' '$1 ~ /^(direct|preprocessed)_cache_hit$/ {h += $2} $1 ~ /^cache_miss$/ {m = $2}
                 END {print h + 0 " hits, " m + 0 " misses"}'))"
