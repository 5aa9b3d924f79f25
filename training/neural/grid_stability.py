#!/usr/bin/env python3
"""Re-encoding stability and rate of two quantisation grids for the latents, in PyTorch.

The codec quantises each latent on a grid centred on its predicted mean, y_hat = round(y - mean)
+ mean. A re-encode of a decoded image derives slightly different hyper-latents, so other
means, so another grid: the latents are coded again on shifted points, and the loss accumulates
over generations (docs/decisions/encoder-optimisation.md). The alternative measured here puts the
latents on the integers whatever the mean, y_hat = round(y): the mean then only sets the
probabilities, and a re-encode whose analysis lands within half a step of y_hat finds the same
symbols whatever its hyper-latents.

A simplified model of the codec's encoder (plain rounding, no dependent quantisation, no
consistency or fixed-point passes): the analysis, one refinement pass (docs/neural-codec.md),
rounded hyper-latents, the grid's rounding, the synthesis, the low-frequency colour correction
(64x64 block means in half levels, bilinear field) and 8-bit output, repeated --generations times
on the hold-out images (train.py's, central crops up to --max-side). Prints per quality the first
generation's PSNR, the loss after the last, and the rate of the first generation with three
codings of the symbols: the mean grid (today), the integer grid with probabilities that know the
mean's offset from the integers (tables per offset), and the integer grid coded as the integer
distance from round(mean) with probabilities centred there (the offset ignored, as today's tables would).

  python3 training/neural/grid_stability.py --from training/runs/neural/ctx_src/main_step104000.pt \\
      --qualities 10,58,90 --generations 20
"""

import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import train as T  # noqa: E402
from training.metrics import psnr  # noqa: E402  (train puts the repository root on the path)
from model import SCALE_BOUND, from_args, pad64, quality_to_level  # noqa: E402


def unit_bin_mass(k, mean, scale):
    """Gaussian mass of [k - 0.5, k + 0.5] (bounded like the training likelihoods)."""
    s = scale.clamp_min(SCALE_BOUND) * math.sqrt(2.0)
    return (0.5 * (torch.erf((k + 0.5 - mean) / s) - torch.erf((k - 0.5 - mean) / s))).clamp_min(1e-9)


def code(m, x, level, grid):
    """One generation: the decoded 8-bit image and the bits of its y symbols under the three codings."""
    gy = m.gain_y.at(level)
    t = m.g_a(x) * gy
    y = t + (t - m.g_a(m.g_s(t * m.gain_y_inv.at(level))) * gy)     # one refinement pass
    yg, z_hat = m.gained_latents(y / gy, level)
    mean, scale = m.hyper_params(z_hat, level)
    y_hat = torch.round(yg - mean) + mean if grid == "mean" else torch.round(yg)
    bits = {"mean grid": float(-torch.log2(unit_bin_mass(torch.round(yg - mean) + mean, mean, scale)).sum()),
            "integer grid, offset-aware tables": float(-torch.log2(unit_bin_mass(torch.round(yg), mean, scale)).sum()),
            "integer grid, coded from round(mean) (offset ignored)": float(-torch.log2(unit_bin_mass(
                torch.round(yg) - torch.round(mean), torch.zeros_like(mean), scale)).sum())}
    x_hat = m.g_s(y_hat * m.gain_y_inv.at(level))
    err = torch.round(F.avg_pool2d(x - x_hat, 64) * 510) / 510       # colour correction in half levels
    x_hat = x_hat + F.interpolate(err, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return torch.round(x_hat.clamp(0, 1) * 255) / 255, bits


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="src", required=True, help="a .pt checkpoint written by train.py")
    p.add_argument("--qualities", default="10,58,90")
    p.add_argument("--generations", type=int, default=20)
    p.add_argument("--max-side", type=int, default=512, help="central crops of the hold-out up to this side")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ck = torch.load(a.src, map_location="cpu", weights_only=False)
    args = ck["args"]
    m = from_args(args)
    m.load_state_dict(ck["model"])
    m.eval()
    ns = argparse.Namespace(data=data.DEFAULT_DATA, cache=os.path.join(T.RUNS, "cache"), val_max_side=a.max_side)
    _, val_names = data.split(data.list_images(ns.data))
    images = [pad64(x) for _, x in T.load_val(ns, val_names)]
    pixels = sum(x.shape[-1] * x.shape[-2] for x in images)
    with torch.no_grad():
        for q in [int(v) for v in a.qualities.split(",")]:
            level = torch.full((1,), float(quality_to_level(q, m.levels)))
            for grid in ("mean", "integer"):
                first, losses, bits = [], [], {}
                for x in images:
                    cur = x
                    for g in range(a.generations):
                        cur, b = code(m, cur, level, grid)
                        if g == 0:
                            first.append(psnr(cur, x))
                            for k, v in b.items():
                                bits[k] = bits.get(k, 0.0) + v
                    losses.append(first[-1] - psnr(cur, x))
                print(f"q{q} {grid} grid: generation 1 {sum(first) / len(first):.2f} dB, loss after "
                      f"{a.generations}: mean {sum(losses) / len(losses):.2f} dB ("
                      + " ".join(f"{v:.2f}" for v in losses) + ")", flush=True)
                if grid == "mean":
                    print(f"q{q} y bpp of generation 1: " + ", ".join(f"{k} {v / pixels:.4f}" for k, v in bits.items()),
                          flush=True)


if __name__ == "__main__":
    main()
