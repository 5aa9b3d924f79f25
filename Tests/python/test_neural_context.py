"""training/neural/model.py's checkerboard context model: added to a plain model (add_context) it
computes exactly what the plain model does; the anchors' means and scales never depend on the
non-anchors, and a non-anchor's depend only on anchors (a two-pass decoder can follow it); its new
weights get gradient. Skipped where PyTorch is missing.
"""

import os
import sys

import pytest

torch = pytest.importorskip("torch")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "training", "neural"))
import model as nm  # noqa: E402
from test_neural_grow import small_trained_like, train_module  # noqa: E402


def with_random_context(src, seed):
    """A context model whose branch is away from its zero start (a trained one)."""
    m = nm.add_context(src, "checkerboard")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for q in m.context_parameters():
            q.copy_(0.05 * torch.randn(q.shape, generator=gen))
        m.context.weight.mul_(m.context.mask)
    return m


def test_context_model_starts_as_the_plain_model():
    torch.set_num_threads(1)
    src = small_trained_like(16, 24, 3)
    dst = nm.add_context(src, "checkerboard").eval()
    assert dst.context_kind == "checkerboard" and src.context_kind is None
    torch.manual_seed(11)
    x = torch.rand(1, 3, 128, 192)
    for (b0, x0), (b1, x1) in zip(src.evaluate(x, [0, 4, 9, 6.5]), dst.evaluate(x, [0, 4, 9, 6.5])):
        assert b0 == pytest.approx(b1, rel=1e-6, abs=0)
        assert torch.equal(x0, x1)
    # the training pass: the same noise gives the same bits and reconstruction
    lv = torch.tensor([1.0, 8.0])
    xb = torch.rand(2, 3, 128, 128)
    outs = []
    for m in (src.train(), dst.train()):
        torch.manual_seed(5)
        outs.append(m(xb, lv))
    for k in ("bits_y", "bits_z", "x_hat"):
        assert torch.allclose(outs[0][k], outs[1][k], rtol=1e-6, atol=1e-6), k
    # the plain state dict is a subset of the context model's; add_context leaves the caller's random stream
    assert set(src.state_dict()) < set(dst.state_dict())
    torch.manual_seed(1)
    nm.add_context(src, "checkerboard")
    after = torch.rand(1)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(1), after)


def test_anchors_never_depend_on_non_anchors_and_non_anchors_only_on_anchors():
    torch.manual_seed(2)
    M, H, W = 8, 9, 10
    m = with_random_context(nm.MeanScaleHyperprior(8, M, nm.ladder(0)), seed=4)
    y_hat = 3 * torch.randn(1, M, H, W)
    means, scales = torch.randn(1, M, H, W), torch.rand(1, M, H, W) + 0.2
    anchors = nm.checkerboard_anchors(H, W)[0, 0]
    mu0, s0 = m.context_params(y_hat, means, scales)
    # anchors: exactly the hyperprior's
    assert torch.equal(mu0[..., anchors], means[..., anchors])
    assert torch.equal(s0[..., anchors], scales[..., anchors])
    # perturbing a non-anchor latent changes nothing
    for (i, j) in [(0, 1), (4, 5), (8, 9), (3, 0)]:
        assert not anchors[i, j]
        y2 = y_hat.clone()
        y2[0, :, i, j] += 5.0
        mu, s = m.context_params(y2, means, scales)
        assert torch.equal(mu, mu0) and torch.equal(s, s0)
    # perturbing an anchor changes only non-anchors, and only within the 5x5 neighbourhood
    i, j = 4, 4
    assert anchors[i, j]
    y2 = y_hat.clone()
    y2[0, :, i, j] += 5.0
    mu, s = m.context_params(y2, means, scales)
    changed = ((mu != mu0) | (s != s0)).any(1)[0]
    assert changed.any()
    assert not (changed & anchors).any()
    rows, cols = changed.nonzero(as_tuple=True)
    assert int((rows - i).abs().max()) <= 2 and int((cols - j).abs().max()) <= 2
    # the full model codes every anchor with the hyperprior's parameters alone
    x = torch.rand(1, 3, 128, 128)
    level = torch.full((1,), 5.0)
    yg = m.g_a(x) * m.gain_y.at(level)
    z_hat = torch.round(m.h_a(yg) * m.gain_z.at(level))
    hm, hs = m.hyper_params(z_hat, level)
    cm, cs = m.context_params(torch.round(yg - hm) + hm, hm, hs)
    a = nm.checkerboard_anchors(*yg.shape[-2:])[0, 0]
    assert torch.equal(cm[..., a], hm[..., a]) and not torch.equal(cm[..., ~a], hm[..., ~a])


def test_context_weights_receive_gradient():
    src = small_trained_like(16, 24, 4)
    m = nm.add_context(src, "checkerboard").train()
    xb = torch.rand(2, 3, 128, 128)

    def loss():
        m.zero_grad()
        out = m(xb, torch.tensor([5.0, 9.0]))
        (out["bits_y"].mean() / 128 ** 2 + 100 * (out["x_hat"] - xb).pow(2).mean()).backward()

    loss()      # at the start only the zero-initialised last layer can move
    assert float(m.entropy_parameters[4].weight.grad.abs().sum()) > 0
    with torch.no_grad():
        m.entropy_parameters[4].weight.normal_(0, 1e-3)
    loss()
    for q in m.context_parameters():
        assert float(q.grad.abs().sum()) > 0
    g = m.context.weight.grad
    assert float(g[..., m.context.mask[0, 0] == 0].abs().sum()) == 0   # the masked taps stay zero
    assert float(g[..., m.context.mask[0, 0] == 1].abs().sum()) > 0


def test_context_description_and_inference_state_dict_round_trip():
    m = with_random_context(small_trained_like(16, 24, 5), seed=1).eval()
    arch = nm.describe(m)
    assert arch["context"]["type"] == "checkerboard"
    assert len(arch["context"]["context"]["taps"]) == 12
    assert nm.context_macs_per_pixel(96) == 720
    sd = nm.inference_state_dict(m)
    m2 = nm.MeanScaleHyperprior(16, 24, nm.ladder(2), context="checkerboard")
    nm.load_inference_state_dict(m2, sd)
    x = torch.rand(1, 3, 128, 128)
    (b0, x0), = m.evaluate(x, [7])
    (b1, x1), = m2.eval().evaluate(x, [7])
    assert b0 == pytest.approx(b1, rel=1e-5) and torch.allclose(x0, x1, atol=1e-5)
    with pytest.raises(ValueError):
        nm.add_context(m, "checkerboard")
    with pytest.raises(ValueError):
        nm.grow(m, 16, 48)


def test_train_adds_a_context_to_a_plain_checkpoint(tmp_path, monkeypatch):
    train = train_module(tmp_path, monkeypatch)
    common = ["--N", "8", "--M", "12", "--crop", "64", "--batch", "2", "--log-every", "2", "--val-levels", "",
              "--snapshot-every", "0", "--levels-below", "2"]
    train.main(["--run", "plain", "--steps", "2"] + common)
    plain = str(tmp_path / "plain" / "ckpt_latest.pt")
    train.main(["--run", "cb", "--steps", "2", "--init-from", plain, "--context", "checkerboard",
                "--context-lr", "1e-3"] + common)
    ck = torch.load(tmp_path / "cb" / "ckpt_latest.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 4 and ck["args"]["context"] == "checkerboard"
    assert [g["lr"] for g in ck["opt"]["param_groups"]] == [1e-4, 1e-3]
    assert any("context.weight" == k for k in ck["model"])
