"""Tests of libnic through the Python package (python/nic).

`make test-python` runs them against the installed wheel. Against another build,
with the package importable (pip install ./python, or PYTHONPATH=python):

    NIC_LIBRARY=/path/to/libnic.so.0 python3 -m pytest Tests/python

Without a loadable library every test fails (on purpose: the test command
always provides one, so a missing library is a real failure, not a skip).
"""

import ctypes
import os
import re
import threading

import numpy as np
import pytest

import nic


@pytest.fixture(autouse=True, scope="session")
def lib():
    try:
        return nic.load_library()
    except nic.LibraryNotFoundError as e:
        pytest.fail(f"libnic could not be loaded; set NIC_LIBRARY to the built "
                    f"libnic.so.\n{e}", pytrace=False)


@pytest.fixture
def ctx():
    with nic.Context(threads=2) as c:
        yield c


METHODS = ["bicubic", "lanczos"]


def gradient(h, w, fx=2.0, fy=1.5, base=20.0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return base + fx * x + fy * y


def block_average(a):
    a = a.astype(np.float64)
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4


# --------------------------------------------------------------------------
# Version and status strings
# --------------------------------------------------------------------------

def test_version_string():
    v = nic.version()
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]+)?", v)
    assert m, f"version {v!r} is not like 0.1.0"
    major, minor, patch = map(int, m.groups())
    assert nic.version_number() == nic.NIC_VERSION_NUMBER(major, minor, patch)
    # nic.h's macros are the one source of the version.
    header = open(os.path.join(os.path.dirname(__file__), "..", "..", "include", "nic.h")).read()
    macros = {k: int(v) for k, v in re.findall(r"#define NIC_VERSION_(MAJOR|MINOR|PATCH) (\d+)", header)}
    assert (major, minor, patch) == (macros["MAJOR"], macros["MINOR"], macros["PATCH"])
    assert (nic.NIC_VERSION_MAJOR, nic.NIC_VERSION_MINOR) == (macros["MAJOR"], macros["MINOR"])
    # The package carries the same version (read from nic.h when it was built).
    assert nic.NIC_VERSION_PATCH == macros["PATCH"]
    assert nic.__version__ == "%d.%d.%d" % (macros["MAJOR"], macros["MINOR"], macros["PATCH"])


def test_version_matches_header():
    # The binding mirrors nic.h (same macros); the library must be ABI compatible.
    n = nic.version_number()
    assert n >> 16 == nic.NIC_VERSION_MAJOR
    assert (n >> 8) & 0xFF == nic.NIC_VERSION_MINOR


def test_status_strings():
    seen = set()
    for status in nic.NicStatus:
        s = nic.status_string(status)
        assert isinstance(s, str) and s, status
        assert s != "unknown status", status
        seen.add(s)
    assert len(seen) == len(nic.NicStatus), "status strings must be distinct"
    assert nic.status_string(9999) == "unknown status"
    assert nic.status_string(-1) == "unknown status"


def test_status_string_examples():
    assert "corrupt" in nic.status_string(nic.NIC_ERROR_CORRUPT_DATA).lower()


# --------------------------------------------------------------------------
# Structs and contexts
# --------------------------------------------------------------------------

def test_config_init_defaults(lib):
    cfg = nic.NicConfig()
    ctypes.memset(ctypes.byref(cfg), 0xAB, ctypes.sizeof(cfg))
    lib.nic_config_init(ctypes.byref(cfg))
    assert cfg.struct_size == ctypes.sizeof(nic.NicConfig)
    assert cfg.threads == 0
    assert cfg.model_dir is None
    assert not cfg.log_callback
    assert cfg.log_level == nic.NIC_LOG_WARNING


def test_image_init(lib):
    img = nic.NicImage()
    ctypes.memset(ctypes.byref(img), 0xAB, ctypes.sizeof(img))
    lib.nic_image_init(ctypes.byref(img))
    assert img.struct_size == ctypes.sizeof(nic.NicImage)
    assert img.width == 0 and img.height == 0
    assert all(not p for p in img.planes)
    assert list(img.strides) == [0, 0, 0]


def test_context_create_destroy():
    c = nic.Context()
    assert not c.closed
    assert c.threads >= 1
    assert c.last_error() == ""
    c.close()
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(ValueError):
        _ = c.threads


def test_context_threads():
    with nic.Context(threads=1) as c:
        assert c.threads == 1
    for n in (2, 3):
        with nic.Context(threads=n) as c:
            assert 1 <= c.threads <= n


def test_context_negative_threads():
    with pytest.raises(nic.NicError) as e:
        nic.Context(threads=-1)
    assert e.value.status == nic.NIC_ERROR_INVALID_ARGUMENT


def test_context_default_config_and_null(lib):
    handle = nic.NicContextPtr()
    assert lib.nic_context_create(None, ctypes.byref(handle)) == nic.NIC_OK
    assert handle
    lib.nic_context_destroy(handle)
    lib.nic_context_destroy(None)  # NULL is allowed
    msg = lib.nic_last_error(None)
    assert msg is not None  # a static message


def test_context_create_null_out(lib):
    cfg = nic.NicConfig()
    lib.nic_config_init(ctypes.byref(cfg))
    assert lib.nic_context_create(ctypes.byref(cfg), None) == nic.NIC_ERROR_NULL_POINTER


def test_context_create_struct_size_too_small(lib):
    cfg = nic.NicConfig()
    lib.nic_config_init(ctypes.byref(cfg))
    cfg.struct_size = 4
    handle = nic.NicContextPtr()
    status = lib.nic_context_create(ctypes.byref(cfg), ctypes.byref(handle))
    assert status == nic.NIC_ERROR_STRUCT_SIZE
    assert not handle  # *out is set to NULL on failure


def test_many_contexts():
    ctxs = [nic.Context(threads=1) for _ in range(8)]
    for c in ctxs:
        c.close()


# --------------------------------------------------------------------------
# Resizing: values
# --------------------------------------------------------------------------

SIZES = [((17, 13), (40, 31)), ((40, 31), (15, 11)), ((16, 16), (8, 8)), ((9, 7), (9, 7))]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("src,dst", SIZES)
def test_constant_rgb_stays_constant(ctx, method, src, dst):
    (w, h), (ow, oh) = src, dst
    a = np.empty((h, w, 3), np.uint8)
    a[...] = (0, 137, 255)
    out = ctx.resize(a, ow, oh, method)
    assert out.shape == (oh, ow, 3) and out.dtype == np.uint8
    assert (out == np.array([0, 137, 255], np.uint8)).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("src,dst", SIZES)
@pytest.mark.parametrize("value", [0, 77, 255])
def test_constant_gray_stays_constant(ctx, method, src, dst, value):
    (w, h), (ow, oh) = src, dst
    out = ctx.resize(np.full((h, w), value, np.uint8), ow, oh, method)
    assert out.shape == (oh, ow)
    assert (out == value).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("src,dst", SIZES + [((17, 13), (8, 5)), ((5, 3), (6, 4))])
def test_constant_yuv420p_stays_constant(ctx, method, src, dst):
    (w, h), (ow, oh) = src, dst
    cw, ch = (w + 1) // 2, (h + 1) // 2
    y = np.full((h, w), 16, np.uint8)
    u = np.full((ch, cw), 128, np.uint8)
    v = np.full((ch, cw), 235, np.uint8)
    oy, ou, ov = ctx.resize_yuv420p(y, u, v, ow, oh, method)
    assert oy.shape == (oh, ow)
    assert ou.shape == ((oh + 1) // 2, (ow + 1) // 2) == ov.shape
    assert (oy == 16).all() and (ou == 128).all() and (ov == 235).all()


@pytest.mark.parametrize("method", METHODS)
def test_same_size_is_identity(ctx, method):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    assert np.array_equal(ctx.resize(a, 17, 13, method), a)


@pytest.mark.parametrize("method", METHODS)
def test_downscale_gradient_gray(ctx, method):
    a = np.round(gradient(48, 64)).astype(np.uint8)
    out = ctx.resize(a, 32, 24, method)
    err = np.abs(out.astype(np.float64) - block_average(a)).mean()
    assert err < 2.0, f"mean abs difference {err:.3f} from the 2x2 block average"


@pytest.mark.parametrize("method", METHODS)
def test_downscale_gradient_rgb(ctx, method):
    a = np.stack([gradient(48, 64, 2.0, 1.5, 20), gradient(48, 64, -1.0, 2.0, 120),
                  gradient(48, 64, 1.0, -1.0, 150)], axis=2)
    a = np.round(a).clip(0, 255).astype(np.uint8)
    out = ctx.resize(a, 32, 24, method)
    for c in range(3):
        err = np.abs(out[..., c].astype(np.float64) - block_average(a[..., c])).mean()
        assert err < 2.0, f"channel {c}: mean abs difference {err:.3f}"


@pytest.mark.parametrize("method", METHODS)
def test_downscale_gradient_yuv420p(ctx, method):
    y = np.round(gradient(48, 64)).astype(np.uint8)
    u = np.round(gradient(24, 32, 1.5, 1.0, 90)).astype(np.uint8)
    v = np.round(gradient(24, 32, -1.0, 1.5, 160)).astype(np.uint8)
    oy, ou, ov = ctx.resize_yuv420p(y, u, v, 32, 24, method)
    for src, out in ((y, oy), (u, ou), (v, ov)):
        err = np.abs(out.astype(np.float64) - block_average(src)).mean()
        assert err < 2.0, f"mean abs difference {err:.3f}"


@pytest.mark.parametrize("method", METHODS)
def test_upscale_gradient_is_smooth(ctx, method):
    a = np.round(gradient(12, 16, 4, 3)).astype(np.uint8)
    out = ctx.resize(a, 32, 24, method).astype(np.float64)
    # Away from the borders a linear ramp stays a linear ramp.
    inner = out[4:-4, 4:-4]
    assert np.abs(np.diff(inner, 2, axis=1)).max() <= 2
    assert np.abs(np.diff(inner, 2, axis=0)).max() <= 2


def test_methods_differ(ctx):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    assert not np.array_equal(ctx.resize(a, 37, 37, "bicubic"), ctx.resize(a, 37, 37, "lanczos"))


def test_deterministic_and_thread_count_independent():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    results = []
    for threads in (1, 2, 4):
        with nic.Context(threads=threads) as c:
            for method in METHODS:
                results.append((method, c.resize(a, 250, 170, method), c.resize(a, 50, 33, method)))
    for method in METHODS:
        ours = [r for r in results if r[0] == method]
        for r in ours[1:]:
            assert np.array_equal(r[1], ours[0][1]) and np.array_equal(r[2], ours[0][2])


def test_distinct_contexts_in_parallel_threads():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    with nic.Context(threads=1) as c:
        expected = c.resize(a, 123, 91, "lanczos")
    results, errors = [None] * 4, []

    def work(i):
        try:
            with nic.Context(threads=1) as c:
                for _ in range(5):
                    results[i] = c.resize(a, 123, 91, "lanczos")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for r in results:
        assert np.array_equal(r, expected)


# --------------------------------------------------------------------------
# Strided inputs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_strided_rgb_equals_contiguous(ctx, method):
    rng = np.random.default_rng(5)
    wide = rng.integers(0, 256, (21, 40, 3), dtype=np.uint8)
    a = wide[:, 5:5 + 23]
    assert a.strides[0] > a.shape[1] * 3 and not a.flags.c_contiguous
    for ow, oh in ((46, 42), (11, 10)):
        assert np.array_equal(ctx.resize(a, ow, oh, method),
                              ctx.resize(np.ascontiguousarray(a), ow, oh, method))


@pytest.mark.parametrize("method", METHODS)
def test_strided_gray_equals_contiguous(ctx, method):
    rng = np.random.default_rng(6)
    wide = rng.integers(0, 256, (21, 64), dtype=np.uint8)
    a = wide[:, 3:3 + 29]
    assert a.strides[0] > a.shape[1]
    assert np.array_equal(ctx.resize(a, 15, 33, method),
                          ctx.resize(np.ascontiguousarray(a), 15, 33, method))


def test_strided_yuv420p_equals_contiguous(ctx):
    rng = np.random.default_rng(7)
    y = rng.integers(0, 256, (15, 40), dtype=np.uint8)[:, :21]
    u = rng.integers(0, 256, (8, 20), dtype=np.uint8)[:, 2:13]
    v = rng.integers(0, 256, (8, 20), dtype=np.uint8)[:, 4:15]
    got = ctx.resize_yuv420p(y, u, v, 30, 20, "bicubic")
    want = ctx.resize_yuv420p(*(np.ascontiguousarray(p) for p in (y, u, v)), 30, 20, "bicubic")
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_non_contiguous_last_axis_is_copied(ctx):
    rng = np.random.default_rng(8)
    planar = rng.integers(0, 256, (3, 12, 16), dtype=np.uint8)
    a = planar.transpose(1, 2, 0)  # channels not adjacent
    assert np.array_equal(ctx.resize(a, 20, 10), ctx.resize(np.ascontiguousarray(a), 20, 10))
    b = rng.integers(0, 256, (12, 32), dtype=np.uint8)[:, ::2]  # every other column
    assert np.array_equal(ctx.resize(b, 20, 10), ctx.resize(np.ascontiguousarray(b), 20, 10))
    c = rng.integers(0, 256, (12, 16), dtype=np.uint8)[::-1]  # rows backwards
    assert np.array_equal(ctx.resize(c, 20, 10), ctx.resize(np.ascontiguousarray(c), 20, 10))


def test_input_not_modified(ctx):
    rng = np.random.default_rng(9)
    a = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    before = a.copy()
    ctx.resize(a, 30, 25, "lanczos")
    assert np.array_equal(a, before)


def test_read_only_input(ctx):
    a = np.full((8, 8), 9, np.uint8)
    a.setflags(write=False)
    assert (ctx.resize(a, 4, 4) == 9).all()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def _mentions(msg, *words):
    low = msg.lower()
    return any(w in low for w in words)


def test_width_zero_is_dimensions_error(ctx):
    a = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(nic.NicError) as e:
        ctx.resize(a, 0, 8)
    err = e.value
    assert err.status == nic.NIC_ERROR_DIMENSIONS
    assert isinstance(err.status, int)
    assert err.status_name == nic.status_string(nic.NIC_ERROR_DIMENSIONS)
    assert err.message, "nic_last_error must describe the failure"
    assert _mentions(err.message, "width", "dimension", "size", "0x8", "0 x 8"), err.message
    # The message is also what the context reports until the next call.
    assert ctx.last_error() == err.message
    assert err.message in str(err)


def test_height_zero_and_negative_are_dimensions_errors(ctx):
    a = np.zeros((8, 8), np.uint8)
    for w, h in ((8, 0), (-3, 8), (8, -1)):
        with pytest.raises(nic.NicError) as e:
            ctx.resize(a, w, h)
        assert e.value.status == nic.NIC_ERROR_DIMENSIONS, (w, h)


def test_too_large_is_dimensions_error(ctx):
    a = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(nic.NicError) as e:
        ctx.resize(a, 20000, 10)
    assert e.value.status == nic.NIC_ERROR_DIMENSIONS
    assert e.value.message
    assert _mentions(e.value.message, "20000", "16384", "width", "dimension", "large", "size"), \
        e.value.message
    with pytest.raises(nic.NicError) as e:
        ctx.resize(a, 10, 16385)
    assert e.value.status == nic.NIC_ERROR_DIMENSIONS


def test_max_dimension_edge_is_accepted(ctx):
    a = np.full((2, 2), 50, np.uint8)
    out = ctx.resize(a, nic.NIC_MAX_DIMENSION, 1)
    assert out.shape == (1, nic.NIC_MAX_DIMENSION) and (out == 50).all()


def test_empty_input_is_dimensions_error(ctx):
    with pytest.raises(nic.NicError) as e:
        ctx.resize(np.zeros((0, 8, 3), np.uint8), 4, 4)
    assert e.value.status == nic.NIC_ERROR_DIMENSIONS


def test_success_clears_last_error(ctx):
    a = np.zeros((8, 8), np.uint8)
    with pytest.raises(nic.NicError):
        ctx.resize(a, 0, 8)
    assert ctx.last_error() != ""
    ctx.resize(a, 4, 4)
    assert ctx.last_error() == ""


def test_wrong_dtype_rejected_in_python(ctx):
    for bad in (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint16),
                np.zeros((8, 8), np.int8)):
        with pytest.raises((TypeError, ValueError)):
            ctx.resize(bad, 4, 4)


def test_wrong_shape_rejected_in_python(ctx):
    for bad in (np.zeros((8, 8, 4), np.uint8), np.zeros((8,), np.uint8),
                np.zeros((2, 8, 8, 3), np.uint8)):
        with pytest.raises(ValueError):
            ctx.resize(bad, 4, 4)
    with pytest.raises(TypeError):
        ctx.resize([[1, 2], [3, 4]], 4, 4)
    with pytest.raises((TypeError, ValueError)):
        ctx.resize(np.zeros((8, 8), np.uint8), 4.5, 4)
    with pytest.raises(ValueError):
        ctx.resize(np.zeros((8, 8), np.uint8), 2 ** 40, 4)


def test_yuv420p_chroma_shape_checked_in_python(ctx):
    y = np.zeros((9, 11), np.uint8)
    ok = np.zeros((5, 6), np.uint8)
    with pytest.raises(ValueError):
        ctx.resize_yuv420p(y, np.zeros((4, 6), np.uint8), ok, 8, 8)
    with pytest.raises((TypeError, ValueError)):
        ctx.resize_yuv420p(y, ok, ok.astype(np.float32), 8, 8)


def test_unknown_method(ctx):
    a = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError):
        ctx.resize(a, 4, 4, "nearest")
    with pytest.raises(nic.NicError) as e:
        ctx.resize(a, 4, 4, 7)
    assert e.value.status == nic.NIC_ERROR_INVALID_ARGUMENT
    assert e.value.message


def _raw_images(lib, a, out):
    src, dst = nic.NicImage(), nic.NicImage()
    lib.nic_image_init(ctypes.byref(src))
    lib.nic_image_init(ctypes.byref(dst))
    for img, arr in ((src, a), (dst, out)):
        img.format = nic.NIC_PIXEL_FORMAT_GRAY8
        img.height, img.width = arr.shape
        img.planes[0] = ctypes.cast(arr.ctypes.data, ctypes.POINTER(ctypes.c_uint8))
        img.strides[0] = arr.strides[0]
    return src, dst


def test_raw_resize_errors(lib, ctx):
    a = np.zeros((8, 8), np.uint8)
    out = np.zeros((4, 4), np.uint8)
    h = ctx._handle

    src, dst = _raw_images(lib, a, out)
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) == nic.NIC_OK

    assert lib.nic_resize(None, ctypes.byref(src), ctypes.byref(dst), 0) == nic.NIC_ERROR_NULL_POINTER
    assert lib.nic_resize(h, None, ctypes.byref(dst), 0) == nic.NIC_ERROR_NULL_POINTER
    assert lib.nic_resize(h, ctypes.byref(src), None, 0) == nic.NIC_ERROR_NULL_POINTER

    src, dst = _raw_images(lib, a, out)
    src.planes[0] = None
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) in (
        nic.NIC_ERROR_NULL_POINTER, nic.NIC_ERROR_INVALID_ARGUMENT)
    assert lib.nic_last_error(h)

    src, dst = _raw_images(lib, a, out)
    src.struct_size = 0
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) == nic.NIC_ERROR_STRUCT_SIZE

    src, dst = _raw_images(lib, a, out)
    src.strides[0] = 7  # smaller than the row size
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) == nic.NIC_ERROR_INVALID_ARGUMENT

    src, dst = _raw_images(lib, a, out)
    dst.format = nic.NIC_PIXEL_FORMAT_RGB24  # differs from the input
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) != nic.NIC_OK

    src, dst = _raw_images(lib, a, out)
    src.format = dst.format = 99
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 0) == nic.NIC_ERROR_UNSUPPORTED_FORMAT

    src, dst = _raw_images(lib, a, out)
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), -1) == nic.NIC_ERROR_INVALID_ARGUMENT

    # The context still works after all these failures.
    src, dst = _raw_images(lib, a, out)
    assert lib.nic_resize(h, ctypes.byref(src), ctypes.byref(dst), 1) == nic.NIC_OK
    assert lib.nic_last_error(h) == b""


def test_error_is_exception_with_fields():
    err = nic.NicError(nic.NIC_ERROR_IO, "could not open x")
    assert isinstance(err, Exception)
    assert err.status == 8 and err.status_name and "could not open x" in str(err)


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------

def test_log_callback_does_not_crash():
    got = []

    def log(level, message):
        assert isinstance(level, int) and isinstance(message, str)
        got.append((level, message))

    with nic.Context(threads=2, log=log, log_level=nic.NIC_LOG_DEBUG) as c:
        a = np.zeros((16, 16, 3), np.uint8)
        c.resize(a, 33, 7, "lanczos")
        with pytest.raises(nic.NicError):
            c.resize(a, 0, 7)
    for level, _message in got:
        assert nic.NIC_LOG_ERROR <= level <= nic.NIC_LOG_DEBUG


def test_log_callback_that_raises_is_contained():
    def log(level, message):
        raise RuntimeError("boom")

    with nic.Context(log=log, log_level=nic.NIC_LOG_DEBUG) as c:
        assert (c.resize(np.full((4, 4), 3, np.uint8), 8, 8) == 3).all()
        with pytest.raises(nic.NicError):
            c.resize(np.zeros((4, 4), np.uint8), 8, 0)
