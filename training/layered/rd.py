"""Rate-distortion of layered coding against its two references, in PyTorch (rate: the models'
likelihoods of the rounded symbols; PSNR: RGB, 8-bit):

- layered:      the top layer's PSNR against the bits of all layers (base + enhancement layers);
- simulcast:    every version coded on its own by the image codec, bits summed, the top one's PSNR;
- single layer: the top version alone coded by the image codec.

A configuration is the list of factors between neighbouring layers, smallest first; every
version is the bicubic antialiased down-scale of the picture, rounded to 8 bits.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from bench.rdcurves import bd_rate
from training.layered.model import layer_sizes, round8


def versions_of(picture, factors):
    """[(1, 3, h, w)] smallest first; the last one is the picture itself."""
    sizes = layer_sizes(picture.shape[-2:], factors)
    out = [round8(F.interpolate(picture, size=s, mode="bicubic", antialias=True, align_corners=False))
           for s in sizes[:-1]]
    return out + [picture]


def psnr(a, b):
    mse = torch.mean((torch.round(a * 255) - torch.round(b * 255)) ** 2).item()
    return 10 * math.log10(255 ** 2 / max(mse, 1e-10))


@torch.no_grad()
def measure(codec, pictures, configs, levels):
    """{config name: {"levels", "layered", "simulcast", "single" (each: bpp and psnr lists, means
    over the pictures, bpp counted over the top layer's pixels), "bd_vs_simulcast",
    "bd_vs_single", "layer_psnr" (mean PSNR of every layer at each level)}}."""
    codec.eval()
    results = {}
    for factors in configs:
        name = "x" + ",x".join(f"{f:g}" for f in factors)
        acc = {k: np.zeros((len(levels), 2)) for k in ("layered", "simulcast", "single")}
        layer_psnr = np.zeros((len(levels), len(factors) + 1))
        for picture in pictures:
            vs = versions_of(picture, factors)
            pixels = vs[-1].shape[-2] * vs[-1].shape[-1]
            for i, level in enumerate(levels):
                layers = codec.code(vs, level)
                acc["layered"][i] += (sum(b for b, _ in layers) / pixels, psnr(layers[-1][1], vs[-1]))
                layer_psnr[i] += [psnr(r, v) for (_, r), v in zip(layers, vs)]
                alone = [codec.code_base(v, level) for v in vs]
                acc["simulcast"][i] += (sum(b for b, _ in alone) / pixels, psnr(alone[-1][1], vs[-1]))
                acc["single"][i] += (alone[-1][0] / pixels, psnr(alone[-1][1], vs[-1]))
        n = len(pictures)
        curves = {k: {"bpp": (v[:, 0] / n).round(5).tolist(), "psnr": (v[:, 1] / n).round(3).tolist()}
                  for k, v in acc.items()}
        lay = curves["layered"]
        results[name] = {
            "levels": list(levels), **curves,
            "bd_vs_simulcast": bd_rate(curves["simulcast"]["bpp"], curves["simulcast"]["psnr"], lay["bpp"], lay["psnr"]),
            "bd_vs_single": bd_rate(curves["single"]["bpp"], curves["single"]["psnr"], lay["bpp"], lay["psnr"]),
            "layer_psnr": (layer_psnr / n).round(3).tolist(),
        }
    return results
