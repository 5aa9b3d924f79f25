"""The installed Python package: which copy of `nic`, library and models is used, Pillow
input, and the one-line use a user of the wheel starts with.

`make test-python` sets NIC_TEST_WHEEL=1: the tests marked `wheel` then check that `nic`
is the wheel installed in the virtual environment, with its bundled library and models.
It then installs the package alone (pip install ./python) into another environment and
sets NIC_TEST_SOURCE to the installed library the system loader must find: the tests
marked `source` check that this library and its own models are used.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nic

from test_ai_models import psnr, smooth_image

wheel = pytest.mark.skipif(not os.environ.get("NIC_TEST_WHEEL"),
                           reason="checks of the installed wheel (make test-python sets NIC_TEST_WHEEL=1)")

source = pytest.mark.skipif(not os.environ.get("NIC_TEST_SOURCE"),
                            reason="checks of the package alone (make test-python sets NIC_TEST_SOURCE)")


def mapped_libnic_files():
    """The files named libnic.so* mapped into this process (the libnic copies loaded)."""
    nic.load_library()
    with open("/proc/self/maps") as f:
        paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    return {p for p in paths if os.path.basename(p).startswith("libnic.so")}


def clean_environment():
    """The environment of a user who set nothing up: no library, model or import path given."""
    env = dict(os.environ)
    for name in ("NIC_LIBRARY", "NIC_MODEL_DIR", "PYTHONPATH", "LD_LIBRARY_PATH"):
        env.pop(name, None)
    return env


def test_the_loaded_library_is_the_one_reported():
    mapped = mapped_libnic_files()
    assert len(mapped) == 1, mapped
    path = nic.library_path()
    if os.path.isabs(path):
        assert mapped == {os.path.realpath(path)}
    else:  # found by the system loader under its soname
        assert os.path.basename(mapped.pop()).startswith(path)


def test_package_version_is_the_library_version():
    assert nic.__version__ == nic.version().split("-")[0].split("+")[0]
    assert nic.version_number() == nic.NIC_VERSION_NUMBER(nic.NIC_VERSION_MAJOR, nic.NIC_VERSION_MINOR,
                                                          nic.NIC_VERSION_PATCH)


@wheel
def test_nic_is_the_wheel_installed_in_the_virtual_environment():
    assert sys.prefix != sys.base_prefix, "not running in a virtual environment"
    package = os.path.dirname(os.path.realpath(nic.__file__))
    assert package.startswith(os.path.realpath(sys.prefix) + os.sep), package
    assert "site-packages" in package.split(os.sep)
    assert os.path.isfile(os.path.join(package, "_version.py"))  # written by the wheel build


@wheel
def test_the_bundled_library_and_models_are_used():
    package = os.path.dirname(os.path.realpath(nic.__file__))
    bundled = os.path.join(package, "_lib", "libnic.so.0")
    assert nic.library_path() == bundled
    assert mapped_libnic_files() == {bundled}
    models = os.path.join(package, "_models")
    assert nic.bundled_model_dir() == models
    assert os.path.isfile(os.path.join(models, "settings.json"))
    with nic.Context(threads=1) as ctx:
        assert ctx.model_dir == models


@wheel
def test_nic_model_dir_overrides_the_bundled_models(monkeypatch, tmp_path):
    monkeypatch.setenv("NIC_MODEL_DIR", str(tmp_path))  # an empty folder: no models
    assert nic.default_model_dir() is None
    with nic.Context(threads=1) as ctx:
        assert ctx.model_dir is None
        with pytest.raises(nic.NicError) as e:
            ctx.downscale(smooth_image(), 2)
        assert e.value.status == nic.NIC_ERROR_MODEL


@wheel
def test_a_fresh_interpreter_upscales_with_no_set_up(tmp_path):
    """The acceptance case: `import nic` and up-scale, nothing configured."""
    script = (
        "import json, numpy as np, nic\n"
        "y, x = np.mgrid[0:48, 0:64]\n"
        "img = np.stack([128 + 60 * np.sin(x / 5), 128 + 50 * np.cos(y / 4), 90 + x], -1).astype(np.uint8)\n"
        "with nic.Context() as ctx:\n"
        "    big, info = ctx.upscale(img, 128, 96)\n"
        "print(json.dumps([big.shape, str(big.dtype), info['setting_id'], nic.library_path()]))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=clean_environment(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    shape, dtype, setting, library = json.loads(run.stdout)
    assert shape == [96, 128, 3] and dtype == "uint8"
    assert setting != 0, "upscaled by a classic filter: the bundled models were not found"
    assert library == nic.library_path()


@wheel
def test_python_m_nic_names_the_library_and_models(tmp_path):
    run = subprocess.run([sys.executable, "-m", "nic"], cwd=str(tmp_path), env=clean_environment(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"libnic {nic.version()} (0x{nic.version_number():06x})",
                                       f"library: {nic.library_path()}",
                                       f"models: {nic.bundled_model_dir()}"]


@wheel
def test_importing_nic_needs_no_pillow(tmp_path):
    script = "import sys, nic; nic.load_library(); print('PIL' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=clean_environment(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


@source
def test_without_a_bundled_library_the_system_loader_finds_the_installed_one():
    package = os.path.dirname(os.path.realpath(nic.__file__))
    assert not os.path.exists(os.path.join(package, "_lib"))
    assert nic.bundled_model_dir() is None and nic.default_model_dir() is None
    assert mapped_libnic_files() == {os.path.realpath(os.environ["NIC_TEST_SOURCE"])}


@source
def test_without_bundled_models_the_library_finds_the_installed_ones(tmp_path):
    with nic.Context(threads=1) as ctx:
        assert ctx.model_dir is None  # the library's own default: share/nic beside the library
        small, aidata = ctx.downscale(smooth_image(), 2)
        back, info = ctx.upscale(small, 128, 96, aidata)
    assert info["used_aidata"] and psnr(smooth_image(), back) > 30


# --------------------------------------------------------------------------
# Pillow images where an image is expected
# --------------------------------------------------------------------------

@pytest.fixture
def ctx():
    with nic.Context(threads=2) as c:
        yield c


@pytest.fixture
def Image():
    return pytest.importorskip("PIL.Image")


def test_pillow_rgb_image_is_resized_like_its_array(ctx, Image):
    img = smooth_image(30, 50)
    out = ctx.resize(Image.fromarray(img), 100, 60, "lanczos")
    assert out.shape == (60, 100, 3) and out.dtype == np.uint8
    assert np.array_equal(out, ctx.resize(img, 100, 60, "lanczos"))


def test_pillow_images_of_other_modes_become_rgb(ctx, Image):
    gray = np.tile(np.arange(40, dtype=np.uint8) * 5, (20, 1))
    out = ctx.resize(Image.fromarray(gray, "L"), 80, 40)
    assert out.shape == (40, 80, 3)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    assert np.array_equal(out[..., 0], ctx.resize(gray, 80, 40))
    rgba = np.dstack([smooth_image(20, 30), np.full((20, 30), 255, np.uint8)])
    out = ctx.resize(Image.fromarray(rgba, "RGBA"), 30, 20)
    assert out.shape == (20, 30, 3)
    assert np.array_equal(out, ctx.resize(rgba[..., :3].copy(), 30, 20))


def test_pillow_images_in_ai_scaling_and_the_image_codec(ctx, Image):
    img = smooth_image()
    small, aidata = ctx.downscale(Image.fromarray(img), 2)
    assert np.array_equal(small, ctx.downscale(img, 2)[0])
    back, info = ctx.upscale(Image.fromarray(small), 128, 96, aidata)
    assert info["used_aidata"] and psnr(img, back) > 30
    data = ctx.image_encode(Image.fromarray(img), quality=50)
    assert data == ctx.image_encode(img, quality=50)


def test_other_objects_are_still_refused(ctx):
    with pytest.raises(TypeError):
        ctx.resize([[1, 2], [3, 4]], 4, 4)
    with pytest.raises(TypeError):
        ctx.upscale("image.png", 4, 4)
