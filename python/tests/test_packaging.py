"""`pip install --no-build-isolation .` builds and installs a working package offline (with the
system's setuptools, CMake and pybind11). Skip with LOSSKIT_SKIP_PIP_TEST=1."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.environ.get("LOSSKIT_SKIP_PIP_TEST") == "1", reason="LOSSKIT_SKIP_PIP_TEST=1")
def test_pip_install_no_build_isolation(tmp_path):
    target = tmp_path / "site"
    env = dict(os.environ, PIP_NO_INDEX="1", CMAKE_BUILD_PARALLEL_LEVEL=os.environ.get("JOBS", "2"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "-q", "--target", str(target), "."],
                   cwd=ROOT, env=env, check=True)
    code = ("import losskit, losskit.numpy as LN, numpy as np; "
            "assert losskit.__file__.startswith(%r); "
            "print(float(LN.cross_entropy(np.zeros((2, 4)), np.array([1, 3]))))" % str(target))
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       check=True)
    assert abs(float(r.stdout) - 1.3862943611198906) < 1e-12  # log(4)
