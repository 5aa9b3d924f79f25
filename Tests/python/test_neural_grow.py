"""training/neural/model.grow: a wider model grown from a narrower one reconstructs exactly what
the narrower one does and codes at the same rate but for the stated constant (new latents at
scale 0.11 or the scale asked for, new hyper-latents under a steep density at 0), and its new
channels get gradient; grown_masks marks exactly the elements grow() added.
Also: train.py --levels trains only on the named gain levels. Skipped where PyTorch is missing.
"""

import os
import sys

import pytest

torch = pytest.importorskip("torch")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "training", "neural"))
import model as nm  # noqa: E402


def train_module(tmp_path, monkeypatch):
    """training/neural/train.py with its run folders under tmp_path; skips the test where the
    training data is missing."""
    import train
    monkeypatch.setattr(train, "RUNS", str(tmp_path))
    if not os.path.isdir(train.data.DEFAULT_DATA):
        pytest.skip("no training data on this machine")
    return train


def small_trained_like(N, M, seed):
    """A random model whose GDN, gains and prior are away from their initial values."""
    torch.manual_seed(seed)
    m = nm.MeanScaleHyperprior(N, M, nm.ladder(2))
    with torch.no_grad():
        for gdn in [x for x in m.modules() if isinstance(x, nm.GDN)]:
            gdn.gamma_p.add_(0.05 * torch.rand_like(gdn.gamma_p))
            gdn.beta_p.mul_(1 + 0.2 * torch.rand_like(gdn.beta_p))
        for gu in (m.gain_y, m.gain_y_inv, m.gain_z, m.gain_z_inv):
            gu.log.add_(0.1 * torch.randn_like(gu.log))
    return m.eval()


@pytest.mark.parametrize("N,M,N2,M2,Na2", [(16, 24, 16, 48, None), (16, 24, 24, 48, None), (16, 24, 16, 24, 40),
                                          (16, 24, 24, 48, 32)])
def test_grown_model_reconstructs_the_same_and_costs_at_most_the_bound(N, M, N2, M2, Na2):
    torch.set_num_threads(1)
    src = small_trained_like(N, M, 3)
    dst = nm.grow(src, N2, M2, seed=5, Na2=Na2).eval()
    assert (dst.N, dst.M, dst.Na) == (N2, M2, Na2 or N2)
    assert dst.g_a[2].weight.shape[:2] == (Na2 or N2,) * 2 and dst.g_s[2].weight.shape[:2] == (N2, N2)
    torch.manual_seed(11)
    x = torch.rand(1, 3, 128, 192)
    levels = [0, 4, 9, 6.5]
    n_y, n_z = (M2 - M) * (128 // 16) * (192 // 16), (N2 - N) * (128 // 64) * (192 // 64)
    bound = nm.grow_rate_bound(n_y, n_z)
    assert bound < 8e-6 * n_y + 1e-8 * n_z + 1e-12      # 7.9e-6 bits per new latent, 6e-9 per new z
    for (b0, x0), (b1, x1) in zip(src.evaluate(x, levels), dst.evaluate(x, levels)):
        assert torch.allclose(x0, x1, atol=1e-5, rtol=0)
        assert torch.equal(torch.round(x0.clamp(0, 1) * 255), torch.round(x1.clamp(0, 1) * 255))
        # float32 sums of ~10^4 bits: a relative 1e-5 on top of the bound
        assert b0 <= b1 + 1e-5 * b0
        assert b1 - b0 <= bound + 1e-5 * b0
    # the training pass: the same reconstruction (straight-through rounding)
    lv = torch.tensor([1.0, 8.0])
    xb = torch.rand(2, 3, 128, 128)
    assert torch.allclose(src(xb, lv)["x_hat"], dst(xb, lv)["x_hat"], atol=1e-5, rtol=0)


def test_new_channels_receive_gradient():
    src = small_trained_like(16, 24, 4)
    dst = nm.grow(src, 16, 48, seed=1).train()
    xb = torch.rand(2, 3, 128, 128)
    out = dst(xb, torch.tensor([5.0, 9.0]))
    loss = (out["bits_y"] + out["bits_z"]).mean() / 128 ** 2 + 100 * (out["x_hat"] - xb).pow(2).mean()
    loss.backward()
    assert float(dst.g_a[6].weight.grad[24:].abs().sum()) > 0      # analysis rows of the new latents
    assert float(dst.h_s[4].weight.grad[24:48].abs().sum()) > 0     # their means
    assert float(dst.h_s[4].weight.grad[48 + 24:].abs().sum()) > 0  # their scales


def test_new_scale_keeps_the_reconstruction_and_costs_its_bound():
    src = small_trained_like(16, 24, 6)
    dst = nm.grow(src, 16, 48, seed=2, new_scale=0.3).eval()
    x = torch.rand(1, 3, 128, 128)
    n_y = 24 * 8 * 8
    bound = nm.grow_rate_bound(n_y, 0, new_scale=0.3)
    assert 0.14 * n_y < bound < 0.15 * n_y                   # 0.145 bits per new latent
    for (b0, x0), (b1, x1) in zip(src.evaluate(x, [2, 9]), dst.evaluate(x, [2, 9])):
        assert torch.equal(torch.round(x0.clamp(0, 1) * 255), torch.round(x1.clamp(0, 1) * 255))
        assert b1 - b0 <= bound + 1e-5 * b0 and b1 - b0 > 0.9 * bound
    with pytest.raises(ValueError):
        nm.grow(src, 16, 48, new_scale=0.05)


@pytest.mark.parametrize("N2,M2,Na2", [(16, 48, None), (24, 48, None), (24, 24, None), (16, 24, 32), (24, 48, 40)])
def test_grown_masks_mark_exactly_what_grow_added(N2, M2, Na2):
    src = small_trained_like(16, 24, 7)
    dst = nm.grow(src, N2, M2, seed=3, new_scale=0.2, Na2=Na2)
    masks = nm.grown_masks(dst, 16, 24)
    old = dict(src.named_parameters())
    assert set(masks) == set(old)
    for name, prm in dst.named_parameters():
        # the elements not marked are the source's, in the same order
        assert torch.equal(prm.detach()[~masks[name]], old[name].detach().flatten()), name
    assert any(bool(m.any()) for m in masks.values()) == ((N2, M2, Na2 or N2) != (16, 24, 16))
    if Na2:   # a wider analysis alone adds elements of the analysis only
        assert {k for k, m in nm.grown_masks(nm.grow(src, 16, 24, Na2=Na2), 16, 24).items() if m.any()} == \
            {k for k, _ in src.named_parameters() if k.startswith("g_a.")} - {"g_a.6.bias"}   # M outputs


def test_a_wider_analysis_is_described_for_the_engine_and_grows_from_a_record_s_widths():
    m = nm.grow(small_trained_like(16, 24, 2), 16, 24, Na2=32)
    arch = nm.describe(m)
    assert (arch["N"], arch["M"], arch["N_analysis"]) == (16, 24, 32)
    chain = [(layer["in"], layer["out"]) for layer in arch["g_a"] if "in" in layer]
    assert chain == [(3, 32), (32, 32), (32, 32), (32, 24)]
    assert [(layer["in"], layer["out"]) for layer in arch["g_s"] if "in" in layer] == [(24, 16), (16, 16), (16, 16), (16, 3)]
    again = nm.from_args({"N": 16, "M": 24, "Na": 32, "levels_below": 2})
    again.load_state_dict(m.state_dict())       # the same shapes
    assert nm.from_args({"N": 16, "M": 24, "levels_below": 2}).Na == 16


def test_grow_refuses_to_narrow():
    src = small_trained_like(16, 24, 1)
    with pytest.raises(ValueError):
        nm.grow(src, 8, 24)
    with pytest.raises(ValueError):
        nm.grow(nm.grow(src, 16, 24, Na2=32), 16, 24, Na2=24)


def test_training_on_a_level_subset_uses_only_those_levels(tmp_path, monkeypatch):
    import json

    train = train_module(tmp_path, monkeypatch)
    train.main(["--run", "lv", "--N", "8", "--M", "12", "--crop", "64", "--batch", "4", "--steps", "6",
                "--log-every", "3", "--levels", "7,9", "--levels-below", "2", "--val-levels", "",
                "--snapshot-every", "0"])
    with open(tmp_path / "lv" / "train.jsonl") as f:
        seen = {lv for line in f for lv in json.loads(line)["levels"]}
    assert seen == {"7", "9"}


def test_grown_lr_mult_scales_the_new_elements_updates(tmp_path, monkeypatch):
    """One training step of a model grown from a checkpoint, with and without --grown-lr-mult: the
    same start and the same batch, so the optimiser's updates agree, except that those of the
    elements the growth added are multiplied."""
    train = train_module(tmp_path, monkeypatch)
    src = small_trained_like(8, 12, 9)
    source = tmp_path / "small.pt"
    torch.save({"model": src.state_dict(), "args": {"N": 8, "M": 12, "levels_below": 2}, "step": 0}, source)
    common = ["--init-from", str(source), "--N", "8", "--M", "16", "--levels-below", "2", "--grow-scale", "0.3", "--crop", "64",
              "--batch", "2", "--steps", "1", "--val-levels", "", "--snapshot-every", "0", "--seed", "4"]
    train.main(["--run", "g1"] + common)
    train.main(["--run", "g10"] + common + ["--grown-lr-mult", "10"])
    start = nm.grow(src, 8, 16, new_scale=0.3)
    masks = nm.grown_masks(start, 8, 12)
    s0 = dict(start.named_parameters())
    s1 = torch.load(tmp_path / "g1" / "ckpt_latest.pt", weights_only=False)["model"]
    s10 = torch.load(tmp_path / "g10" / "ckpt_latest.pt", weights_only=False)["model"]
    moved = 0
    for name, m in masks.items():
        d1, d10 = s1[name] - s0[name].detach(), s10[name] - s0[name].detach()
        assert torch.allclose(d10[~m], d1[~m], atol=1e-7), name
        assert torch.allclose(d10[m], 10 * d1[m], atol=1e-6), name
        moved += int((d1[m] != 0).sum())
    assert moved > 0
    with pytest.raises(SystemExit):   # a model that was not grown has no new elements
        train.main(["--run", "g0", "--N", "8", "--M", "12", "--crop", "64", "--batch", "2", "--steps", "1",
                    "--val-levels", "", "--snapshot-every", "0", "--grown-lr-mult", "10"])


def test_a_synthesis_skip_path_starts_at_zero_and_trains_from_a_checkpoint(tmp_path, monkeypatch):
    """train.py --synthesis-skip from a checkpoint without one: the skip path (a stride-16 transposed
    convolution from the latents to the picture, of the picture's size) is added at zero, so the
    model first computes what the checkpoint does; one step moves it; a record cannot hold it."""
    src = small_trained_like(8, 12, 5)
    x = torch.rand(1, 3, 128, 192)
    with_skip = nm.MeanScaleHyperprior(8, 12, nm.ladder(2), synthesis_skip=True)
    missing, unexpected = with_skip.load_state_dict(src.state_dict(), strict=False)
    assert set(missing) == {"g_s.skip.weight", "g_s.skip.bias"} and not unexpected
    y = torch.rand(1, 12, 8, 12)
    assert with_skip.g_s.skip(y).shape == (1, 3, 128, 192)
    assert torch.equal(with_skip.eval().evaluate(x, [5])[0][1], src.evaluate(x, [5])[0][1])
    with pytest.raises(ValueError):
        nm.inference_state_dict(with_skip)
    train = train_module(tmp_path, monkeypatch)
    source = tmp_path / "small.pt"
    torch.save({"model": src.state_dict(), "args": {"N": 8, "M": 12, "levels_below": 2}, "step": 0}, source)
    train.main(["--run", "skip", "--init-from", str(source), "--N", "8", "--M", "12", "--levels-below", "2",
                "--synthesis-skip", "--skip-lr", "1e-3", "--crop", "64", "--batch", "2", "--steps", "1",
                "--val-levels", "", "--snapshot-every", "0"])
    ck = torch.load(tmp_path / "skip" / "ckpt_latest.pt", weights_only=False)
    assert ck["model"]["g_s.skip.weight"].abs().max() > 0
    trained = nm.from_args(ck["args"])
    trained.load_state_dict(ck["model"])
    assert trained.g_s.skip is not None
