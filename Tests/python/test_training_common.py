"""training/ as a package: the shared BD-rate and sha256, the recorded validation BD-rates, and
that every training script starts and parses its arguments.

The BD-rate and sha256 checks need only numpy (`make test-python`); the script checks run where
PyTorch is installed (the training environment) and are skipped elsewhere.
"""

import hashlib
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.append(REPO)   # the repository root: `training` and `bench` as packages
from bench import rdcurves  # noqa: E402
from training import files  # noqa: E402
from training.aicodec import metrics  # noqa: E402

RATES = [0.21, 0.35, 0.62, 1.1]
PSNRS = [30.1, 32.4, 34.9, 37.0]


def cubic_bd_rate_before_the_split(r1, p1, r2, p2):
    """The BD-rate the training validation computed every recorded validation with, before it used
    bench/rdcurves.py (NaN when the PSNR ranges do not overlap): the reference for the shared one."""
    lr1, lr2 = np.log(np.asarray(r1, float)), np.log(np.asarray(r2, float))
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    deg = min(3, len(p1) - 1, len(p2) - 1)
    c1, c2 = np.polyfit(p1, lr1, deg), np.polyfit(p2, lr2, deg)
    lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    if hi <= lo:
        return float("nan")
    i1, i2 = np.polyint(c1), np.polyint(c2)
    a1 = (np.polyval(i1, hi) - np.polyval(i1, lo)) / (hi - lo)
    a2 = (np.polyval(i2, hi) - np.polyval(i2, lo)) / (hi - lo)
    return float((math.exp(a2 - a1) - 1) * 100)


def test_cubic_bd_rate_gives_the_numbers_of_the_former_training_copy():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(3, 8))
        p1 = np.sort(rng.uniform(25, 45, n))
        r1 = np.exp(np.sort(rng.uniform(-3, 1, n)))
        p2 = p1 + rng.uniform(-1.5, 1.5)
        r2 = r1 * np.exp(rng.normal(0, 0.05, n)) * rng.uniform(0.7, 1.3)
        old = cubic_bd_rate_before_the_split(r1, p1, r2, p2)
        new = rdcurves.bd_rate(r1, p1, r2, p2, "cubic")
        if math.isnan(old):
            assert new is None
        else:
            assert new == pytest.approx(old, rel=1e-9, abs=1e-9)


def test_bd_rate_is_pchip_unless_named_and_none_without_overlap():
    cheaper = [0.9 * r for r in RATES]
    assert rdcurves.bd_rate(RATES, PSNRS, cheaper, PSNRS) == pytest.approx(-10.0)
    saturating = [37.0, 39.4, 40.4, 40.8]
    assert rdcurves.bd_rate(RATES, saturating, RATES, [p + 0.2 for p in saturating]) == \
        rdcurves.bd_rate(RATES, saturating, RATES, [p + 0.2 for p in saturating], "pchip")
    assert rdcurves.bd_rate(RATES, PSNRS, RATES, [p + 10 for p in PSNRS]) is None
    assert rdcurves.bd_rate(RATES, PSNRS, RATES, [p + 10 for p in PSNRS], "cubic") is None


def test_recorded_validation_bd_rates_are_reproduced():
    """Every BD-rate in models/settings.json's validations, recomputed from the recorded route
    points by the shared implementation, is the recorded figure (None included)."""
    with open(os.path.join(REPO, "models", "settings.json")) as f:
        settings = json.load(f)["settings"]
    checked = 0
    for s in settings:
        v = s.get("validation")
        if not v or "routes" not in v:
            continue
        qualities = [q for q in next(iter(v["routes"].values())) if q != "none"]
        assert metrics.route_bd_rates(v["routes"], qualities) == v["bd_rate_percent"], s["id"]
        checked += 1
    assert checked >= 10


def test_psnr():
    a = np.zeros((4, 4))
    assert metrics.psnr(a, a + 0.1) == pytest.approx(20.0)
    assert metrics.psnr(a, a) == pytest.approx(120.0)


def test_sha256_and_save_json(tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom(3 << 20)   # more than one read block
    path.write_bytes(data)
    assert files.sha256(str(path)) == hashlib.sha256(data).hexdigest()
    out = tmp_path / "x.json"
    files.save_json(str(out), {"a": [1, 2]})
    assert json.loads(out.read_text()) == {"a": [1, 2]} and not (tmp_path / "x.json.tmp").exists()


TORCH_MODULES = ["training.aicodec.colour", "training.aicodec.data", "training.aicodec.nets",
                 "training.aicodec.proxies", "training.aicodec.real_codecs", "training.liff.model",
                 "training.layered.model", "training.layered.rd", "training.aicodec.synthetic"]

SCRIPTS = ["training/aicodec/train.py", "training/aicodec/validate.py", "training/aicodec/export.py",
           "training/aicodec/make_settings.py", "training/aicodec/make_model_golden.py",
           "training/aicodec/chroma_data.py", "training/aicodec/train_chroma.py",
           "training/aicodec/experiments/compare_up_nets.py", "training/aicodec/experiments/temporal_probe.py",
           "training/aicodec/experiments/make_holdout_clips.py",
           "training/aicodec/train_restore.py", "training/aicodec/eval_restore.py",
           "training/aicodec/calibrate_int8.py", "training/aicodec/check_int8.py", "training/aicodec/qat_int8.py",
           "training/aicodec/ship_int8.py",
           "training/neural/train.py", "training/neural/export_record.py", "training/neural/finetune_decoder.py",
           "training/neural/grow.py", "training/neural/context_probe.py", "training/neural/grid_stability.py",
           "training/neural/floor.py",
           "training/liff/train.py", "training/liff/export.py", "training/liff/measure.py", "training/liff/make_golden.py",
           "training/layered/train.py"]


@pytest.mark.parametrize("module", TORCH_MODULES)
def test_torch_modules_import(module):
    pytest.importorskip("torch")
    __import__(module)


def test_scaler_net_starts_as_the_bicubic_route():
    torch = pytest.importorskip("torch")
    from training.aicodec.nets import ScalerNet
    for kind, scale, size in (("down", "2", 48), ("up", "2", 24), ("down", "1.5", 48), ("up", "1.5", 32)):
        net = ScalerNet(kind, scale)
        x = torch.rand(1, 1, size, size)
        assert torch.equal(net(x), net.base(x))


def test_neural_bf16_pass_keeps_the_entropy_model_in_float32():
    torch = pytest.importorskip("torch")
    from training.neural.model import MeanScaleHyperprior, ladder
    torch.manual_seed(0)
    model = MeanScaleHyperprior(16, 24, ladder(2))
    x = torch.rand(2, 3, 64, 64)
    level = torch.tensor([1.0, 7.0])
    torch.manual_seed(1)
    ref = model(x, level)
    torch.manual_seed(1)
    out = model(x, level, bf16=True)
    for key in ("x_hat", "bits_y", "bits_z"):
        assert out[key].dtype == torch.float32
    assert torch.allclose(out["bits_y"] + out["bits_z"], ref["bits_y"] + ref["bits_z"], rtol=0.05)
    assert float((out["x_hat"] - ref["x_hat"]).detach().abs().max()) < 0.05
    (out["bits_y"].sum() + out["x_hat"].pow(2).sum()).backward()
    assert model.g_a[0].weight.grad is not None and torch.isfinite(model.g_a[0].weight.grad).all()


def test_restore_net_starts_as_the_plain_decode():
    """Scale "1" (1x restoration): identity base, output size = input size, the described format."""
    torch = pytest.importorskip("torch")
    from training.aicodec.nets import ScalerNet
    net = ScalerNet("up", "1")
    x = torch.rand(1, 1, 20, 36)
    assert torch.equal(net(x), x)
    d = net.describe()
    assert d["scale"] == "1" and d["scale_rational"] == [1, 1] and d["residual_base"] == {"op": "identity"}
    assert d["block_mapping"] == {"hr": [2, 2], "lr": [2, 2]} and d["macs_per_lr_pixel"] == 1440
    assert [layer["op"] for layer in d["layers"]] == ["pixel_unshuffle"] + ["conv2d"] * 4 + ["pixel_shuffle"]


def test_liff_grid_and_bicubic_start():
    """nearest_grid is the nearest low-res pixel and the offset from its centre; with the filter MLPs'
    last layers at zero the LIFF output is its bicubic base, at any size."""
    torch = pytest.importorskip("torch")
    from training.liff.model import LIFF, nearest_grid
    for n, m in ((7, 7), (9, 13), (233, 768), (5, 20)):
        index, offset = nearest_grid(n, m)
        centre = (torch.arange(m, dtype=torch.float64) + 0.5) * n / m
        assert torch.equal(index, torch.floor(centre).long())
        assert torch.allclose(offset.double(), centre - index - 0.5, atol=1e-6)
        assert offset.min() >= -0.5 and offset.max() < 0.5
    net = LIFF(channels=4, width=8, depth=3, hidden=16)
    with torch.no_grad():
        for mlp in (net.mlp_x, net.mlp_y):
            mlp[4].weight.zero_()
            mlp[4].bias.zero_()
    x = torch.rand(1, 3, 7, 9)
    for h, w in ((7, 9), (17, 13), (28, 36)):
        base = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
        assert torch.equal(net(x, h, w), base)


def test_layered_sizes_and_coding():
    """Layer sizes follow the factors (odd sizes, at most x4 per step); real coding gives every
    layer at its size in 8 bits; a training step moves the residual codec and never the base."""
    torch = pytest.importorskip("torch")
    from training.layered.model import LayeredCodec, layer_sizes
    from training.layered.rd import versions_of
    from training.liff.model import LIFF
    from training.neural.model import MeanScaleHyperprior
    assert layer_sizes((683, 1024), (1.5, 1.78)) == [(256, 383), (384, 575), (683, 1024)]
    assert layer_sizes((100, 100), (9.0,)) == [(25, 25), (100, 100)]
    torch.manual_seed(0)
    codec = LayeredCodec(MeanScaleHyperprior(8, 8), LIFF(channels=2, width=4, depth=2, hidden=8),
                         MeanScaleHyperprior(8, 8))
    vs = versions_of(torch.rand(1, 3, 45, 70), (1.5, 2.0))
    assert [tuple(v.shape[-2:]) for v in vs] == [(15, 23), (22, 35), (45, 70)]
    layers = codec.code(vs, 3)
    assert [tuple(r.shape[-2:]) for _, r in layers] == [(15, 23), (22, 35), (45, 70)]
    assert all(b > 0 for b, _ in layers)
    assert all(torch.equal(torch.round(r * 255), r * 255) for _, r in layers)
    # the layers below the top one at a higher level, at most the ladder's top
    higher, top = codec.code(vs, 3, lower_offset=2.0), codec.base.levels - 1
    base_bits, base_recon = codec.code_base(vs[0], 5)
    assert higher[0][0] == base_bits and torch.equal(higher[0][1], base_recon)
    assert codec.code(vs, top, lower_offset=2.0)[0][0] == codec.code_base(vs[0], top)[0]
    before = {k: v.clone() for k, v in codec.state_dict().items()}
    opt = torch.optim.Adam(codec.residual.parameters(), lr=1e-2)
    _, out = codec.train()(vs, 3)
    sum(bits / 1000 + mse for bits, mse in out).backward()
    opt.step()
    after = codec.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("base.", "liff.")))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("residual."))


@pytest.mark.parametrize("experiment", ["fusion", "condition", "lower_prior"])
def test_an_experiment_starts_as_the_plain_residual_codec_and_then_learns(experiment):
    """LayeredCodec with a Fusion, a Condition or a LowerPrior (train.py --fusion, --condition,
    --lower-prior): at the start it codes exactly what the plain codec does (odd sizes, two
    enhancement layers); after a training step of the added module alone the enhancement layers'
    pictures differ and the base layer's does not (a LowerPrior changes the means, and the latents
    sit on the means' grid)."""
    torch = pytest.importorskip("torch")
    from training.layered.model import Condition, Fusion, LayeredCodec, LowerPrior
    from training.layered.rd import versions_of
    from training.liff.model import LIFF
    from training.neural.model import MeanScaleHyperprior
    torch.manual_seed(0)
    base, liff, residual = MeanScaleHyperprior(8, 8), LIFF(channels=2, width=4, depth=2, hidden=8), MeanScaleHyperprior(8, 8)
    module = {"fusion": lambda: Fusion(hidden=8, depth=1), "condition": lambda: Condition(8, 8, hidden=4),
              "lower_prior": lambda: LowerPrior(8, 8, hidden=4)}[experiment]()
    plain, tried = LayeredCodec(base, liff, residual), LayeredCodec(base, liff, residual, **{experiment: module})
    vs = versions_of(torch.rand(1, 3, 45, 70), (1.5, 1.2))
    for (b0, r0), (b1, r1) in zip(plain.code(vs, 3), tried.code(vs, 3)):
        assert b0 == b1 and torch.equal(r0, r1)
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    _, out = tried.train()(vs, 3)
    sum(bits / 1000 + mse for bits, mse in out).backward()
    opt.step()
    before, after = plain.code(vs, 3), tried.code(vs, 3)
    assert before[0][0] == after[0][0] and torch.equal(before[0][1], after[0][1])
    assert all(not torch.equal(r0, r1) for (_, r0), (_, r1) in zip(before[1:], after[1:]))


def test_a_condition_reads_the_prediction_in_the_analysis():
    """Condition: after a step the analysis' output depends on the prediction (an encoder-only change)."""
    torch = pytest.importorskip("torch")
    from training.layered.model import Condition
    from training.neural.model import MeanScaleHyperprior, pad64
    torch.manual_seed(0)
    residual, condition = MeanScaleHyperprior(8, 8), Condition(8, 8, hidden=4)
    x, pred = pad64(torch.rand(1, 3, 45, 70)), pad64(torch.rand(1, 3, 45, 70))
    assert torch.equal(residual.g_a(x), condition.transforms(residual, pred)["g_a"](x))
    condition.transforms(residual, pred)["g_a"](x).square().sum().backward()
    torch.optim.Adam(condition.parameters(), lr=1e-2).step()
    assert not torch.equal(residual.g_a(x), condition.transforms(residual, pred)["g_a"](x))


def test_a_lower_prior_reads_the_latents_under_each_latents_centre():
    """LowerPrior: the latent rows of the layer below under each latent's centre follow from the
    sizes alone; after a step the hyper-synthesis' output depends on the lower latents."""
    torch = pytest.importorskip("torch")
    from training.layered.model import LowerPrior, nearest_rows
    from training.neural.model import MeanScaleHyperprior
    assert nearest_rows(4, 64, 32) == [0, 0, 1, 1]
    assert nearest_rows(8, 96, 64) == [0, 1, 1, 2, 3, 3, 3, 3]   # 64 pixels have 4 latent rows (padded)
    assert nearest_rows(4, 45, 15) == [0, 0, 0, 1]
    torch.manual_seed(0)
    residual, prior = MeanScaleHyperprior(8, 8), LowerPrior(8, 8, hidden=4)
    z, lower = torch.rand(1, 8, 1, 2), torch.rand(1, 8, 4, 4)
    h_s = prior.hyper_synthesis(residual, lower, (15, 23), (45, 70))
    assert torch.equal(residual.h_s(z), h_s(z))
    h_s(z).square().sum().backward()
    torch.optim.Adam(prior.parameters(), lr=1e-2).step()
    assert not torch.equal(residual.h_s(z), prior.hyper_synthesis(residual, lower, (15, 23), (45, 70))(z))


def test_the_linear_bound_rises_with_the_components_kept_and_is_exact_with_all():
    """floor.py: blocks of random 8-bit pictures kept to k principal components; more components
    never lose, and all of them give the picture back (PSNR at its 1e-12 cap)."""
    pytest.importorskip("torch")
    import numpy as np
    from training.neural.floor import BLOCK, blocks, linear_bound, principal_components
    rng = np.random.default_rng(0)
    smooth = lambda: np.repeat(np.repeat(rng.integers(0, 256, (8, 12, 3)), 8, 0), 8, 1).astype(np.uint8)  # noqa: E731
    images = [smooth() for _ in range(6)]
    assert blocks(images[0]).shape == (64 * 96 // BLOCK ** 2, BLOCK * BLOCK * 3)
    mean, components = principal_components(images, per_image=24)
    assert np.allclose(components.T @ components, np.eye(components.shape[1]), atol=1e-8)
    bounds = [linear_bound(images[0], mean, components, k) for k in (1, 8, 32, 768)]
    assert all(a <= b + 1e-9 for a, b in zip(bounds, bounds[1:]))
    assert bounds[0] < 40 and bounds[-1] == pytest.approx(120.0)


@pytest.fixture(scope="module")
def help_runs(tmp_path_factory):
    """`python3 PATH --help` of every script, started together (each imports torch once), from a
    directory outside the repository: {script: (returncode, stdout, stderr)}."""
    pytest.importorskip("torch")
    cwd = tmp_path_factory.mktemp("cwd")
    procs = {s: subprocess.Popen([sys.executable, os.path.join(REPO, s), "--help"], cwd=cwd, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in SCRIPTS}
    results = {}
    for script, p in procs.items():
        out, err = p.communicate(timeout=600)
        results[script] = (p.returncode, out, err)
    return results


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_parses_its_arguments(script, help_runs):
    """Each script starts from any working directory as `python3 PATH --help`."""
    returncode, stdout, stderr = help_runs[script]
    assert returncode == 0, stderr
    assert "usage:" in stdout


FAKE_PYTHON = r"""#!/bin/sh
# Dry run: records the command and makes the outputs the pipeline scripts test for.
echo "python3 $*" >> "$DRY_LOG"
script=$1; shift
out=""; name=""; prev=""
for a in "$@"; do
  [ "$prev" = "--out" ] && out=$a
  [ "$prev" = "--name" ] && name=$a
  prev=$a
done
case $script in
  training/aicodec/train.py|training/aicodec/train_restore.py) mkdir -p "$out"; touch "$out/final.pt" ;;
  training/aicodec/export.py) touch "$out/${name}_up.safetensors" "$out/${name}_down.safetensors" ;;
  training/aicodec/chroma_data.py) touch "$out" ;;
  training/aicodec/train_chroma.py) mkdir -p "$out"; touch "$out/$(basename "$out")_chroma.safetensors" ;;
  training/aicodec/qat_int8.py) mkdir -p "$out" ;;
  training/aicodec/ship_int8.py) ;;
  *) exit 3 ;;
esac
"""

PIPELINES = [["run_x2.sh"], ["run_x2_still.sh"], ["run_x15.sh"], ["run_still_rd.sh", "1.5", "jpeg"],
             ["run_video_temporal.sh"], ["run_hevc.sh", "1.5"], ["run_hevc.sh", "2"]] + \
            [["run_chroma.sh", s, c] for s in ("1.5", "2") for c in ("jpeg", "webp", "x265")] + \
            [["run_still_rd.sh", "2", "jpeg"], ["run_still_rd.sh", "1.5", "x265"], ["run_still_rd.sh", "2", "x265"],
             ["experiments/run_hevc_still.sh", "2"], ["experiments/run_video_buckets.sh"], ["run_restore.sh"],
             ["run_qat_int8.sh"]]


def test_pipelines_run_every_recorded_command_verbatim(tmp_path):
    """The AI-codec shell pipelines, in order, on a copy of the tree with a python3 that only records
    its command line: each runs from the tree alone (no repository history), and together they run
    every training command models/settings.json records, verbatim."""
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO, "training"), repo / "training",
                    ignore=shutil.ignore_patterns("runs", "__pycache__"))
    shutil.copytree(os.path.join(REPO, "models"), repo / "models")
    (repo / ".build" / "release").mkdir(parents=True)
    (repo / ".build" / "release" / "nic").write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    log = tmp_path / "commands.log"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", DRY_LOG=str(log))
    for args in PIPELINES:
        p = subprocess.run(["sh", str(repo / "training" / "aicodec" / args[0]), *args[1:]], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (args, p.stderr)
    ran = {line.strip().replace("nice -n 5 ", "") for line in log.read_text().splitlines()}
    with open(os.path.join(REPO, "models", "settings.json")) as f:
        settings = json.load(f)["settings"]
    recorded = {c for s in settings for c in (s["training"].get("up"), s["training"].get("down"), s["training"].get("int8"),
                                                *s["training"].get("chroma", {}).values()) if c}
    assert len(recorded) >= 30
    assert sorted(recorded - ran) == []


def test_synthetic_graphics_are_repeatable_sharp_and_in_range():
    pytest.importorskip("torch")
    import numpy as np
    from training.aicodec.synthetic import graphics_luma
    a = graphics_luma(6, 48, np.random.default_rng(5))
    b = graphics_luma(6, 48, np.random.default_rng(5))
    assert a.shape == (6, 1, 48, 48) and a.dtype == b.dtype
    assert bool((a == b).all())
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    # hard edges: neighbouring pixels a third of the range apart, which photos rarely show
    steps = (a[..., 1:] - a[..., :-1]).abs().amax(dim=(1, 2, 3))
    assert int((steps > 0.33).sum()) >= 3
