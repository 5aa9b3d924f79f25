"""AI data and AI scaling through the Python package (models: none needed here;
the shipped-model round trip is in test_ai_models.py)."""

import numpy as np
import pytest

import nic

FIELDS = dict(setting_id=3, scale_numerator=2, scale_denominator=1, original_width=1920, original_height=1080,
              downscaled_width=960, downscaled_height=540, codec=1, quality_kind=1, quality_value=7500,
              content_type=1, flags=3)


@pytest.fixture
def ctx():
    with nic.Context(threads=1, model_dir="/nonexistent-nic-models") as c:
        yield c


def test_aidata_round_trip(ctx):
    data = ctx.aidata_serialize(FIELDS)
    assert 8 < len(data) < 64
    assert ctx.aidata_parse(data) == FIELDS


def test_aidata_every_truncation_and_bit_flip_is_rejected(ctx):
    data = ctx.aidata_serialize(FIELDS)
    for n in range(len(data)):
        with pytest.raises(nic.NicError) as e:
            ctx.aidata_parse(data[:n])
        assert e.value.status == nic.NIC_ERROR_CORRUPT_DATA
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(nic.NicError):
            ctx.aidata_parse(bytes(flipped))


def test_aidata_bad_fields(ctx):
    with pytest.raises(nic.NicError) as e:
        ctx.aidata_serialize(dict(FIELDS, setting_id=70000))
    assert e.value.status == nic.NIC_ERROR_INVALID_ARGUMENT
    with pytest.raises(ValueError):
        ctx.aidata_serialize(dict(FIELDS, colour="red"))


def test_upscale_without_models_falls_back_to_lanczos(ctx):
    small = np.full((20, 30, 3), 90, np.uint8)
    for aidata in (None, FIELDS, ctx.aidata_serialize(dict(FIELDS, downscaled_width=30, downscaled_height=20))):
        out, info = ctx.upscale(small, 60, 40, aidata)
        assert out.shape == (40, 60, 3) and (out == 90).all()
        assert info["setting_id"] == 0 and not info["used_aidata"]
        assert info["fallback_reason"] and info["precision"] == "fp32"


def test_downscale_without_models_is_a_model_error(ctx):
    with pytest.raises(nic.NicError) as e:
        ctx.downscale(np.zeros((32, 32, 3), np.uint8), 1)
    assert e.value.status == nic.NIC_ERROR_MODEL
    assert "model" in str(e.value).lower()
