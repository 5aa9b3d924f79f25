"""Build hooks of the libnic package (the metadata is in pyproject.toml).

- The version is read from nic.h (`../include/nic.h`, or the file named by NIC_HEADER) and
  written into the built package as nic/_version.py.
- With a bundled library (nic/_lib/libnic.so.0, put there by `make wheel`) the wheel is
  platform-specific (py3-none-<platform>); without one it is pure Python and uses an
  installed libnic.
"""

import importlib.util
import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.environ.get("NIC_HEADER") or os.path.join(HERE, "..", "include", "nic.h")
BUNDLED_LIBRARY = os.path.join(HERE, "nic", "_lib", "libnic.so.0")


def _header_module():
    spec = importlib.util.spec_from_file_location("_nic_header", os.path.join(HERE, "nic", "_header.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if not os.path.isfile(HEADER):
    raise SystemExit(f"libnic: nic.h not found at {HEADER} (the version's source): build from python/ "
                     "of the libnic repository, or set NIC_HEADER to the path of nic.h")
VERSION = _header_module().read_version(HEADER)


class BuildPy(build_py):
    def run(self):
        super().run()
        if not self.dry_run:
            path = os.path.join(self.build_lib, "nic", "_version.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write("# Written by setup.py from nic.h's NIC_VERSION_* macros.\n")
                f.write(f"VERSION = {VERSION!r}\n")


class PackageDistribution(Distribution):
    def has_ext_modules(self):
        # A bundled native library makes the package platform-specific (installed to platlib).
        return os.path.exists(BUNDLED_LIBRARY)


class BdistWheel(bdist_wheel):
    def get_tag(self):
        python, abi, platform = super().get_tag()
        if os.path.exists(BUNDLED_LIBRARY):
            return "py3", "none", platform  # ctypes only: any Python 3, this platform's library
        return python, abi, platform


setup(version=".".join(map(str, VERSION)), distclass=PackageDistribution,
      cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
