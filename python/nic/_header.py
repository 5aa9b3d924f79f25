"""The library version from nic.h, the version's one source.

A built package carries it in ``_version.py`` (written by setup.py from nic.h); a source
checkout reads ``include/nic.h`` beside the package.
"""

import os
import re
from typing import Tuple

_MACRO = re.compile(r"^#define NIC_VERSION_(MAJOR|MINOR|PATCH) (\d+)\s*$", re.MULTILINE)


def read_version(header_path: str) -> Tuple[int, int, int]:
    """(major, minor, patch) from the NIC_VERSION_* macros of a nic.h."""
    with open(header_path, encoding="utf-8") as f:
        macros = {name: int(value) for name, value in _MACRO.findall(f.read())}
    missing = {"MAJOR", "MINOR", "PATCH"} - set(macros)
    if missing:
        raise ValueError(f"{header_path}: no NIC_VERSION_{'/'.join(sorted(missing))} macro")
    return macros["MAJOR"], macros["MINOR"], macros["PATCH"]


def package_version() -> Tuple[int, int, int]:
    """(major, minor, patch) of this package: from _version.py when built, else the checkout's nic.h."""
    try:
        from ._version import VERSION  # type: ignore[import-not-found]  # written at build time
        return VERSION
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        return read_version(os.path.join(here, "..", "..", "include", "nic.h"))
