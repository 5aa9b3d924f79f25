"""ctypes binding for libnic (include/nic.h).

The shared library is located, in this order, from

  1. the environment variable NIC_LIBRARY (full path to the .so),
  2. ctypes.util.find_library("nic"),
  3. the sonames "libnic.so.0" and "libnic.so" on the normal loader path.

It is loaded on first use; `load_library()` forces that and raises
`LibraryNotFoundError` with an explanation when nothing is found.

Example:

    import numpy as np, nic
    with nic.Context() as ctx:
        big = ctx.resize(np.zeros((100, 200, 3), np.uint8), 400, 200, "lanczos")
"""

import ctypes
import ctypes.util
import enum
import os
import threading

import numpy as np

__all__ = [
    "NicStatus", "NicLogLevel", "NicPixelFormat", "NicResizeMethod",
    "NicConfig", "NicImage", "NicAIData", "NicUpscaleInfo", "NicVideoOptions", "NicVideoReport", "NicFrameAIData",
    "NicError", "LibraryNotFoundError", "Context",
    "load_library", "version", "version_number", "status_string", "parse_bit_rate",
    "NIC_MAX_DIMENSION", "NIC_MAX_PIXELS",
]

# --------------------------------------------------------------------------
# Constants and enums mirrored from nic.h
# --------------------------------------------------------------------------

NIC_VERSION_MAJOR = 0
NIC_VERSION_MINOR = 2
NIC_VERSION_PATCH = 0
NIC_MAX_DIMENSION = 16384
NIC_MAX_PIXELS = 16000 * 16000


def NIC_VERSION_NUMBER(major, minor, patch):
    return (major << 16) | (minor << 8) | patch


class NicStatus(enum.IntEnum):
    NIC_OK = 0
    NIC_ERROR_NULL_POINTER = 1
    NIC_ERROR_STRUCT_SIZE = 2
    NIC_ERROR_INVALID_ARGUMENT = 3
    NIC_ERROR_UNSUPPORTED_FORMAT = 4
    NIC_ERROR_DIMENSIONS = 5
    NIC_ERROR_OUT_OF_MEMORY = 6
    NIC_ERROR_CORRUPT_DATA = 7
    NIC_ERROR_IO = 8
    NIC_ERROR_MODEL = 9
    NIC_ERROR_INTERNAL = 10
    NIC_ERROR_CANCELLED = 11


class NicLogLevel(enum.IntEnum):
    NIC_LOG_ERROR = 0
    NIC_LOG_WARNING = 1
    NIC_LOG_INFO = 2
    NIC_LOG_DEBUG = 3


class NicPixelFormat(enum.IntEnum):
    NIC_PIXEL_FORMAT_YUV420P = 1
    NIC_PIXEL_FORMAT_YUV444P = 2
    NIC_PIXEL_FORMAT_RGB24 = 3
    NIC_PIXEL_FORMAT_GRAY8 = 4


class NicResizeMethod(enum.IntEnum):
    NIC_RESIZE_BICUBIC = 0
    NIC_RESIZE_LANCZOS = 1


# Module-level names as in C (nic.NIC_ERROR_DIMENSIONS, ...).
for _enum in (NicStatus, NicLogLevel, NicPixelFormat, NicResizeMethod):
    for _member in _enum:
        globals()[_member.name] = _member
        __all__.append(_member.name)
del _enum, _member

# --------------------------------------------------------------------------
# C types
# --------------------------------------------------------------------------

# C enums are passed as int (every value fits; the ABI of a C enum with these
# values is that of int on all platforms libnic targets).
_c_enum = ctypes.c_int


class _NicContext(ctypes.Structure):
    """Opaque struct NicContext."""


NicContextPtr = ctypes.POINTER(_NicContext)

# typedef void (*NicLogCallback)(void *user_data, NicLogLevel level, const char *message);
NicLogCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, _c_enum, ctypes.c_char_p)


class NicConfig(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("threads", ctypes.c_int),
        ("model_dir", ctypes.c_char_p),
        ("log_callback", NicLogCallback),
        ("log_user_data", ctypes.c_void_p),
        ("log_level", _c_enum),
        ("generic_ai_fallback", ctypes.c_int),
    ]


NIC_AIDATA_MAX_BYTES = 255


class NicAIData(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("setting_id", ctypes.c_int),
        ("scale_numerator", ctypes.c_int),
        ("scale_denominator", ctypes.c_int),
        ("original_width", ctypes.c_int),
        ("original_height", ctypes.c_int),
        ("downscaled_width", ctypes.c_int),
        ("downscaled_height", ctypes.c_int),
        ("codec", ctypes.c_int),
        ("quality_kind", ctypes.c_int),
        ("quality_value", ctypes.c_int32),
        ("content_type", ctypes.c_int),
        ("flags", ctypes.c_uint32),
    ]

    FIELDS = ("setting_id", "scale_numerator", "scale_denominator", "original_width", "original_height",
              "downscaled_width", "downscaled_height", "codec", "quality_kind", "quality_value",
              "content_type", "flags")

    def to_dict(self):
        return {name: int(getattr(self, name)) for name in self.FIELDS}


class NicUpscaleInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("setting_id", ctypes.c_int),
        ("used_aidata", ctypes.c_int),
        ("fallback_reason", ctypes.c_char_p),
    ]


NIC_AIDATA_ABSENT, NIC_AIDATA_PRESENT, NIC_AIDATA_CORRUPT = 0, 1, 2
_AIDATA_STATUS = {NIC_AIDATA_ABSENT: "absent", NIC_AIDATA_PRESENT: "present", NIC_AIDATA_CORRUPT: "corrupt"}


class NicVideoOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("setting_id", ctypes.c_int),
        ("scale_numerator", ctypes.c_int),
        ("scale_denominator", ctypes.c_int),
        ("encoder", ctypes.c_char_p),
        ("crf", ctypes.c_double),
        ("bit_rate", ctypes.c_int64),
        ("preset", ctypes.c_char_p),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
    ]


class NicProgress(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("frames_done", ctypes.c_int64),
        ("frames_expected", ctypes.c_int64),
        ("elapsed_seconds", ctypes.c_double),
    ]


NicProgressCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(NicProgress))


class NicVideoReport(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("frames", ctypes.c_int64),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("setting_id", ctypes.c_int),
        ("ai_frames", ctypes.c_int64),
        ("seconds", ctypes.c_double),
        ("scaling_seconds", ctypes.c_double),
    ]

    def to_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_ if name != "struct_size"}


class NicFrameAIData(ctypes.Structure):
    _fields_ = [
        ("pts", ctypes.c_int64),
        ("time", ctypes.c_double),
        ("status", _c_enum),
        ("aidata", NicAIData),
    ]


class NicImage(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("format", _c_enum),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("planes", ctypes.POINTER(ctypes.c_uint8) * 3),
        ("strides", ctypes.c_ssize_t * 3),  # ptrdiff_t
    ]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

class NicEncodeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("quality", ctypes.c_int), ("refine_steps", ctypes.c_int)]


class LibraryNotFoundError(OSError):
    """libnic could not be located or loaded."""


_lib = None
_lib_lock = threading.Lock()


def _candidates():
    env = os.environ.get("NIC_LIBRARY")
    if env:
        return [env], True
    names = []
    found = ctypes.util.find_library("nic")
    if found:
        names.append(found)
    names += ["libnic.so.0", "libnic.so"]
    return names, False


def _declare(lib):
    P = ctypes.POINTER
    sigs = {
        "nic_version": (ctypes.c_char_p, []),
        "nic_version_number": (ctypes.c_uint32, []),
        "nic_status_string": (ctypes.c_char_p, [_c_enum]),
        "nic_config_init": (None, [P(NicConfig)]),
        "nic_context_create": (_c_enum, [P(NicConfig), P(NicContextPtr)]),
        "nic_context_destroy": (None, [NicContextPtr]),
        "nic_last_error": (ctypes.c_char_p, [NicContextPtr]),
        "nic_context_threads": (ctypes.c_int, [NicContextPtr]),
        "nic_image_init": (None, [P(NicImage)]),
        "nic_resize": (_c_enum, [NicContextPtr, P(NicImage), P(NicImage), _c_enum]),
        "nic_aidata_init": (None, [P(NicAIData)]),
        "nic_aidata_parse": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_size_t, P(NicAIData)]),
        "nic_aidata_serialize": (_c_enum, [NicContextPtr, P(NicAIData), P(ctypes.c_uint8), ctypes.c_size_t,
                                           P(ctypes.c_size_t)]),
        "nic_downscaled_size": (_c_enum, [NicContextPtr, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                          P(ctypes.c_int), P(ctypes.c_int)]),
        "nic_downscale": (_c_enum, [NicContextPtr, P(NicImage), ctypes.c_int, P(NicImage), P(NicAIData)]),
        "nic_upscale": (_c_enum, [NicContextPtr, P(NicImage), P(NicAIData), P(NicImage)]),
        "nic_last_upscale_info": (_c_enum, [NicContextPtr, P(NicUpscaleInfo)]),
        "nic_upscale_plane": (_c_enum, [NicContextPtr, ctypes.c_int, P(ctypes.c_float), ctypes.c_int, ctypes.c_int,
                                        ctypes.c_ssize_t, P(ctypes.c_float), ctypes.c_int, ctypes.c_int,
                                        ctypes.c_ssize_t]),
        "nic_video_options_init": (None, [P(NicVideoOptions)]),
        "nic_video_ai_encode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicVideoOptions),
                                          P(NicVideoReport)]),
        "nic_video_ai_decode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicVideoOptions),
                                          P(NicVideoReport)]),
        "nic_set_progress": (_c_enum, [NicContextPtr, NicProgressCallback, ctypes.c_void_p]),
        "nic_video_read_aidata": (_c_enum, [NicContextPtr, ctypes.c_char_p, P(P(NicFrameAIData)),
                                            P(ctypes.c_size_t)]),
        "nic_encode_options_init": (None, [P(NicEncodeOptions)]),
        "nic_image_encode": (_c_enum, [NicContextPtr, P(NicImage), P(NicEncodeOptions), P(P(ctypes.c_uint8)),
                                       P(ctypes.c_size_t)]),
        "nic_image_decode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_size_t, P(NicImage)]),
        "nic_image_free": (None, [P(NicImage)]),
        "nic_free": (None, [ctypes.c_void_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)  # AttributeError names a missing symbol
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def load_library():
    """Loads libnic (once) and returns the ctypes.CDLL."""
    global _lib
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
                _lib = _declare(lib)
            except AttributeError as e:
                raise LibraryNotFoundError(f"{name} is not a usable libnic: {e}") from None
            return _lib
        if from_env:
            hint = "NIC_LIBRARY is set but the library cannot be loaded"
        else:
            hint = ("libnic not found: set NIC_LIBRARY to the full path of libnic.so "
                    "(e.g. .build/debug/libNICShared.so) or install libnic")
        raise LibraryNotFoundError(hint + ("\n  " + "\n  ".join(errors) if errors else ""))


def _decode(b):
    return b.decode("utf-8", "replace") if b is not None else ""


def version():
    """Library version string, e.g. "0.2.0"."""
    return _decode(load_library().nic_version())


def version_number():
    """Library version as NIC_VERSION_NUMBER(major, minor, patch)."""
    return int(load_library().nic_version_number())


def status_string(status):
    """Short English description of a status code."""
    return _decode(load_library().nic_status_string(int(status)))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class NicError(Exception):
    """A libnic call failed.

    .status       the status code (a NicStatus member when known, else an int)
    .status_name  nic_status_string(status), e.g. "invalid dimensions"
    .message      nic_last_error() of the context at the time of the failure
    """

    def __init__(self, status, message=""):
        try:
            status = NicStatus(status)
        except ValueError:
            status = int(status)
        self.status = status
        self.status_name = status_string(status)
        self.message = message
        text = f"{self.status_name} ({int(status)})"
        if message:
            text += f": {message}"
        super().__init__(text)


# --------------------------------------------------------------------------
# Context
# --------------------------------------------------------------------------

_METHODS = {"bicubic": NicResizeMethod.NIC_RESIZE_BICUBIC,
            "lanczos": NicResizeMethod.NIC_RESIZE_LANCZOS}

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def _method_value(method):
    if isinstance(method, str):
        try:
            return int(_METHODS[method.lower()])
        except KeyError:
            raise ValueError(f"unknown resize method {method!r} "
                             f"(expected one of {sorted(_METHODS)})") from None
    if isinstance(method, (int, np.integer)) and not isinstance(method, bool):
        # Passed through: the library validates the value.
        return _c_int_value(method, "method")
    raise TypeError(f"method must be a str or int, not {type(method).__name__}")


def _c_int_value(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    v = int(v)
    if not _INT_MIN <= v <= _INT_MAX:
        # ctypes would silently truncate this to 32 bits.
        raise ValueError(f"{what} {v} does not fit in a C int")
    return v


def _check_plane(a, what, ndim):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} must be a numpy.ndarray, not {type(a).__name__}")
    if a.dtype != np.uint8:
        raise TypeError(f"{what} must have dtype uint8, not {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimensions, not {a.ndim} (shape {a.shape})")


def _as_plane(a, channels):
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


def _ptr(a):
    return ctypes.cast(ctypes.c_void_p(a.ctypes.data), ctypes.POINTER(ctypes.c_uint8))


def _dims_plausible(width, height):
    return (0 < width <= NIC_MAX_DIMENSION and 0 < height <= NIC_MAX_DIMENSION
            and width * height <= NIC_MAX_PIXELS)


def parse_bit_rate(value):
    """Bits per second from an int or an FFmpeg-style string: "800k", "2M", "1.5M"."""
    if isinstance(value, int):
        rate = value
    else:
        text = str(value).strip()
        factor = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1)
        digits = text[:-1] if factor != 1 else text
        if not digits or not all(c.isdigit() or c == "." for c in digits):
            raise ValueError(f"bit rate {value!r} is not a number with an optional k, M or G suffix")
        rate = int(round(float(digits) * factor))
    if not 1000 <= rate <= 10**10:
        raise ValueError(f"bit rate {value!r} is outside 1k...10G")
    return rate


class Context:
    """A libnic context (NicContext).

    threads    worker threads; 0 = one per CPU core
    model_dir  folder of models/settings.json, or None for the installed models
    log        optional callable(level: int, message: str); exceptions raised
               by it are swallowed (they cannot cross the C boundary)
    log_level  most verbose NicLogLevel delivered (None = library default)

    Use as a context manager or call close(). One Context must not be used
    from two threads at once; the binding serialises calls with a lock.
    """

    def __init__(self, threads=0, model_dir=None, log=None, log_level=None):
        self._handle = None
        lib = load_library()
        self._lib = lib
        # Re-entrant: a log callback may call back into this context.
        self._lock = threading.RLock()
        self._log = log
        self._callback = None
        cfg = NicConfig()
        lib.nic_config_init(ctypes.byref(cfg))
        cfg.threads = _c_int_value(threads, "threads")
        if model_dir is not None:
            self._model_dir = os.fsencode(model_dir)
            cfg.model_dir = self._model_dir
        if log is not None:
            if not callable(log):
                raise TypeError("log must be callable(level, message)")
            self._callback = NicLogCallback(self._on_log)  # kept alive by self
            cfg.log_callback = self._callback
        if log_level is not None:
            cfg.log_level = _c_int_value(log_level, "log_level")
        handle = NicContextPtr()
        status = lib.nic_context_create(ctypes.byref(cfg), ctypes.byref(handle))
        if status != NIC_OK:
            # No context exists, so nic_last_error() has nothing specific
            # to say; describe the request instead.
            raise NicError(status, f"nic_context_create failed (threads={cfg.threads}, "
                                   f"model_dir={model_dir!r})")
        if not handle:
            raise NicError(NIC_ERROR_INTERNAL, "nic_context_create returned NULL")
        self._handle = handle

    def _on_log(self, _user_data, level, message):
        try:
            self._log(int(level), _decode(message))
        except BaseException:  # noqa: BLE001 - must not propagate into C
            pass

    # -- lifetime ---------------------------------------------------------

    def close(self):
        handle, self._handle = self._handle, None
        if handle:
            with self._lock:
                self._lib.nic_context_destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    @property
    def closed(self):
        return not self._handle

    def _h(self):
        if not self._handle:
            raise ValueError("operation on a closed nic.Context")
        return self._handle

    # -- queries ----------------------------------------------------------

    @property
    def threads(self):
        """Number of worker threads (0 resolved to the CPU count)."""
        with self._lock:
            return int(self._lib.nic_context_threads(self._h()))

    def last_error(self):
        with self._lock:
            return _decode(self._lib.nic_last_error(self._h()))

    def _check(self, status):
        """Must be called with self._lock held, right after the failing call."""
        if status != NIC_OK:
            raise NicError(status, _decode(self._lib.nic_last_error(self._handle)))

    def _call_resize(self, src, dst, method):
        with self._lock:
            status = self._lib.nic_resize(self._h(), ctypes.byref(src), ctypes.byref(dst), method)
            self._check(status)

    def _image(self, fmt, width, height):
        img = NicImage()
        self._lib.nic_image_init(ctypes.byref(img))
        img.format = int(fmt)
        img.width = width
        img.height = height
        return img

    # -- resizing ---------------------------------------------------------

    def resize(self, array, width, height, method="bicubic"):
        """Resizes an HxWx3 (rgb24) or HxW (gray8) uint8 array to height x width.

        Returns a new C-contiguous array of shape (height, width[, 3])."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"array must be a numpy.ndarray, not {type(array).__name__}")
        if array.dtype != np.uint8:
            raise TypeError(f"array must have dtype uint8, not {array.dtype}")
        if array.ndim == 3:
            if array.shape[2] != 3:
                raise ValueError(f"an HxWxC array must have C = 3 (rgb24), got shape {array.shape}")
            fmt, channels = NIC_PIXEL_FORMAT_RGB24, 3
        elif array.ndim == 2:
            fmt, channels = NIC_PIXEL_FORMAT_GRAY8, 1
        else:
            raise ValueError(f"array must be HxWx3 (rgb24) or HxW (gray8), got shape {array.shape}")
        width = _c_int_value(width, "width")
        height = _c_int_value(height, "height")
        method = _method_value(method)
        _c_int_value(array.shape[0], "input height")
        _c_int_value(array.shape[1], "input width")

        src_arr, src_stride = _as_plane(array, channels)
        src = self._image(fmt, array.shape[1], array.shape[0])
        src.planes[0] = _ptr(src_arr)
        src.strides[0] = src_stride

        shape = (height, width, 3) if channels == 3 else (height, width)
        out, out_arr = self._alloc(shape, width, height)
        dst = self._image(fmt, width, height)
        dst.planes[0] = _ptr(out_arr)
        dst.strides[0] = max(width, 0) * channels
        self._call_resize(src, dst, method)
        return out

    def resize_yuv420p(self, y, u, v, width, height, method="bicubic"):
        """Resizes yuv420p planes; y is HxW, u and v ceil(H/2) x ceil(W/2), all uint8.

        Returns new arrays (y, u, v) of shapes (height, width) and
        (ceil(height/2), ceil(width/2))."""
        for a, name in ((y, "y"), (u, "u"), (v, "v")):
            _check_plane(a, name, 2)
        h, w = y.shape
        ch = ((h + 1) // 2, (w + 1) // 2)
        # The library derives the chroma size from the luma size; a smaller
        # array would be read out of bounds, so this is checked here.
        for a, name in ((u, "u"), (v, "v")):
            if a.shape != ch:
                raise ValueError(f"{name} must have shape {ch} for a {h}x{w} luma plane, "
                                 f"got {a.shape}")
        width = _c_int_value(width, "width")
        height = _c_int_value(height, "height")
        method = _method_value(method)
        _c_int_value(h, "input height")
        _c_int_value(w, "input width")

        src = self._image(NIC_PIXEL_FORMAT_YUV420P, w, h)
        keep = []
        for i, a in enumerate((y, u, v)):
            a, stride = _as_plane(a, 1)
            keep.append(a)
            src.planes[i] = _ptr(a)
            src.strides[i] = stride

        cw, chh = (max(width, 0) + 1) // 2, (max(height, 0) + 1) // 2
        outs = []
        dst = self._image(NIC_PIXEL_FORMAT_YUV420P, width, height)
        for i, (pw, ph) in enumerate(((width, height), (cw, chh), (cw, chh))):
            out, out_arr = self._alloc((ph, pw), width, height)
            outs.append(out)
            dst.planes[i] = _ptr(out_arr)
            dst.strides[i] = max(pw, 0)
        self._call_resize(src, dst, method)
        return tuple(outs)

    # -- AI data ----------------------------------------------------------

    def aidata_parse(self, data):
        """Parses serialized AI data (bytes) into a dict of its fields (docs/ai-data.md)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("AI data must be bytes")
        out = NicAIData()
        self._lib.nic_aidata_init(ctypes.byref(out))
        with self._lock:
            self._check(self._lib.nic_aidata_parse(self._h(), bytes(data), len(data), ctypes.byref(out)))
        return out.to_dict()

    def aidata_serialize(self, fields):
        """Serializes a dict of AI data fields (missing fields are 0) into bytes."""
        data = self._aidata(fields)
        buf = (ctypes.c_uint8 * NIC_AIDATA_MAX_BYTES)()
        written = ctypes.c_size_t()
        with self._lock:
            self._check(self._lib.nic_aidata_serialize(self._h(), ctypes.byref(data), buf, len(buf),
                                                       ctypes.byref(written)))
        return bytes(buf[:written.value])

    def _aidata(self, fields):
        data = NicAIData()
        self._lib.nic_aidata_init(ctypes.byref(data))
        unknown = set(fields) - set(NicAIData.FIELDS)
        if unknown:
            raise ValueError(f"unknown AI data fields: {sorted(unknown)}")
        for name, value in fields.items():
            setattr(data, name, _c_int_value(value, name) if name != "flags" else int(value))
        return data

    # -- AI scaling -------------------------------------------------------

    def downscaled_size(self, setting_id, width, height):
        """(width, height) the down network of `setting_id` gives for a width x height input."""
        w, h = ctypes.c_int(), ctypes.c_int()
        with self._lock:
            self._check(self._lib.nic_downscaled_size(self._h(), _c_int_value(setting_id, "setting_id"),
                                                      _c_int_value(width, "width"), _c_int_value(height, "height"),
                                                      ctypes.byref(w), ctypes.byref(h)))
        return w.value, h.value

    def downscale(self, array, setting_id):
        """AI-downscales an HxWx3 or HxW uint8 array; returns (small array, AI data dict)."""
        fmt, channels = self._format_of(array)
        w, h = self.downscaled_size(setting_id, array.shape[1], array.shape[0])
        src, keep = self._plane_image(array, fmt, channels)
        out = np.empty((h, w, 3) if channels == 3 else (h, w), np.uint8)
        dst, _ = self._plane_image(out, fmt, channels)
        aidata = NicAIData()
        self._lib.nic_aidata_init(ctypes.byref(aidata))
        with self._lock:
            self._check(self._lib.nic_downscale(self._h(), ctypes.byref(src), setting_id, ctypes.byref(dst),
                                                ctypes.byref(aidata)))
        del keep
        return out, aidata.to_dict()

    def upscale(self, array, width, height, aidata=None):
        """Upscales an HxWx3 or HxW uint8 array to height x width, driven by `aidata`
        (a dict of fields, serialized bytes, or None). Returns (array, info) where info
        has setting_id, used_aidata and fallback_reason (None when the AI data was used)."""
        fmt, channels = self._format_of(array)
        width = _c_int_value(width, "width")
        height = _c_int_value(height, "height")
        if isinstance(aidata, (bytes, bytearray)):
            aidata = self.aidata_parse(aidata)
        data = self._aidata(aidata) if aidata is not None else None
        src, keep = self._plane_image(array, fmt, channels)
        shape = (height, width, 3) if channels == 3 else (height, width)
        out, out_arr = self._alloc(shape, width, height)
        dst = self._image(fmt, width, height)
        dst.planes[0] = _ptr(out_arr)
        dst.strides[0] = max(width, 0) * channels
        info = NicUpscaleInfo()
        info.struct_size = ctypes.sizeof(NicUpscaleInfo)
        with self._lock:
            self._check(self._lib.nic_upscale(self._h(), ctypes.byref(src),
                                              ctypes.byref(data) if data is not None else None, ctypes.byref(dst)))
            self._check(self._lib.nic_last_upscale_info(self._h(), ctypes.byref(info)))
            reason = _decode(info.fallback_reason) if info.fallback_reason else None
        del keep
        return out, {"setting_id": info.setting_id, "used_aidata": bool(info.used_aidata), "fallback_reason": reason}

    # -- neural image codec ----------------------------------------------

    def image_encode(self, array, quality=75, refine_steps=None):
        """Compresses an HxWx3 uint8 RGB array with the neural codec; returns the .nic bytes.
        refine_steps: encoder refinement passes 0...4 (None: the library's default, 1)."""
        fmt, channels = self._format_of(array)
        if channels != 3:
            raise ValueError("image_encode takes an HxWx3 RGB array")
        options = NicEncodeOptions()
        self._lib.nic_encode_options_init(ctypes.byref(options))
        options.quality = _c_int_value(quality, "quality")
        if refine_steps is not None:
            options.refine_steps = _c_int_value(refine_steps, "refine_steps")
        src, keep = self._plane_image(array, fmt, channels)
        data, size = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_size_t()
        with self._lock:
            self._check(self._lib.nic_image_encode(self._h(), ctypes.byref(src), ctypes.byref(options),
                                                   ctypes.byref(data), ctypes.byref(size)))
        del keep
        try:
            return ctypes.string_at(data, size.value)
        finally:
            self._lib.nic_free(data)

    def image_decode(self, data):
        """Decodes .nic bytes; returns an HxWx3 uint8 RGB array."""
        data = bytes(data)
        image = NicImage()
        self._lib.nic_image_init(ctypes.byref(image))
        with self._lock:
            self._check(self._lib.nic_image_decode(self._h(), data, len(data), ctypes.byref(image)))
        try:
            h, w = image.height, image.width
            flat = np.ctypeslib.as_array(image.planes[0], shape=(h * w * 3,))
            return flat.reshape(h, w, 3).copy()
        finally:
            self._lib.nic_image_free(ctypes.byref(image))

    def upscale_plane(self, setting_id, plane, out_width, out_height):
        """Runs the up network of `setting_id` on an HxW float32 luma plane in [0, 1]; returns
        the out_height x out_width float32 result, unrounded (see nic_upscale_plane)."""
        plane = np.ascontiguousarray(plane, dtype=np.float32)
        if plane.ndim != 2:
            raise ValueError(f"plane must be 2-D, got shape {plane.shape}")
        out_width, out_height = _c_int_value(out_width, "out_width"), _c_int_value(out_height, "out_height")
        out = np.empty((out_height, out_width), np.float32) if _dims_plausible(out_width, out_height) \
            else np.zeros((1, 1), np.float32)
        fp = ctypes.POINTER(ctypes.c_float)
        with self._lock:
            self._check(self._lib.nic_upscale_plane(
                self._h(), _c_int_value(setting_id, "setting_id"), plane.ctypes.data_as(fp), plane.shape[1],
                plane.shape[0], plane.shape[1], out.ctypes.data_as(fp), out_width, out_height, out_width))
        return out

    # ---- video files ----------------------------------------------------

    def _video_options(self, setting_id=None, scale=None, encoder=None, crf=None, bit_rate=None, preset=None,
                       size=None):
        o = NicVideoOptions()
        self._lib.nic_video_options_init(ctypes.byref(o))
        if setting_id is not None:
            o.setting_id = _c_int_value(setting_id, "setting_id")
        if scale is not None and scale != "auto":
            o.scale_numerator, o.scale_denominator = {2: (2, 1), 1.5: (3, 2), 1: (1, 1)}.get(scale, (0, 0))
            if o.scale_numerator == 0:
                raise ValueError("scale must be \"auto\", 1, 1.5 or 2")
        if encoder is not None:
            o.encoder = encoder.encode()
        if crf is not None:
            o.crf = float(crf)
        if bit_rate is not None:
            o.bit_rate = parse_bit_rate(bit_rate)
        if preset is not None:
            o.preset = preset.encode()
        if size is not None:
            o.width, o.height = (_c_int_value(v, "size") for v in size)
        return o

    def _video_job(self, function, in_path, out_path, options, progress=None):
        report = NicVideoReport()
        report.struct_size = ctypes.sizeof(NicVideoReport)
        callback = None
        if progress is not None:
            def call(_, p):
                try:
                    go_on = progress(p.contents.frames_done, p.contents.frames_expected or None,
                                     p.contents.elapsed_seconds)
                except BaseException:   # an exception in the callback cancels the job
                    return 1
                return 1 if go_on is False else 0
            callback = NicProgressCallback(call)
        with self._lock:
            if callback is not None:
                self._check(self._lib.nic_set_progress(self._h(), callback, None))
            try:
                self._check(function(self._h(), os.fsencode(in_path), os.fsencode(out_path), ctypes.byref(options),
                                     ctypes.byref(report)))
            finally:
                if callback is not None:
                    self._lib.nic_set_progress(self._h(), NicProgressCallback(), None)
        return report.to_dict()

    def video_ai_encode(self, in_path, out_path, setting_id=None, scale=None, encoder=None, crf=None, bit_rate=None,
                        preset=None, progress=None):
        """AI-downscales and encodes a video file (AI data as SEI in every frame, other streams
        copied). scale: "auto" or None (chosen by trial encodes), 1 (full resolution, no
        network), 1.5 or 2. bit_rate takes FFmpeg-style strings ("800k", "2M") or bits per second.
        progress(frames_done, frames_expected or None, elapsed_seconds) is called before the
        first frame and after every frame (e.g. a tqdm bar's update); returning False cancels the
        job (NicError with NIC_ERROR_CANCELLED; no output file is left).
        Returns the report: frames, width, height, setting_id, seconds, scaling_seconds."""
        options = self._video_options(setting_id, scale, encoder, crf, bit_rate, preset)
        return self._video_job(self._lib.nic_video_ai_encode, in_path, out_path, options, progress)

    def video_ai_decode(self, in_path, out_path, size=None, encoder=None, crf=None, bit_rate=None, preset=None,
                        progress=None):
        """Decodes a video file, AI-upscales every frame by its AI data and writes out_path
        (MP4/MKV with the other streams copied, or raw frames for .y4m). progress: as for
        video_ai_encode. Returns the report, with ai_frames = frames upscaled by their AI
        data's own setting."""
        options = self._video_options(encoder=encoder, crf=crf, bit_rate=bit_rate, preset=preset, size=size)
        return self._video_job(self._lib.nic_video_ai_decode, in_path, out_path, options, progress)

    def video_frames(self, path):
        """Yields one dict per video frame of `path`, in display order: pts, time, status
        ("absent", "present" or "corrupt") and, when present, aidata (a dict of fields)."""
        frames = ctypes.POINTER(NicFrameAIData)()
        count = ctypes.c_size_t(0)
        with self._lock:
            self._check(self._lib.nic_video_read_aidata(self._h(), os.fsencode(path), ctypes.byref(frames),
                                                        ctypes.byref(count)))
        try:
            listed = [{"pts": frames[i].pts, "time": frames[i].time,
                       "status": _AIDATA_STATUS.get(frames[i].status, "corrupt"),
                       "aidata": frames[i].aidata.to_dict() if frames[i].status == NIC_AIDATA_PRESENT else None}
                      for i in range(count.value)]
        finally:
            self._lib.nic_free(frames)
        yield from listed

    @staticmethod
    def _format_of(array):
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
            raise TypeError("image must be a uint8 numpy array")
        if array.ndim == 3 and array.shape[2] == 3:
            return NIC_PIXEL_FORMAT_RGB24, 3
        if array.ndim == 2:
            return NIC_PIXEL_FORMAT_GRAY8, 1
        raise ValueError(f"image must be HxWx3 (rgb24) or HxW (gray8), got shape {array.shape}")

    def _plane_image(self, array, fmt, channels):
        arr, stride = _as_plane(array, channels)
        img = self._image(fmt, _c_int_value(array.shape[1], "width"), _c_int_value(array.shape[0], "height"))
        img.planes[0] = _ptr(arr)
        img.strides[0] = stride
        return img, arr

    @staticmethod
    def _alloc(shape, width, height):
        """Allocates the output. For sizes nic.h rules out, the library must
        fail with NIC_ERROR_DIMENSIONS before touching the buffer, so a tiny
        placeholder is passed instead of allocating (possibly) gigabytes."""
        if _dims_plausible(width, height):
            out = np.empty(shape, np.uint8)
            return out, out
        return None, np.zeros(16, np.uint8)


# --------------------------------------------------------------------------

if __name__ == "__main__":
    print(f"libnic {version()} (0x{version_number():06x})")
