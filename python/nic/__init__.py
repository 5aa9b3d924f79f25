"""libnic for Python: neural image and video codec library (ctypes binding of nic.h).

NumPy arrays in and out (Pillow images accepted where an image is expected), NicError
carrying the status and message of a failed call, and Context as a context manager:

    import numpy as np, nic
    with nic.Context() as ctx:
        big, info = ctx.upscale(np.zeros((100, 200, 3), np.uint8), 400, 200)

The library is found as described in nic.library: NIC_LIBRARY, the copy bundled in the
package (wheel), then the system loader. A wheel's bundled models are the default model
directory of every Context.
"""

from . import _capi
from ._capi import (NIC_AIDATA_MAX_BYTES, NIC_MAX_DIMENSION, NIC_MAX_LAYERS, NIC_MAX_PIXELS, NIC_VERSION_MAJOR,
                    NIC_VERSION_MINOR, NIC_VERSION_NUMBER, NIC_VERSION_PATCH, NicAIData, NicConfig,
                    NicContextPtr, NicFrameAIData, NicImage, NicLogLevel, NicPixelFormat, NicResizeMethod,
                    NicImageAIOptions, NicStatus, NicUpscaleInfo, NicVideoOptions, NicVideoReport)
from .context import Context, parse_bit_rate, tqdm_progress
from .errors import LibraryNotFoundError, NicError
from .library import (bundled_model_dir, default_model_dir, library_path, load_library, status_string,
                      version, version_number)

# The enums' members as module-level names, as in C (nic.NIC_ERROR_DIMENSIONS, ...).
globals().update({_name: getattr(_capi, _name) for _name in _capi.ENUM_CONSTANTS})

#: The package's version: nic.h's NIC_VERSION_MAJOR.MINOR.PATCH, as the library's.
__version__ = f"{NIC_VERSION_MAJOR}.{NIC_VERSION_MINOR}.{NIC_VERSION_PATCH}"

__all__ = [
    "NicStatus", "NicLogLevel", "NicPixelFormat", "NicResizeMethod",
    "NicConfig", "NicImage", "NicAIData", "NicUpscaleInfo", "NicVideoOptions", "NicVideoReport", "NicFrameAIData",
    "NicImageAIOptions",
    "NicContextPtr",
    "NicError", "LibraryNotFoundError", "Context",
    "load_library", "library_path", "bundled_model_dir", "default_model_dir",
    "version", "version_number", "status_string", "parse_bit_rate", "tqdm_progress",
    "NIC_VERSION_MAJOR", "NIC_VERSION_MINOR", "NIC_VERSION_PATCH", "NIC_VERSION_NUMBER",
    "NIC_MAX_DIMENSION", "NIC_MAX_PIXELS", "NIC_MAX_LAYERS", "NIC_AIDATA_MAX_BYTES", "__version__",
] + _capi.ENUM_CONSTANTS
