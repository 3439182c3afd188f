"""The Python packaging (pyproject.toml, scikit-build-core): scripts/test_pip.sh runs `pip install .`
and `pip wheel .` with build isolation in fresh venvs, installs the wheel into another, imports
it and checks a loss value, `losskit.__version__` and py.typed. Needs PyPI (the build tools) and
compiles the extension; skip with LOSSKIT_SKIP_PIP_TEST=1."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.environ.get("LOSSKIT_SKIP_PIP_TEST") == "1", reason="LOSSKIT_SKIP_PIP_TEST=1")
def test_pip_install_and_wheel():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "test_pip.sh")], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, "scripts/test_pip.sh failed:\n" + r.stdout[-20000:]
    assert "pip packaging checks passed" in r.stdout
