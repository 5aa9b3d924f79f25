"""The C API of nic.h mirrored for ctypes: constants, enums, structs and function signatures."""

import ctypes
import enum

from ._header import package_version

# The version of nic.h this binding mirrors (nic.h is the version's one source).
NIC_VERSION_MAJOR, NIC_VERSION_MINOR, NIC_VERSION_PATCH = package_version()
NIC_MAX_DIMENSION = 16384
NIC_MAX_PIXELS = 16000 * 16000
NIC_MAX_LAYERS = 8


def NIC_VERSION_NUMBER(major: int, minor: int, patch: int) -> int:
    """The NIC_VERSION_NUMBER macro: (major << 16) | (minor << 8) | patch."""
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
ENUM_CONSTANTS = []
for _enum in (NicStatus, NicLogLevel, NicPixelFormat, NicResizeMethod):
    for _member in _enum:
        globals()[_member.name] = _member
        ENUM_CONSTANTS.append(_member.name)
del _enum, _member

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
        ("precision", _c_enum),
    ]


NIC_PRECISION_AUTO, NIC_PRECISION_FP32, NIC_PRECISION_INT8, NIC_PRECISION_BF16 = 0, 1, 2, 3
PRECISIONS = {"auto": NIC_PRECISION_AUTO, "fp32": NIC_PRECISION_FP32, "bf16": NIC_PRECISION_BF16,
              "int8": NIC_PRECISION_INT8}


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
        ("precision", ctypes.c_int),
    ]


NIC_AIDATA_ABSENT, NIC_AIDATA_PRESENT, NIC_AIDATA_CORRUPT = 0, 1, 2
AIDATA_STATUS = {NIC_AIDATA_ABSENT: "absent", NIC_AIDATA_PRESENT: "present", NIC_AIDATA_CORRUPT: "corrupt"}


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


class NicImageAIOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("setting_id", ctypes.c_int),
        ("scale_numerator", ctypes.c_int),
        ("scale_denominator", ctypes.c_int),
        ("codec", ctypes.c_char_p),
        ("quality", ctypes.c_int),
        ("content_type", ctypes.c_int),
        ("refine_steps", ctypes.c_int),
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
        ("scale_numerator", ctypes.c_int),
        ("scale_denominator", ctypes.c_int),
        ("scale_scenes", ctypes.c_int),
        ("size_changes", ctypes.c_int),
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


class NicEncodeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("quality", ctypes.c_int), ("refine_steps", ctypes.c_int),
                ("effort", ctypes.c_int), ("latent_steps", ctypes.c_int), ("latent_step_size", ctypes.c_float),
                ("dsq_states", ctypes.c_int), ("dsq_lambda", ctypes.c_float), ("substitute_steps", ctypes.c_int),
                ("substitute_step_size", ctypes.c_float), ("substitute_block", ctypes.c_int),
                ("integer_grid", ctypes.c_int)]


class NicLayerSize(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("width", ctypes.c_int), ("height", ctypes.c_int)]


class NicLayerInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("bytes", ctypes.c_size_t), ("whole", ctypes.c_int), ("quality", ctypes.c_int)]


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Sets restype/argtypes of every nic_* function on `lib`; AttributeError names a missing one."""
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
        "nic_upscale_liff": (_c_enum, [NicContextPtr, P(NicImage), P(NicImage)]),
        "nic_last_upscale_info": (_c_enum, [NicContextPtr, P(NicUpscaleInfo)]),
        "nic_setting_precision": (_c_enum, [NicContextPtr, ctypes.c_int, P(_c_enum), P(ctypes.c_char_p)]),
        "nic_upscale_plane": (_c_enum, [NicContextPtr, ctypes.c_int, P(ctypes.c_float), ctypes.c_int, ctypes.c_int,
                                        ctypes.c_ssize_t, P(ctypes.c_float), ctypes.c_int, ctypes.c_int,
                                        ctypes.c_ssize_t]),
        "nic_video_options_init": (None, [P(NicVideoOptions)]),
        "nic_video_ai_encode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicVideoOptions),
                                          P(NicVideoReport)]),
        "nic_video_choose_scale": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicVideoOptions),
                                             P(ctypes.c_int), P(ctypes.c_int)]),
        "nic_image_ai_options_init": (None, [P(NicImageAIOptions)]),
        "nic_image_ai_encode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicImageAIOptions),
                                          P(NicAIData)]),
        "nic_video_ai_decode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_char_p, P(NicVideoOptions),
                                          P(NicVideoReport)]),
        "nic_set_progress": (_c_enum, [NicContextPtr, NicProgressCallback, ctypes.c_void_p]),
        "nic_video_read_aidata": (_c_enum, [NicContextPtr, ctypes.c_char_p, P(P(NicFrameAIData)),
                                            P(ctypes.c_size_t)]),
        "nic_encode_options_init": (None, [P(NicEncodeOptions)]),
        "nic_image_encode": (_c_enum, [NicContextPtr, P(NicImage), P(NicEncodeOptions), P(P(ctypes.c_uint8)),
                                       P(ctypes.c_size_t)]),
        "nic_image_decode": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_size_t, P(NicImage)]),
        "nic_image_encode_layered": (_c_enum, [NicContextPtr, P(NicImage), P(NicEncodeOptions), P(NicLayerSize),
                                               ctypes.c_size_t, P(P(ctypes.c_uint8)), P(ctypes.c_size_t)]),
        "nic_image_decode_layer": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                             P(NicImage)]),
        "nic_image_read_layers": (_c_enum, [NicContextPtr, ctypes.c_char_p, ctypes.c_size_t, P(NicLayerInfo),
                                            ctypes.c_size_t, P(ctypes.c_size_t)]),
        "nic_image_free": (None, [P(NicImage)]),
        "nic_free": (None, [ctypes.c_void_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)  # AttributeError names a missing symbol
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
