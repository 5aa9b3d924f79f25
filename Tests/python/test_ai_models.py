"""AI downscale/upscale through the Python package with the shipped models (those the
package uses by default: the wheel's bundled ones under make test-python; setting 2 is the
x2 joint setting every release ships)."""

import numpy as np
import pytest

import nic


def smooth_image(h=96, w=128):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 80 * np.sin(x / 9.0), 128 + 60 * np.cos(y / 7.0), 100 + 0.5 * x], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


@pytest.fixture
def ctx():
    with nic.Context(threads=2) as c:
        yield c


def test_round_trip_uses_the_ai_data(ctx):
    img = smooth_image()
    small, aidata = ctx.downscale(img, 2)
    assert small.shape == (48, 64, 3)
    assert aidata["setting_id"] == 2 and aidata["original_width"] == 128
    back, info = ctx.upscale(small, 128, 96, aidata)
    assert info == {"setting_id": 2, "used_aidata": True, "fallback_reason": None,
                    "precision": ctx.setting_precision(2)[0]}
    assert psnr(img, back) > 30


def test_serialized_ai_data_drives_upscaling(ctx):
    small, aidata = ctx.downscale(smooth_image(), 2)
    back, info = ctx.upscale(small, 128, 96, ctx.aidata_serialize(aidata))
    assert info["used_aidata"]


def test_mismatched_or_missing_ai_data_falls_back(ctx):
    small, aidata = ctx.downscale(smooth_image(), 2)
    _, info = ctx.upscale(small[:40], 128, 80, aidata)
    assert not info["used_aidata"] and "40" in info["fallback_reason"]
    _, info = ctx.upscale(small, 128, 96, None)
    assert not info["used_aidata"] and info["fallback_reason"] == "no AI data"


def test_unknown_setting_is_an_error_on_downscale(ctx):
    with pytest.raises(nic.NicError) as e:
        ctx.downscale(smooth_image(), 31337)
    assert e.value.status == nic.NIC_ERROR_INVALID_ARGUMENT


def test_upscale_plane_gives_unrounded_network_output(ctx):
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    plane = (0.5 + 0.3 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.float32)
    out = ctx.upscale_plane(2, plane, 128, 96)
    assert out.shape == (96, 128) and out.dtype == np.float32
    assert np.abs(out[::2, ::2] - plane).mean() < 0.05          # an upscaled version of the plane
    assert np.any(np.abs(out * 255 - np.round(out * 255)) > 1e-3)  # not rounded to 8 bits
    with pytest.raises(nic.NicError) as e:
        ctx.upscale_plane(2, plane, 100, 96)
    assert e.value.status == nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT
    with pytest.raises(nic.NicError):
        ctx.upscale_plane(31337, plane, 128, 96)


def test_precision_is_the_contexts_request_resolved_per_setting():
    with nic.Context(threads=1, precision="fp32") as c:
        assert c.setting_precision(2) == ("fp32", "fp32 requested")
    with nic.Context(threads=1) as c:  # auto: never int8 for a network without int8 ranges
        precision, reason = c.setting_precision(2)
        assert precision in ("fp32", "bf16") and "int8 ranges" in reason
    with nic.Context(threads=1, precision="int8") as c:
        with pytest.raises(nic.NicError) as e:
            c.setting_precision(2)
        assert e.value.status == nic.NIC_ERROR_INVALID_ARGUMENT and "int8" in str(e.value)
        with pytest.raises(nic.NicError):
            c.setting_precision(31337)
    with nic.Context(threads=1, precision="bf16") as c:  # bf16 where the CPU has AVX512_BF16, else an error
        try:
            assert c.setting_precision(2) == ("bf16", "bf16 requested")
        except nic.NicError as e:
            assert e.status == nic.NIC_ERROR_INVALID_ARGUMENT and "AVX512_BF16" in str(e)
    with pytest.raises(ValueError):
        nic.Context(precision="fp16")


def test_upscale_liff_any_factor_per_axis(ctx):
    img = smooth_image()
    small = img[::2, ::2].copy()  # 48x64
    out = ctx.upscale_liff(small, 128, 96)
    assert out.shape == (96, 128, 3) and out.dtype == np.uint8
    assert psnr(img, out) > 30
    odd = ctx.upscale_liff(small, 88, 150)  # x1.375 by x3.125
    assert odd.shape == (150, 88, 3)
    gray = ctx.upscale_liff(small[:, :, 0], 88, 150)
    assert gray.shape == (150, 88) and np.abs(gray.astype(int) - odd[:, :, 0]).mean() < 2


def test_upscale_liff_refuses_a_factor_outside_its_range(ctx):
    small = smooth_image(24, 32)
    for width, height in ((32 * 5, 24), (31, 24)):
        with pytest.raises(nic.NicError) as e:
            ctx.upscale_liff(small, width, height)
        assert e.value.status == nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT and "1 to 4" in str(e.value)
