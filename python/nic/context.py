"""Context: a libnic context and the jobs run on it (resizing, AI scaling, the neural image
codec, video files)."""

import ctypes
import os
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._arrays import (as_image_array, as_plane, c_int_value, check_plane, dims_plausible, method_value,
                      ptr)
from ._capi import (NIC_AIDATA_MAX_BYTES, NIC_AIDATA_PRESENT, NIC_ERROR_INTERNAL, NIC_MAX_LAYERS, NIC_OK,
                    NIC_PIXEL_FORMAT_GRAY8, NIC_PIXEL_FORMAT_RGB24, NIC_PIXEL_FORMAT_YUV420P, NicAIData,
                    NicConfig, NicContextPtr, NicEncodeOptions, NicFrameAIData, NicImage, NicImageAIOptions,
                    NicLayerInfo, NicLayerSize, NicLogCallback, NicProgressCallback, NicUpscaleInfo, NicVideoOptions, NicVideoReport,
                    AIDATA_STATUS, PRECISIONS)
from .errors import NicError
from .library import default_model_dir, load_library

#: The content types of AI data (NicContentType), by the names `nic ai-encode --content` takes.
CONTENT_TYPES = {"natural": 1, "screen": 2, "animation": 3}
#: The scale factors of the C API as fractions.
_SCALES = {2: (2, 1), 1.5: (3, 2), 1: (1, 1)}

#: An image argument: an HxWx3 (RGB) or HxW (gray) uint8 numpy array, or a Pillow image
#: (converted to RGB).
ImageLike = Any
#: progress(frames_done, frames_expected or None, elapsed_seconds) -> False to cancel.
ProgressCallback = Callable[[int, Optional[int], float], Optional[bool]]


def tqdm_progress(bar: Any) -> ProgressCallback:
    """A progress callback that drives a tqdm bar (or any object with `total`, `n` and
    `refresh()`): the total becomes the frame count once it is known, the position the frames
    done. The job is never cancelled by it; close the bar yourself.

        with tqdm(unit="frame") as bar:
            ctx.video_ai_encode("in.mp4", "out.mp4", progress=nic.tqdm_progress(bar))
    """
    def update(done: int, expected: Optional[int], elapsed: float) -> bool:
        if expected is not None and bar.total != expected:
            bar.total = expected
        bar.n = done
        bar.refresh()
        return True
    return update


def _decode(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b is not None else ""


def parse_bit_rate(value: Union[int, str]) -> int:
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
    model_dir  folder of models/settings.json; None: the models bundled in this package
               (a wheel's nic/_models) unless NIC_MODEL_DIR is set, else the library's
               default (NIC_MODEL_DIR, then the installed models)
    log        optional callable(level: int, message: str); exceptions raised
               by it are swallowed (they cannot cross the C boundary)
    log_level  most verbose NicLogLevel delivered (None = library default)
    precision  "auto" (int8 where the CPU has VNNI and the network int8 ranges, else bf16 where
               the CPU has AVX512_BF16, else fp32), "fp32", "bf16" (fails on a CPU without
               AVX512_BF16) or "int8" (a network without int8 ranges then fails);
               setting_precision() tells what it means for a setting here

    Use as a context manager (``with nic.Context() as ctx: ...``) or call close().
    The binding serialises calls on one Context with a lock.

    Images are HxWx3 (RGB) or HxW (gray) uint8 numpy arrays; where an image is
    expected, a Pillow image is accepted too and converted to RGB. Results are new
    numpy arrays. A failing call raises NicError (status and message).
    """

    #: The model directory passed to the library (None: the library's default).
    model_dir: Optional[str]

    def __init__(self, threads: int = 0, model_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
                 log: Optional[Callable[[int, str], Any]] = None, log_level: Optional[int] = None,
                 precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self._handle = None
        lib = load_library()
        self._lib = lib
        # Re-entrant: a log callback may call back into this context.
        self._lock = threading.RLock()
        self._log = log
        self._callback = None
        cfg = NicConfig()
        lib.nic_config_init(ctypes.byref(cfg))
        cfg.threads = c_int_value(threads, "threads")
        if model_dir is None:
            model_dir = default_model_dir()
        self.model_dir = os.fsdecode(model_dir) if model_dir is not None else None
        if model_dir is not None:
            self._model_dir = os.fsencode(model_dir)
            cfg.model_dir = self._model_dir
        if log is not None:
            if not callable(log):
                raise TypeError("log must be callable(level, message)")
            self._callback = NicLogCallback(self._on_log)  # kept alive by self
            cfg.log_callback = self._callback
        if log_level is not None:
            cfg.log_level = c_int_value(log_level, "log_level")
        cfg.precision = PRECISIONS[precision]
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

    def close(self) -> None:
        """Destroys the context (idempotent); later calls raise ValueError."""
        handle, self._handle = self._handle, None
        if handle:
            with self._lock:
                self._lib.nic_context_destroy(handle)

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    @property
    def closed(self) -> bool:
        return not self._handle

    def _h(self):
        if not self._handle:
            raise ValueError("operation on a closed nic.Context")
        return self._handle

    # -- queries ----------------------------------------------------------

    @property
    def threads(self) -> int:
        """Number of worker threads (0 resolved to the CPU count)."""
        with self._lock:
            return int(self._lib.nic_context_threads(self._h()))

    def last_error(self) -> str:
        """nic_last_error(): the message of the last failed call ("" after a success)."""
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

    def resize(self, array: ImageLike, width: int, height: int,
               method: Union[str, int] = "bicubic") -> np.ndarray:
        """Resizes an HxWx3 (rgb24) or HxW (gray8) uint8 array (or a Pillow image) to
        height x width with "bicubic" or "lanczos".

        Returns a new C-contiguous array of shape (height, width[, 3])."""
        array = as_image_array(array)
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
        width = c_int_value(width, "width")
        height = c_int_value(height, "height")
        method = method_value(method)
        c_int_value(array.shape[0], "input height")
        c_int_value(array.shape[1], "input width")

        src_arr, src_stride = as_plane(array, channels)
        src = self._image(fmt, array.shape[1], array.shape[0])
        src.planes[0] = ptr(src_arr)
        src.strides[0] = src_stride

        out, dst, out_arr = self._output_image(fmt, channels, width, height)
        self._call_resize(src, dst, method)
        return out

    def resize_yuv420p(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, width: int, height: int,
                       method: Union[str, int] = "bicubic") -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Resizes yuv420p planes; y is HxW, u and v ceil(H/2) x ceil(W/2), all uint8.

        Returns new arrays (y, u, v) of shapes (height, width) and
        (ceil(height/2), ceil(width/2))."""
        for a, name in ((y, "y"), (u, "u"), (v, "v")):
            check_plane(a, name, 2)
        h, w = y.shape
        ch = ((h + 1) // 2, (w + 1) // 2)
        # The library derives the chroma size from the luma size; a smaller
        # array would be read out of bounds, so this is checked here.
        for a, name in ((u, "u"), (v, "v")):
            if a.shape != ch:
                raise ValueError(f"{name} must have shape {ch} for a {h}x{w} luma plane, "
                                 f"got {a.shape}")
        width = c_int_value(width, "width")
        height = c_int_value(height, "height")
        method = method_value(method)
        c_int_value(h, "input height")
        c_int_value(w, "input width")

        src = self._image(NIC_PIXEL_FORMAT_YUV420P, w, h)
        keep = []
        for i, a in enumerate((y, u, v)):
            a, stride = as_plane(a, 1)
            keep.append(a)
            src.planes[i] = ptr(a)
            src.strides[i] = stride

        cw, chh = (max(width, 0) + 1) // 2, (max(height, 0) + 1) // 2
        outs = []
        dst = self._image(NIC_PIXEL_FORMAT_YUV420P, width, height)
        for i, (pw, ph) in enumerate(((width, height), (cw, chh), (cw, chh))):
            out, out_arr = self._alloc((ph, pw), width, height)
            outs.append(out)
            dst.planes[i] = ptr(out_arr)
            dst.strides[i] = max(pw, 0)
        self._call_resize(src, dst, method)
        return tuple(outs)

    # -- AI data ----------------------------------------------------------

    def aidata_parse(self, data: bytes) -> Dict[str, int]:
        """Parses serialized AI data (bytes) into a dict of its fields (docs/ai-data.md)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("AI data must be bytes")
        out = NicAIData()
        self._lib.nic_aidata_init(ctypes.byref(out))
        with self._lock:
            self._check(self._lib.nic_aidata_parse(self._h(), bytes(data), len(data), ctypes.byref(out)))
        return out.to_dict()

    def aidata_serialize(self, fields: Dict[str, int]) -> bytes:
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
            setattr(data, name, c_int_value(value, name) if name != "flags" else int(value))
        return data

    # -- AI scaling -------------------------------------------------------

    def downscaled_size(self, setting_id: int, width: int, height: int) -> Tuple[int, int]:
        """(width, height) the down network of `setting_id` gives for a width x height input."""
        w, h = ctypes.c_int(), ctypes.c_int()
        with self._lock:
            self._check(self._lib.nic_downscaled_size(self._h(), c_int_value(setting_id, "setting_id"),
                                                      c_int_value(width, "width"), c_int_value(height, "height"),
                                                      ctypes.byref(w), ctypes.byref(h)))
        return w.value, h.value

    def downscale(self, array: ImageLike, setting_id: int) -> Tuple[np.ndarray, Dict[str, int]]:
        """AI-downscales an HxWx3 or HxW uint8 array (or a Pillow image) with the down network
        of `setting_id`; returns (small array, AI data dict)."""
        array = as_image_array(array)
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

    def upscale(self, array: ImageLike, width: int, height: int,
                aidata: Optional[Union[Dict[str, int], bytes]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Upscales an HxWx3 or HxW uint8 array (or a Pillow image) to height x width, driven
        by `aidata` (a dict of fields, serialized bytes, or None: then the generic AI setting,
        or Lanczos without models). Returns (array, info) where info has setting_id (0: a
        classic filter), used_aidata, fallback_reason (None when the AI data was used) and
        precision ("fp32", "bf16" or "int8": what the up network ran in)."""
        array = as_image_array(array)
        fmt, channels = self._format_of(array)
        width = c_int_value(width, "width")
        height = c_int_value(height, "height")
        if isinstance(aidata, (bytes, bytearray)):
            aidata = self.aidata_parse(aidata)
        data = self._aidata(aidata) if aidata is not None else None
        src, keep = self._plane_image(array, fmt, channels)
        out, dst, out_arr = self._output_image(fmt, channels, width, height)
        info = NicUpscaleInfo()
        info.struct_size = ctypes.sizeof(NicUpscaleInfo)
        with self._lock:
            self._check(self._lib.nic_upscale(self._h(), ctypes.byref(src),
                                              ctypes.byref(data) if data is not None else None, ctypes.byref(dst)))
            self._check(self._lib.nic_last_upscale_info(self._h(), ctypes.byref(info)))
            reason = _decode(info.fallback_reason) if info.fallback_reason else None
        del keep
        precision = next(name for name, value in PRECISIONS.items() if value == info.precision)
        return out, {"setting_id": info.setting_id, "used_aidata": bool(info.used_aidata), "fallback_reason": reason,
                     "precision": precision}

    def upscale_liff(self, array: ImageLike, width: int, height: int) -> np.ndarray:
        """Upscales an HxWx3 or HxW uint8 array (or a Pillow image) to height x width with the
        arbitrary-scale LIFF network: each axis 1 to 4 times the input, the two factors
        independent. No AI data is involved (nic_upscale_liff). A factor outside 1 to 4 or a
        missing LIFF model raises NicError."""
        array = as_image_array(array)
        fmt, channels = self._format_of(array)
        width = c_int_value(width, "width")
        height = c_int_value(height, "height")
        src, keep = self._plane_image(array, fmt, channels)
        out, dst, out_arr = self._output_image(fmt, channels, width, height)
        with self._lock:
            self._check(self._lib.nic_upscale_liff(self._h(), ctypes.byref(src), ctypes.byref(dst)))
        del keep
        return out

    def setting_precision(self, setting_id: int) -> Tuple[str, str]:
        """(precision, reason): what the up network of setting_id runs in on this context,
        "fp32", "bf16" or "int8" (the context's precision resolved for this CPU and network), and why."""
        precision = ctypes.c_int(0)
        reason = ctypes.c_char_p()
        with self._lock:
            self._check(self._lib.nic_setting_precision(self._h(), c_int_value(setting_id, "setting_id"),
                                                        ctypes.byref(precision), ctypes.byref(reason)))
            text = _decode(reason.value) if reason.value else ""
        return next(name for name, value in PRECISIONS.items() if value == precision.value), text

    # -- neural image codec ----------------------------------------------

    def image_encode(self, array: ImageLike, quality: int = 75, refine_steps: Optional[int] = None,
                     effort: Optional[int] = None, latent_steps: Optional[int] = None,
                     latent_step_size: Optional[float] = None, dsq_states: Optional[int] = None,
                     dsq_lambda: Optional[float] = None, substitute_steps: Optional[int] = None,
                     substitute_step_size: Optional[float] = None, substitute_block: Optional[int] = None,
                     integer_grid: Optional[bool] = None,
                     layers: Optional[Sequence[Tuple[int, int]]] = None) -> bytes:
        """Compresses an HxWx3 uint8 RGB array (or a Pillow image) with the neural codec;
        returns the .nic bytes. quality: 1...100; effort: 0 (fast, the default: one refinement
        pass, 8-state dependent quantisation (a version 2 file), consistency and fixed-point
        passes) to 3, higher levels search the latents longer for smaller files; each knob of
        the effort can be
        overridden: refine_steps (refinement passes 0...4), latent_steps (latent optimisation
        steps 0...2000), latent_step_size (its Adam step size), dsq_states (dependent quantisation
        of the latents with 4 or 8 states, 0 for none), dsq_lambda (its weight of bits against
        squared latent error), substitute_steps (substitution of the input 0...2000),
        substitute_step_size (its Adam step size in pixel values of [0, 1]) and substitute_block
        (blocks of that many pixels with a step size from their variance, 0 for one step size);
        integer_grid=True puts the latents on the integer grid, so that re-encoding a decoded
        picture holds steady (a version 2 file; effort 0 does), False on their means.
        None: as the effort says. layers: a layered file (docs/nic-format.md, version 3) of these
        (width, height) sizes, smallest first, the last the array's; image_decode(data, layer)
        then decodes any of them."""
        array = as_image_array(array)
        fmt, channels = self._format_of(array)
        if channels != 3:
            raise ValueError("image_encode takes an HxWx3 RGB array")
        options = NicEncodeOptions()
        self._lib.nic_encode_options_init(ctypes.byref(options))
        options.quality = c_int_value(quality, "quality")
        for name, value in (("refine_steps", refine_steps), ("effort", effort), ("latent_steps", latent_steps),
                            ("dsq_states", dsq_states), ("substitute_steps", substitute_steps),
                            ("substitute_block", substitute_block)):
            if value is not None:
                v = c_int_value(value, name)
                # -1 is the C API's "as the effort says"; here that is None.
                setattr(options, name, v if v != -1 else -2)
        if latent_step_size is not None:
            size = float(latent_step_size)
            # 0 is the C API's "default"; here that is None, and 0 itself is out of range.
            options.latent_step_size = size if size != 0 else -1.0
        if dsq_lambda is not None:
            weight = float(dsq_lambda)
            options.dsq_lambda = weight if weight != 0 else -1.0
        if substitute_step_size is not None:
            step = float(substitute_step_size)
            options.substitute_step_size = step if step != 0 else -1.0
        if integer_grid is not None:
            options.integer_grid = 1 if integer_grid else 0
        sizes = None
        if layers is not None:
            pairs = list(layers)
            if not 1 <= len(pairs) <= NIC_MAX_LAYERS or any(len(p) != 2 for p in pairs):
                raise ValueError(f"layers must list 1...{NIC_MAX_LAYERS} (width, height) sizes")
            sizes = (NicLayerSize * len(pairs))(*[NicLayerSize(ctypes.sizeof(NicLayerSize), c_int_value(w, "layer width"),
                                                               c_int_value(h, "layer height")) for w, h in pairs])
        src, keep = self._plane_image(array, fmt, channels)
        data, size = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_size_t()
        with self._lock:
            if sizes is None:
                status = self._lib.nic_image_encode(self._h(), ctypes.byref(src), ctypes.byref(options),
                                                    ctypes.byref(data), ctypes.byref(size))
            else:
                status = self._lib.nic_image_encode_layered(self._h(), ctypes.byref(src), ctypes.byref(options),
                                                            sizes, len(sizes), ctypes.byref(data), ctypes.byref(size))
            self._check(status)
        del keep
        try:
            return ctypes.string_at(data, size.value)
        finally:
            self._lib.nic_free(data)

    def image_decode(self, data: bytes, layer: Optional[int] = None) -> np.ndarray:
        """Decodes .nic bytes; returns an HxWx3 uint8 RGB array. layer: of a layered file, the
        layer to decode (0 = the smallest; None = the largest); a single-layer file has layer 0."""
        data = bytes(data)
        image = NicImage()
        self._lib.nic_image_init(ctypes.byref(image))
        which = -1 if layer is None else c_int_value(layer, "layer")
        if layer is not None and which < 0:
            raise ValueError("layer must be 0 or more (None for the largest)")
        with self._lock:
            self._check(self._lib.nic_image_decode_layer(self._h(), data, len(data), which, ctypes.byref(image)))
        try:
            h, w = image.height, image.width
            flat = np.ctypeslib.as_array(image.planes[0], shape=(h * w * 3,))
            return flat.reshape(h, w, 3).copy()
        finally:
            self._lib.nic_image_free(ctypes.byref(image))

    def image_layers(self, data: bytes) -> List[Dict[str, int]]:
        """The layers of .nic bytes, smallest first (one for a single-layer file), from the
        headers without decoding: width, height, bytes (as declared), whole (0 when the bytes
        were cut short before the layer's end) and quality (0 when not whole)."""
        data = bytes(data)
        layers, count = (NicLayerInfo * NIC_MAX_LAYERS)(), ctypes.c_size_t()
        for layer in layers:
            layer.struct_size = ctypes.sizeof(NicLayerInfo)
        with self._lock:
            self._check(self._lib.nic_image_read_layers(self._h(), data, len(data), layers, NIC_MAX_LAYERS,
                                                        ctypes.byref(count)))
        return [{name: getattr(layers[i], name) for name, _ in NicLayerInfo._fields_ if name != "struct_size"}
                for i in range(count.value)]

    def upscale_plane(self, setting_id: int, plane: np.ndarray, out_width: int, out_height: int) -> np.ndarray:
        """Runs the up network of `setting_id` on an HxW float32 luma plane in [0, 1]; returns
        the out_height x out_width float32 result, unrounded (see nic_upscale_plane)."""
        plane = np.ascontiguousarray(plane, dtype=np.float32)
        if plane.ndim != 2:
            raise ValueError(f"plane must be 2-D, got shape {plane.shape}")
        out_width, out_height = c_int_value(out_width, "out_width"), c_int_value(out_height, "out_height")
        out = np.empty((out_height, out_width), np.float32) if dims_plausible(out_width, out_height) \
            else np.zeros((1, 1), np.float32)
        fp = ctypes.POINTER(ctypes.c_float)
        with self._lock:
            self._check(self._lib.nic_upscale_plane(
                self._h(), c_int_value(setting_id, "setting_id"), plane.ctypes.data_as(fp), plane.shape[1],
                plane.shape[0], plane.shape[1], out.ctypes.data_as(fp), out_width, out_height, out_width))
        return out

    # ---- image files ----------------------------------------------------

    def image_ai_encode(self, in_path: Union[str, "os.PathLike[str]"], out_path: Union[str, "os.PathLike[str]"],
                        setting_id: Optional[int] = None, scale: Optional[Union[float, str]] = None,
                        codec: Optional[str] = None, quality: Optional[int] = None,
                        content: Optional[str] = None, refine_steps: int = 0) -> Dict[str, int]:
        """AI-downscales an image file and writes out_path (JPEG, WebP or PNG) with the AI data in
        its metadata, as `nic ai-encode` does for an image; the file appears complete or not at
        all. scale: None or "auto" (chosen from quality and resolution), 2 or 1.5; codec: "jpeg",
        "webp" or "png" (None: from out_path's extension); quality: 1...100 for JPEG/WebP;
        content: "natural", "screen" or "animation"; refine_steps: JPEG refinement steps.
        Returns the AI data written (a dict of fields)."""
        o = NicImageAIOptions()
        self._lib.nic_image_ai_options_init(ctypes.byref(o))
        if setting_id is not None:
            o.setting_id = c_int_value(setting_id, "setting_id")
        if scale is not None and scale != "auto":
            if scale not in (2, 1.5):
                raise ValueError("an image's scale must be \"auto\", 2 or 1.5")
            o.scale_numerator, o.scale_denominator = _SCALES[scale]
        if codec is not None:
            o.codec = codec.encode()
        if quality is not None:
            o.quality = c_int_value(quality, "quality")
        if content is not None:
            if content not in CONTENT_TYPES:
                raise ValueError(f"content must be one of {', '.join(CONTENT_TYPES)}, not {content!r}")
            o.content_type = CONTENT_TYPES[content]
        o.refine_steps = c_int_value(refine_steps, "refine_steps")
        aidata = NicAIData()
        self._lib.nic_aidata_init(ctypes.byref(aidata))
        with self._lock:
            self._check(self._lib.nic_image_ai_encode(self._h(), os.fsencode(in_path), os.fsencode(out_path),
                                                      ctypes.byref(o), ctypes.byref(aidata)))
        return aidata.to_dict()

    # ---- video files ----------------------------------------------------

    def _video_options(self, setting_id=None, scale=None, encoder=None, crf=None, bit_rate=None, preset=None,
                       size=None):
        o = NicVideoOptions()
        self._lib.nic_video_options_init(ctypes.byref(o))
        if setting_id is not None:
            o.setting_id = c_int_value(setting_id, "setting_id")
        if scale is not None and scale != "auto":
            o.scale_numerator, o.scale_denominator = _SCALES.get(scale, (0, 0))
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
            o.width, o.height = (c_int_value(v, "size") for v in size)
        return o

    @staticmethod
    def _progress_callback(progress):
        """The C callback calling progress(frames_done, frames_expected or None, elapsed), or None."""
        if progress is None:
            return None

        def call(_, p):
            try:
                go_on = progress(p.contents.frames_done, p.contents.frames_expected or None,
                                 p.contents.elapsed_seconds)
            except BaseException:   # an exception in the callback cancels the job
                return 1
            return 1 if go_on is False else 0
        return NicProgressCallback(call)

    def _video_job(self, function, in_path, out_path, options, progress=None):
        report = NicVideoReport()
        report.struct_size = ctypes.sizeof(NicVideoReport)
        callback = self._progress_callback(progress)
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

    def video_ai_encode(self, in_path: Union[str, "os.PathLike[str]"], out_path: Union[str, "os.PathLike[str]"],
                        setting_id: Optional[int] = None, scale: Optional[Union[float, str]] = None,
                        encoder: Optional[str] = None, crf: Optional[float] = None,
                        bit_rate: Optional[Union[int, str]] = None, preset: Optional[str] = None,
                        progress: Optional[ProgressCallback] = None) -> Dict[str, Any]:
        """AI-downscales and encodes a video file (AI data as SEI in every frame, other streams
        copied). scale: "auto" or None (chosen by trial encodes), 1 (full resolution, no
        network), 1.5 or 2. bit_rate takes FFmpeg-style strings ("800k", "2M") or bits per second.
        progress(frames_done, frames_expected or None, elapsed_seconds) is called before the
        first frame and after every frame (e.g. a tqdm bar's update); returning False cancels the
        job (NicError with NIC_ERROR_CANCELLED; no output file is left).
        Returns the report: frames, width, height, setting_id, seconds, scaling_seconds,
        scale_numerator / scale_denominator (the first frame's scale), scale_scenes (scenes given a
        scale of their own by scale "auto"; 0 for a fixed scale) and size_changes."""
        options = self._video_options(setting_id, scale, encoder, crf, bit_rate, preset)
        return self._video_job(self._lib.nic_video_ai_encode, in_path, out_path, options, progress)

    def video_choose_scale(self, in_path: Union[str, "os.PathLike[str]"], out_path: Union[str, "os.PathLike[str]"],
                           setting_id: Optional[int] = None, scale: Optional[Union[float, str]] = None,
                           encoder: Optional[str] = None, crf: Optional[float] = None,
                           bit_rate: Optional[Union[int, str]] = None, preset: Optional[str] = None,
                           progress: Optional[ProgressCallback] = None) -> float:
        """The scale (1, 1.5 or 2) video_ai_encode() with these arguments would give the whole
        stream of in_path, without encoding it: the setting's or the given scale, else the
        trial encodes' choice (their files go to a hidden folder beside out_path, whose
        extension names the container). Coding a stream in pieces at this scale gives every
        piece the coded size of the whole-stream encode."""
        options = self._video_options(setting_id, scale, encoder, crf, bit_rate, preset)
        numerator, denominator = ctypes.c_int(), ctypes.c_int()
        callback = self._progress_callback(progress)
        with self._lock:
            if callback is not None:
                self._check(self._lib.nic_set_progress(self._h(), callback, None))
            try:
                self._check(self._lib.nic_video_choose_scale(
                    self._h(), os.fsencode(in_path), os.fsencode(out_path), ctypes.byref(options),
                    ctypes.byref(numerator), ctypes.byref(denominator)))
            finally:
                if callback is not None:
                    self._lib.nic_set_progress(self._h(), NicProgressCallback(), None)
        scale_value = numerator.value / denominator.value
        return int(scale_value) if scale_value == int(scale_value) else scale_value

    def video_ai_decode(self, in_path: Union[str, "os.PathLike[str]"], out_path: Union[str, "os.PathLike[str]"],
                        size: Optional[Tuple[int, int]] = None, encoder: Optional[str] = None,
                        crf: Optional[float] = None, bit_rate: Optional[Union[int, str]] = None,
                        preset: Optional[str] = None, progress: Optional[ProgressCallback] = None) -> Dict[str, Any]:
        """Decodes a video file, AI-upscales every frame by its AI data and writes out_path
        (MP4/MKV with the other streams copied, or raw frames for .y4m). progress: as for
        video_ai_encode. Returns the report, with ai_frames = frames upscaled by their AI
        data's own setting."""
        options = self._video_options(encoder=encoder, crf=crf, bit_rate=bit_rate, preset=preset, size=size)
        return self._video_job(self._lib.nic_video_ai_decode, in_path, out_path, options, progress)

    def video_frames(self, path: Union[str, "os.PathLike[str]"]) -> Iterator[Dict[str, Any]]:
        """Yields one dict per video frame of `path`, in display order: pts, time, status
        ("absent", "present" or "corrupt") and, when present, aidata (a dict of fields)."""
        frames = ctypes.POINTER(NicFrameAIData)()
        count = ctypes.c_size_t(0)
        with self._lock:
            self._check(self._lib.nic_video_read_aidata(self._h(), os.fsencode(path), ctypes.byref(frames),
                                                        ctypes.byref(count)))
        try:
            listed = [{"pts": frames[i].pts, "time": frames[i].time,
                       "status": AIDATA_STATUS.get(frames[i].status, "corrupt"),
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
        arr, stride = as_plane(array, channels)
        img = self._image(fmt, c_int_value(array.shape[1], "width"), c_int_value(array.shape[0], "height"))
        img.planes[0] = ptr(arr)
        img.strides[0] = stride
        return img, arr

    def _output_image(self, fmt, channels, width, height):
        """(array, NicImage describing it, the buffer to keep alive during the call) for a
        one-plane rgb24/gray8 output of width x height (see _alloc for sizes nic.h rules out)."""
        shape = (height, width, 3) if channels == 3 else (height, width)
        out, out_arr = self._alloc(shape, width, height)
        dst = self._image(fmt, width, height)
        dst.planes[0] = ptr(out_arr)
        dst.strides[0] = max(width, 0) * channels
        return out, dst, out_arr

    @staticmethod
    def _alloc(shape, width, height):
        """Allocates the output. For sizes nic.h rules out, the library must
        fail with NIC_ERROR_DIMENSIONS before touching the buffer, so a tiny
        placeholder is passed instead of allocating (possibly) gigabytes."""
        if dims_plausible(width, height):
            out = np.empty(shape, np.uint8)
            return out, out
        return None, np.zeros(16, np.uint8)
