"""Spatially scalable neural coding: one bitstream, several sizes of one picture.

    layer 0 (base):  the neural codec (training/neural/model.py, frozen) codes the smallest version
    layer k >= 1:    pred_k = LIFF(recon_{k-1}) up-scaled to the size of version k
                     the residual version_k - pred_k is coded by a residual codec, shared by
                     every enhancement layer: recon_k = pred_k + decoded residual (8-bit)

The residual codec is the same mean-scale hyperprior with gain levels as the image codec (another
set of weights, started from the image codec's), so one quality level picks the operating point
of every layer, and the decoder of a layer is the codec's decoder plus a LIFF pass and an
addition. Sizes are free: any factor from 1 to 4 between neighbouring layers, odd sizes included
(every codec input is padded to a multiple of 64 by repeating edges, and cropped back).

With a `Fusion` (train.py --fusion; PyTorch only, libnic does not run it) the reconstruction is
conditioned on the prediction: recon_k = pred_k + r + F(r, pred_k), F a small network at half
resolution that starts at zero (so the codec starts as the plain residual one). With a `Condition`
(train.py --condition; PyTorch only as well) the residual codec's analysis and synthesis read the
prediction too; its entropy model does not (the decoder's tables must not depend on floating point).
With a `LowerPrior` (train.py --lower-prior; PyTorch only) the entropy model reads what a decoder
has exactly of the layer below: its latents.

Training (train.py): the combined rate-distortion loss over the enhancement layers with the one
lambda of the level; the base layer frozen and coded with real rounding; in the enhancement
layers noisy latents for the rate and straight-through rounded ones for the reconstruction that
the next layer predicts from.
"""

import torch
import torch.nn.functional as F
from torch import nn

from training.liff.model import LIFF
from training.neural.model import LRELU_SLOPE, MeanScaleHyperprior, conv, pad64, quantize8_ste


def round8(x):
    """A decoder's output picture: clamped to [0, 1] and rounded to 8 bits."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def layer_sizes(top, factors):
    """Sizes (h, w) of every layer, smallest first, from the top layer's size and the factor of
    each step (top down: factors[-1] relates the two largest layers). Each size is the larger one
    divided by its factor, rounded, at least 1 and at most 4 times smaller."""
    sizes = [tuple(top)]
    for f in reversed(factors):
        h, w = sizes[0]
        sizes.insert(0, tuple(min(n, max(1, int(round(n / f)), -(-n // 4))) for n in (h, w)))
    return sizes


class Fusion(nn.Module):
    """F(r, pred): the decoded residual and the prediction, pixel-unshuffled by 2 (24 channels), through
    `depth` 3x3 convolutions of `hidden` channels with leaky ReLU and a last 3x3 convolution to 12
    channels, pixel-shuffled back. The last convolution starts at zero. Odd sizes are padded by
    repeating the last row or column and cropped back."""

    def __init__(self, hidden=32, depth=2):
        super().__init__()
        layers, c = [], 24
        for _ in range(depth):
            layers += [nn.Conv2d(c, hidden, 3, padding=1), nn.LeakyReLU(0.1)]
            c = hidden
        last = nn.Conv2d(c, 12, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*layers, last)

    def forward(self, r, pred):
        h, w = r.shape[-2:]
        x = F.pad(torch.cat([r, pred], 1), (0, w % 2, 0, h % 2), mode="replicate")
        return F.pixel_shuffle(self.body(F.pixel_unshuffle(x, 2)), 2)[..., :h, :w]


def _keeping(g_s, kept):
    """A synthesis that keeps its input in kept["y"]."""
    def run(y):
        kept["y"] = y
        return g_s(y)
    return run


def _zero(module):
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


class Condition(nn.Module):
    """The residual codec's analysis and synthesis conditioned on the prediction (both padded alike).
    Analysis: a 5x5 stride-2 convolution of the prediction is added to the output of its first
    convolution. Synthesis: features of the prediction, 3x3 stride-2 convolutions of `hidden`
    channels with leaky ReLU at 1/2, 1/4 and 1/8 of the layer's resolution, each added through a 1x1
    convolution to the output of the synthesis' transposed convolution at that resolution
    (children 4, 2, 0). The convolutions that add start at zero: the codec starts as the plain
    residual one. The features cost about 1,600 multiply-adds per pixel at hidden 32 and N 64."""

    SYNTHESIS_CHILDREN = (4, 2, 0)   # their outputs are at 1/2, 1/4, 1/8

    def __init__(self, Na, N, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.analysis = _zero(conv(3, Na, 5, 2))
        self.features = nn.ModuleList(
            nn.Sequential(conv(c, hidden, 3, 2), nn.LeakyReLU(LRELU_SLOPE)) for c in (3, hidden, hidden))
        self.inject = nn.ModuleList(_zero(conv(hidden, N, 1, 1)) for _ in self.SYNTHESIS_CHILDREN)

    def transforms(self, residual: MeanScaleHyperprior, pred):
        """The conditioned analysis and synthesis (keywords g_a, g_s of MeanScaleHyperprior.forward
        and evaluate) for one padded prediction."""
        def g_a(x):
            h = residual.g_a[0](x) + self.analysis(pred)
            for m in residual.g_a[1:]:
                h = m(h)
            return h

        add, f = {}, pred
        for stage, inject, child in zip(self.features, self.inject, self.SYNTHESIS_CHILDREN):
            f = stage(f)
            add[child] = inject(f)
        return {"g_a": g_a, "g_s": lambda y: residual.g_s(y, add)}


def nearest_rows(n, size, lower_size):
    """For each of the n latent rows (or columns) of a layer `size` pixels long, the row of the
    latents of a layer `lower_size` pixels long under its centre: ((16 i + 8) lower) // (16 size),
    integers only, clamped to the lower layer's latent rows (the padding maps beyond them)."""
    lower_n = -(-lower_size // 64) * 4
    return [min(lower_n - 1, ((16 * i + 8) * lower_size) // (16 * size)) for i in range(n)]


class LowerPrior(nn.Module):
    """The residual codec's entropy model also reads the latents of the layer below (its synthesis
    input y_hat / gain, which a decoder has exactly, being symbols plus exactly computed means),
    resampled to this layer's latent grid by `nearest_rows`: a 3x3 convolution of them to `hidden`
    channels, leaky ReLU, and a 3x3 convolution to the 2M outputs of the hyper-synthesis (means,
    scales), added to them. The last convolution starts at zero: the codec starts as the plain
    residual one."""

    def __init__(self, M_lower, M, hidden=64):
        super().__init__()
        self.hidden = hidden
        self.body = nn.Sequential(conv(M_lower, hidden, 3, 1), nn.LeakyReLU(LRELU_SLOPE), _zero(conv(hidden, 2 * M, 3, 1)))

    def hyper_synthesis(self, residual: MeanScaleHyperprior, lower, lower_size, size):
        """The hyper-synthesis (keyword h_s) of a layer of `size` (h, w) pixels whose layer below,
        of `lower_size`, has the latents `lower` [1, M_lower, ., .]."""
        n_h, n_w = (-(-n // 64) * 4 for n in size)
        rows = nearest_rows(n_h, size[0], lower_size[0])
        cols = nearest_rows(n_w, size[1], lower_size[1])
        extra = self.body(lower[:, :, rows][:, :, :, cols])
        return lambda z: residual.h_s(z) + extra


def experiments(residual: MeanScaleHyperprior, fusion=None, condition=None, lower_prior=None):
    """(Fusion, Condition, LowerPrior) for the residual codec from train.py's settings of them
    (--fusion HIDDEN DEPTH, --condition HIDDEN, --lower-prior HIDDEN), None for each one that is off."""
    return (Fusion(*fusion) if fusion else None,
            Condition(residual.Na, residual.N, condition) if condition else None,
            LowerPrior(residual.M, residual.M, lower_prior) if lower_prior else None)


class LayeredCodec(torch.nn.Module):
    def __init__(self, base: MeanScaleHyperprior, liff: LIFF, residual: MeanScaleHyperprior, fusion=None,
                 condition=None, lower_prior=None):
        super().__init__()
        if residual.levels != base.levels:
            raise ValueError(f"the residual codec has {residual.levels} levels, the base {base.levels}")
        if lower_prior is not None and base.M != residual.M:
            raise ValueError(f"a lower prior reads the base's {base.M} and the residual's {residual.M} latent channels alike")
        self.base, self.liff, self.residual, self.fusion = base, liff, residual, fusion
        self.condition, self.lower_prior = condition, lower_prior
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.base.eval()

    def train(self, mode=True):
        super().train(mode)
        self.base.eval()   # frozen: never in training mode
        return self

    def reconstruction(self, pred, r):
        """An enhancement layer's picture before rounding, from its prediction and decoded residual."""
        return pred + r if self.fusion is None else pred + r + self.fusion(r, pred)

    def residual_transforms(self, pred, lower, kept):
        """Keywords for the residual codec's forward and evaluate for the layer of prediction
        `pred`: the conditioned transforms, the prior that reads `lower` (the layer below: (latents,
        size)), and a synthesis that keeps its input (this layer's latents) in `kept["y"]`."""
        t = {} if self.condition is None else self.condition.transforms(self.residual, pad64(pred))
        if self.lower_prior is not None:
            t["h_s"] = self.lower_prior.hyper_synthesis(self.residual, *lower, tuple(pred.shape[-2:]))
        return t | {"g_s": _keeping(t.get("g_s", self.residual.g_s), kept)}

    @torch.no_grad()
    def code_base(self, x, level, kept=None):
        """(bits, 8-bit reconstruction) of the base layer, real rounding. x: (1, 3, h, w). With
        `kept` (a dict), its latents (the synthesis' input) are kept in kept["y"]."""
        h, w = x.shape[-2:]
        g_s = None if kept is None else _keeping(self.base.g_s, kept)
        bits, x_hat = self.base.evaluate(pad64(x), [level], g_s=g_s)[0]
        return bits, round8(x_hat[..., :h, :w])

    def forward(self, versions, level):
        """Training pass over one picture. versions: [(1, 3, h_k, w_k)] smallest first, in [0, 1];
        level: int. Returns per enhancement layer (bits, mse), with gradients, and the base bits."""
        kept = {}
        base_bits, recon = self.code_base(versions[0], level, kept)
        lower = (kept["y"], tuple(versions[0].shape[-2:]))
        lv = torch.full((1,), float(level))
        layers = []
        for x in versions[1:]:
            h, w = x.shape[-2:]
            pred = self.liff(recon, h, w)
            out = self.residual(pad64(x - pred), lv, **self.residual_transforms(pred, lower, kept))
            x_hat = self.reconstruction(pred, out["x_hat"][..., :h, :w])
            layers.append((out["bits_y"][0] + out["bits_z"][0], (x_hat - x).pow(2).mean()))
            recon = quantize8_ste(x_hat.clamp(0, 1))
            lower = (kept["y"], (h, w))
        return base_bits, layers

    @torch.no_grad()
    def code(self, versions, level, lower_offset=0.0):
        """Real coding of every layer (rounded latents, rate from the model's likelihoods of the
        symbols): [(bits, 8-bit reconstruction)] per layer, smallest first. Every layer below the
        top one is coded at level + lower_offset (at most the top level of the ladder; levels
        between the trained ones interpolate the gains as qualities do), the top one at level."""
        top = len(versions) - 1
        at = [level if k == top else min(level + lower_offset, self.base.levels - 1) for k in range(top + 1)]
        kept = {}
        bits, recon = self.code_base(versions[0], at[0], kept)
        lower = (kept["y"], tuple(versions[0].shape[-2:]))
        out = [(bits, recon)]
        for k, x in enumerate(versions[1:], 1):
            h, w = x.shape[-2:]
            pred = self.liff(recon, h, w, row_chunk=64)
            t = self.residual_transforms(pred, lower, kept)
            bits, r_hat = self.residual.evaluate(pad64(x - pred), [at[k]], **t)[0]
            recon = round8(self.reconstruction(pred, r_hat[..., :h, :w]))
            out.append((bits, recon))
            lower = (kept["y"], (h, w))
        return out
