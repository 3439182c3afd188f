"""Builds the losskit Python package: CMake builds the extension `losskit._losskit` (from
python/CMakeLists.txt and the C++ library), setuptools packages it with python/losskit.

    pip install .                                   # isolated build (downloads the build tools)
    pip install --no-build-isolation .              # with the build tools already installed
Needs a C++20 compiler, CMake >= 3.22, pybind11 (its Python package or its CMake files) and the
DLPack header (Debian: libdlpack-dev).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        cfg = [f"-DPython3_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release",
               "-DLOSSKIT_BUILD_PYTHON=ON", "-DLOSSKIT_BUILD_TESTS=OFF", "-DLOSSKIT_BUILD_TORCH_TESTS=OFF",
               "-DLOSSKIT_BUILD_BENCH=OFF", "-DLOSSKIT_BUILD_EXAMPLES=OFF", "-DLOSSKIT_INSTALL=OFF"]
        try:  # the pybind11 package knows where its CMake files are
            import pybind11
            cfg.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass  # the system's (Debian: /usr/lib/cmake/pybind11)
        if shutil.which("ninja") and not (build / "CMakeCache.txt").exists():
            cfg += ["-G", "Ninja"]
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build)] + cfg, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", str(build), "--target", "_losskit", "-j", jobs], check=True)
        built = next((build / "python" / "losskit").glob("_losskit*"))
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, dest)


setup(
    package_dir={"": "python"},
    packages=find_packages("python", include=["losskit", "losskit.*"]),
    ext_modules=[Extension("losskit._losskit", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}},
    zip_safe=False,
)
