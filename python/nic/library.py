"""Finding and loading libnic, and the queries that need no context.

The shared library is the first that loads of:

  1. the file named by the environment variable NIC_LIBRARY;
  2. ``_lib/libnic.so.0`` inside this package (a wheel built by ``make wheel`` bundles it);
  3. the system loader: ctypes.util.find_library("nic"), then the sonames
     ``libnic.so.0`` and ``libnic.so`` (an installed libnic, e.g. ``make install``).

A wheel also bundles the shipped models in ``_models/``; a Context given no model
directory uses them unless NIC_MODEL_DIR is set (see Context).
"""

import ctypes
import ctypes.util
import os
import threading
from typing import List, Optional, Tuple

from ._capi import declare
from .errors import LibraryNotFoundError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
BUNDLED_LIBRARY = os.path.join(_PACKAGE_DIR, "_lib", "libnic.so.0")
BUNDLED_MODELS = os.path.join(_PACKAGE_DIR, "_models")

_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None
_lib_lock = threading.Lock()


def _candidates() -> Tuple[List[str], bool]:
    env = os.environ.get("NIC_LIBRARY")
    if env:
        return [env], True
    names = []
    if os.path.exists(BUNDLED_LIBRARY):
        names.append(BUNDLED_LIBRARY)
    found = ctypes.util.find_library("nic")
    if found:
        names.append(found)
    names += ["libnic.so.0", "libnic.so"]
    return names, False


def load_library() -> ctypes.CDLL:
    """Loads libnic once (in the order of the module documentation) and returns the ctypes.CDLL.

    Raises LibraryNotFoundError, listing what was tried, when none loads."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        names, from_env = _candidates()
        errors = []
        for name in names:
            try:
                lib = ctypes.CDLL(name)
            except OSError as e:
                errors.append(f"{name}: {e}")
                continue
            try:
                _lib = declare(lib)
            except AttributeError as e:
                raise LibraryNotFoundError(f"{name} is not a usable libnic: {e}") from None
            _lib_path = name
            return _lib
        if from_env:
            hint = "NIC_LIBRARY is set but the library cannot be loaded"
        else:
            hint = ("libnic not found: install libnic (make install) or the libnic wheel (make wheel), "
                    "or set NIC_LIBRARY to the full path of libnic.so.0")
        raise LibraryNotFoundError(hint + ("\n  " + "\n  ".join(errors) if errors else ""))


def library_path() -> str:
    """The file the loaded libnic was opened from: NIC_LIBRARY, the bundled copy's absolute
    path, or the name given to the system loader (e.g. "libnic.so.0"). Loads the library."""
    load_library()
    assert _lib_path is not None
    return _lib_path


def bundled_model_dir() -> Optional[str]:
    """The models bundled in this package (a wheel's ``nic/_models``), or None without them."""
    return BUNDLED_MODELS if os.path.isfile(os.path.join(BUNDLED_MODELS, "settings.json")) else None


def default_model_dir() -> Optional[str]:
    """The model directory a Context given none passes to the library: the bundled models
    unless NIC_MODEL_DIR is set; None leaves the choice to the library (NIC_MODEL_DIR, then
    the installed models, docs/models.md)."""
    if os.environ.get("NIC_MODEL_DIR"):
        return None
    return bundled_model_dir()


def _decode(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b is not None else ""


def version() -> str:
    """The loaded library's version string, e.g. "0.2.0"."""
    return _decode(load_library().nic_version())


def version_number() -> int:
    """The loaded library's version as NIC_VERSION_NUMBER(major, minor, patch)."""
    return int(load_library().nic_version_number())


def status_string(status: int) -> str:
    """Short English description of a status code (nic_status_string)."""
    return _decode(load_library().nic_status_string(int(status)))
