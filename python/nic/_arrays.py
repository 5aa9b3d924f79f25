"""Conversions between Python values (numpy arrays, Pillow images, ints) and the C API's."""

import ctypes
import sys
from typing import Any, Tuple

import numpy as np

from ._capi import NIC_MAX_DIMENSION, NIC_MAX_PIXELS, NicResizeMethod

_METHODS = {"bicubic": NicResizeMethod.NIC_RESIZE_BICUBIC,
            "lanczos": NicResizeMethod.NIC_RESIZE_LANCZOS}

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def method_value(method: Any) -> int:
    """A resize method ("bicubic", "lanczos" or a NicResizeMethod value) as the C int."""
    if isinstance(method, str):
        try:
            return int(_METHODS[method.lower()])
        except KeyError:
            raise ValueError(f"unknown resize method {method!r} "
                             f"(expected one of {sorted(_METHODS)})") from None
    if isinstance(method, (int, np.integer)) and not isinstance(method, bool):
        # Passed through: the library validates the value.
        return c_int_value(method, "method")
    raise TypeError(f"method must be a str or int, not {type(method).__name__}")


def c_int_value(v: Any, what: str) -> int:
    """`v` checked to be an int that fits in a C int (ctypes would truncate it silently)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    v = int(v)
    if not _INT_MIN <= v <= _INT_MAX:
        # ctypes would silently truncate this to 32 bits.
        raise ValueError(f"{what} {v} does not fit in a C int")
    return v


def check_plane(a: Any, what: str, ndim: int) -> None:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} must be a numpy.ndarray, not {type(a).__name__}")
    if a.dtype != np.uint8:
        raise TypeError(f"{what} must have dtype uint8, not {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimensions, not {a.ndim} (shape {a.shape})")


def as_plane(a: np.ndarray, channels: int) -> Tuple[np.ndarray, int]:
    """Returns (array, row_stride) usable as a plane of `channels` interleaved bytes.

    Rows may be any distance apart (numpy slices of wider arrays are passed
    without copying); the bytes within a row must be contiguous, and rows
    must not run backwards or overlap, otherwise the array is copied."""
    h, w = a.shape[0], a.shape[1]
    inner_ok = (a.strides[1] == channels or w <= 1) and (channels == 1 or a.strides[2] == 1)
    row_bytes = w * channels
    rows_ok = h <= 1 or a.strides[0] >= row_bytes
    if not (inner_ok and rows_ok):
        a = np.ascontiguousarray(a)
    stride = a.strides[0] if h > 1 else max(row_bytes, a.strides[0])
    return a, stride


def ptr(a: np.ndarray) -> Any:
    """uint8_t * to the first byte of `a`."""
    return ctypes.cast(ctypes.c_void_p(a.ctypes.data), ctypes.POINTER(ctypes.c_uint8))


def dims_plausible(width: int, height: int) -> bool:
    """Whether nic.h allows an image of this size (else the library fails before touching buffers)."""
    return (0 < width <= NIC_MAX_DIMENSION and 0 < height <= NIC_MAX_DIMENSION
            and width * height <= NIC_MAX_PIXELS)


def is_pillow_image(value: Any) -> bool:
    """True for a PIL.Image.Image; never imports Pillow (an image can only exist once it is imported)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def as_image_array(image: Any) -> Any:
    """A Pillow image as an HxWx3 uint8 RGB array (converted from any mode); anything else unchanged."""
    if is_pillow_image(image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8)
    return image
