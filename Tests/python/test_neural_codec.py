"""The neural image codec through the Python package, with the shipped model of record."""

import numpy as np
import pytest

import nic
from test_ai_models import psnr, smooth_image


@pytest.fixture
def ctx():
    with nic.Context(threads=2) as c:
        yield c


def test_round_trip_and_rate_grows_with_quality(ctx):
    img = smooth_image(70, 100)
    low, high = ctx.image_encode(img, quality=5), ctx.image_encode(img, quality=95)
    assert low[:4] == b"\x8bNIC" and len(high) > len(low)
    for data in (low, high):
        back = ctx.image_decode(data)
        assert back.shape == img.shape and back.dtype == np.uint8
        assert psnr(img, back) > 20
    plain = ctx.image_decode(ctx.image_encode(img, quality=50, refine_steps=0))
    assert plain.shape == img.shape and psnr(img, plain) > 20


def test_same_pixels_with_one_and_two_threads(ctx):
    data = ctx.image_encode(smooth_image(300, 80), quality=50)
    with nic.Context(threads=1) as one:
        assert np.array_equal(one.image_decode(data), ctx.image_decode(data))


def test_bad_input_is_a_clear_error(ctx):
    data = ctx.image_encode(smooth_image(40, 40), quality=30)
    with pytest.raises(nic.NicError) as e:
        ctx.image_decode(data[:-3])
    assert e.value.status == nic.NicStatus.NIC_ERROR_CORRUPT_DATA
    with pytest.raises(nic.NicError) as e:
        ctx.image_decode(b"not a nic file at all, just some text")
    assert e.value.status == nic.NicStatus.NIC_ERROR_UNSUPPORTED_FORMAT
    with pytest.raises(nic.NicError) as e:
        ctx.image_encode(smooth_image(40, 40), quality=101)
    assert e.value.status == nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT
    with pytest.raises(nic.NicError) as e:
        ctx.image_encode(smooth_image(40, 40), refine_steps=-1)
    assert e.value.status == nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT
    for bad in ({"effort": 4}, {"effort": -1}, {"latent_steps": -1}, {"latent_steps": 2001}, {"latent_step_size": 0},
                {"latent_step_size": float("nan")}, {"dsq_states": 5}, {"dsq_states": -1}, {"dsq_lambda": 0},
                {"dsq_lambda": 1000}, {"substitute_steps": 2001}, {"substitute_step_size": 0.5},
                {"substitute_block": 8}):
        with pytest.raises(nic.NicError) as e:
            ctx.image_encode(smooth_image(40, 40), **bad)
        assert e.value.status == nic.NicStatus.NIC_ERROR_INVALID_ARGUMENT, bad
    with pytest.raises(ValueError):
        ctx.image_encode(np.zeros((8, 8), np.uint8))


def test_encoder_effort_searches_the_latents(ctx):
    """A higher effort codes the same decoder's format: the file decodes, to the image's size."""
    img = smooth_image(64, 48)
    searched = ctx.image_encode(img, quality=50, effort=1, latent_steps=4, latent_step_size=0.05)
    assert ctx.image_decode(searched).shape == img.shape
    substituted = ctx.image_encode(img, quality=50, substitute_steps=3, substitute_step_size=0.005, substitute_block=16)
    assert ctx.image_decode(substituted).shape == img.shape


def test_dependent_quantisation_writes_a_version_2_file(ctx):
    img = smooth_image(64, 48)
    plain = ctx.image_encode(img, quality=50, dsq_states=0, integer_grid=False)
    assert plain[4] == 1 and plain[7] == 0
    default = ctx.image_encode(img, quality=50)
    assert default[4] == 2 and default[7] & ~8 == 6, "effort 0 quantises with 8 states on the integer grid (bit 3: channel flags)"
    for states, flags in ((4, 1), (8, 2)):
        data = ctx.image_encode(img, quality=50, dsq_states=states, dsq_lambda=0.2, integer_grid=False)
        assert data[4] == 2 and data[7] & ~8 == flags
        assert ctx.image_decode(data).shape == img.shape


def test_integer_grid_sets_flag_bit_2(ctx):
    img = smooth_image(64, 48)
    data = ctx.image_encode(img, quality=50, dsq_states=0, integer_grid=True)
    assert data[4] == 2 and data[7] == 4
    assert ctx.image_decode(data).shape == img.shape
    plain = ctx.image_encode(img, quality=50, dsq_states=0, integer_grid=False)
    assert plain[4] == 1 and plain[7] == 0
    dsq = ctx.image_encode(img, quality=50, integer_grid=True)     # effort 0 quantises with 8 states
    assert dsq[4] == 2 and dsq[7] == 4 | 2
    assert ctx.image_decode(dsq).shape == img.shape
    means = ctx.image_encode(img, quality=50, integer_grid=False)
    assert means[4] == 2 and means[7] == 2


def test_layered_file_decodes_every_layer(ctx):
    img = smooth_image(33, 45)   # 33 rows of 45 pixels
    sizes = [(15, 11), (27, 20), (45, 33)]
    data = ctx.image_encode(img, quality=30, layers=sizes)
    assert data[4] == 3
    layers = ctx.image_layers(data)
    assert all(set(la) == {"width", "height", "bytes", "whole", "quality"} for la in layers)
    assert [(la["width"], la["height"]) for la in layers] == sizes
    assert all(la["whole"] == 1 and la["quality"] == 30 for la in layers)
    assert 16 + 12 * 3 + sum(la["bytes"] for la in layers) == len(data)
    for k, (w, h) in enumerate(sizes):
        assert ctx.image_decode(data, layer=k).shape == (h, w, 3)
    top = ctx.image_decode(data)
    assert np.array_equal(top, ctx.image_decode(data, layer=2)) and psnr(img, top) > 20
    cut = data[:16 + 12 * 3 + layers[0]["bytes"]]
    assert ctx.image_decode(cut, layer=0).shape == (11, 15, 3)
    assert [la["whole"] for la in ctx.image_layers(cut)] == [1, 0, 0]
    with pytest.raises(nic.NicError):
        ctx.image_decode(cut, layer=1)
    with pytest.raises(nic.NicError):
        ctx.image_decode(data, layer=3)
    with pytest.raises(ValueError):
        ctx.image_decode(data, layer=-1)
    with pytest.raises(nic.NicError):
        ctx.image_encode(img, layers=[(10, 11), (45, 33)])   # more than 4 times wider
    with pytest.raises(ValueError):
        ctx.image_encode(img, layers=[])
    with pytest.raises(ValueError):
        ctx.image_encode(img, layers=[(45, 33)] * (nic.NIC_MAX_LAYERS + 1))
    single = ctx.image_encode(img, quality=30)
    assert len(ctx.image_layers(single)) == 1 and ctx.image_decode(single, layer=0).shape == img.shape


def test_a_file_of_the_layered_base_decodes(ctx, tmp_path):
    """A file names its model: one coded with the layered base (the record before) decodes with
    the shipped models, as with a directory whose record is that base."""
    import os
    import sys
    src = ctx.model_dir or os.environ.get("NIC_MODEL_DIR")
    if not src:
        pytest.skip("the library chooses its models itself")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
    import layered_base_models
    layered_base_models.make(src, str(tmp_path))
    img = smooth_image(40, 56)
    with nic.Context(threads=1, model_dir=tmp_path) as old:
        data = old.image_encode(img, quality=40)
        expected = old.image_decode(data)
    assert data != ctx.image_encode(img, quality=40)
    assert np.array_equal(ctx.image_decode(data), expected)
