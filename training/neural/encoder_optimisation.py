#!/usr/bin/env python3
"""Encoder-side optimisation of the neural codec, measured with the PyTorch model on the hold-out.

With the codec frozen, an encoder may code other latents than the analysis gives, as long as they
cost less in bpp + lambda * 255^2 * MSE. Methods compared here, each from the same start:
  analysis   y = g_a(x), z = h_a(y): the plain encoder
  refine     one fixed-point pass y <- y + (t - g_a(g_s(y))) (the library's default encoder)
  latent-y   y optimised by Adam through g_s and the Gaussian rate, z (so the prior) kept fixed;
             soft rounding of y - mean annealed towards hard rounding (see `soft_round`)
  latent-y-sga   the same with stochastic annealed rounding (`sga_round`, what libnic's encoder does)
  latent-y-ste   the same with straight-through rounding
  latent-yz  y and z optimised together; the prior follows z
  substitute the input x' optimised through g_a, the rounding (straight through), the rate and g_s
Rates are the model's own likelihoods of the hard-rounded symbols (what rANS codes, to within its
table precision); PSNR after 8-bit rounding. BD-rate (PCHIP) of every method against `refine`.

  python3 training/neural/encoder_optimisation.py --record models/neural/<record>.safetensors \
      --levels 0,3,6,9 --steps 150 --max-side 512 [--images 3]

Images: the training run's fixed hold-out (data.split), never the evaluation sets.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
from bench.rdcurves import bd_rate  # noqa: E402
from training.files import neural_record  # noqa: E402
from training.metrics import psnr_of_mse  # noqa: E402
from training.neural import data  # noqa: E402
from training.neural.model import from_record, gaussian_likelihood  # noqa: E402


def load_record(path):
    """A record's model for inference: evaluation mode, no gradients."""
    model = from_record(path)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def soft_round(v, tau):
    """Annealed soft rounding: floor(v) + sigmoid((frac(v) - 1/2) / tau); tau -> 0 is rounding.
    Deterministic (no sampled noise), so an encoder that uses it codes the same bits every run."""
    fl = torch.floor(v)
    return fl + torch.sigmoid((v - fl - 0.5) / tau)


def sga_round(v, tau):
    """Stochastic annealed rounding (Yang et al. 2020): floor or ceil drawn with a Gumbel softmax
    whose logits favour the nearer integer; tau -> 0 is rounding."""
    fl = torch.floor(v)
    r = v - fl
    eps = 1e-5
    logits = torch.stack([-torch.atanh(r.clamp(-1 + eps, 1 - eps)) / tau,
                          -torch.atanh((1 - r).clamp(-1 + eps, 1 - eps)) / tau], dim=-1)
    w = F.gumbel_softmax(logits, tau=tau, hard=False)
    return fl + w[..., 1]


def ste_round_about(v):
    return v + (torch.round(v) - v).detach()


def tau_at(step, steps, start=0.5, end=0.02):
    return start * (end / start) ** (step / max(steps - 1, 1))


class Coder:
    def __init__(self, model, level):
        self.m = model
        self.level = torch.tensor([float(level)])
        self.lam = model.lambdas[level]
        self.gy, self.gyi = model.gain_y.at(self.level), model.gain_y_inv.at(self.level)
        self.gz, self.gzi = model.gain_z.at(self.level), model.gain_z_inv.at(self.level)

    def start(self, x, refine_steps=0):
        with torch.no_grad():
            t = self.m.g_a(x) * self.gy
            y = t.clone()
            for _ in range(refine_steps):
                y = y + (t - self.m.g_a(self.m.g_s(y * self.gyi)) * self.gy)
            z = self.m.h_a(y) * self.gz
        return y, z

    def measure(self, x, y, z, hw):
        """Hard-rounded bits and PSNR of coding latents (y, z) (z rounded, y rounded around the mean)."""
        with torch.no_grad():
            zh = torch.round(z)
            zb = -torch.log2(self.m.entropy_bottleneck.likelihood(zh)).sum()
            means, scales = self.m.hyper_params(zh, self.level)
            yh = torch.round(y - means) + means
            yb = -torch.log2(gaussian_likelihood(yh, means, scales)).sum()
            xh = self.m.g_s(yh * self.gyi)
            h, w = hw
            xh = torch.round(xh[..., :h, :w].clamp(0, 1) * 255) / 255
            mse = float(F.mse_loss(xh, x[..., :h, :w]))
        return float(yb + zb) / (h * w), psnr_of_mse(mse)

    def loss(self, x, x_hat, bits, pixels):
        return bits / pixels + self.lam * 255.0 ** 2 * F.mse_loss(x_hat, x)

    def descend(self, opt, x, yt, means, scales, z_bits):
        """One Adam step on the RD loss of coding yt (bits under the prior) plus z_bits."""
        yb = -torch.log2(gaussian_likelihood(yt, means, scales)).sum()
        loss = self.loss(x, self.m.g_s(yt * self.gyi), yb + z_bits, x.shape[2] * x.shape[3])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def optimise_latents(self, x, y0, z0, steps, lr, with_z, rounding="soft"):
        y = y0.clone().requires_grad_(True)
        z = z0.clone().requires_grad_(with_z)
        opt = torch.optim.Adam([y, z] if with_z else [y], lr=lr)
        with torch.no_grad():
            zh0 = torch.round(z0)
            means0, scales0 = self.m.hyper_params(zh0, self.level)
        for i in range(steps):
            tau = tau_at(i, steps)
            if with_z:
                zt = soft_round(z, tau)
                zb = -torch.log2(self.m.entropy_bottleneck.likelihood(zt)).sum()
                means, scales = self.m.hyper_params(zt, self.level)
            else:
                zb, means, scales = 0.0, means0, scales0
            if rounding == "soft":
                yt = soft_round(y - means, tau) + means
            elif rounding == "sga":
                yt = sga_round(y - means, tau) + means
            else:
                yt = ste_round_about(y - means) + means
            self.descend(opt, x, yt, means, scales, zb)
        return y.detach(), z.detach()

    def substitute(self, x, steps, lr):
        """Input substitution: optimise the image x' the encoder codes (straight-through rounding)."""
        xs = x.clone().requires_grad_(True)
        opt = torch.optim.Adam([xs], lr=lr)
        for _ in range(steps):
            y = self.m.g_a(xs) * self.gy
            z = self.m.h_a(y) * self.gz
            zt = z + (torch.round(z) - z).detach()
            zb = -torch.log2(self.m.entropy_bottleneck.likelihood(zt)).sum()
            means, scales = self.m.hyper_params(zt, self.level)
            yt = y + (torch.round(y - means) + means - y).detach()
            self.descend(opt, x, yt, means, scales, zb)
        with torch.no_grad():
            y = self.m.g_a(xs.detach()) * self.gy
            return y, self.m.h_a(y) * self.gz


def holdout(max_side, n):
    files = data.list_images(data.DEFAULT_DATA)
    _, val = data.split(files)
    out = []
    for rel in val[:n]:
        im = data.load(data.DEFAULT_DATA, rel)
        h, w = im.shape[:2]
        ch, cw = min(h, max_side) // 64 * 64, min(w, max_side) // 64 * 64
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        x = torch.from_numpy(im[y0:y0 + ch, x0:x0 + cw].copy()).permute(2, 0, 1)[None].float() / 255.0
        out.append((rel, x))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", default=neural_record(os.path.join(ROOT, "models")),
                   help="a neural codec record (default: the one models/neural/codec.json names)")
    p.add_argument("--levels", default="0,3,6,9")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--sub-lr", type=float, default=0.002)
    p.add_argument("--methods", default="analysis,refine,latent-y,latent-yz,substitute")
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--images", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", help="JSON results")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = load_record(a.record)
    levels = [int(v) for v in a.levels.split(",")]
    methods = a.methods.split(",")
    images = holdout(a.max_side, a.images)
    res = {m: {lv: [] for lv in levels} for m in methods}
    secs = {m: 0.0 for m in methods}
    for rel, x in images:
        hw = x.shape[2:]
        for lv in levels:
            c = Coder(model, lv)
            y0, z0 = c.start(x)
            for m in methods:
                t0 = time.time()
                if m == "analysis":
                    y, z = y0, z0
                elif m == "refine":
                    y, z = c.start(x, refine_steps=1)
                elif m in ("latent-y", "latent-yz"):
                    y, z = c.optimise_latents(x, y0, z0, a.steps, a.lr, with_z=(m == "latent-yz"))
                elif m in ("latent-y-sga", "latent-y-ste"):
                    y, z = c.optimise_latents(x, y0, z0, a.steps, a.lr, with_z=False, rounding=m.split("-")[-1])
                elif m == "substitute":
                    y, z = c.substitute(x, a.steps, a.sub_lr)
                else:
                    raise SystemExit(f"unknown method {m}")
                secs[m] += time.time() - t0
                bpp, psnr = c.measure(x, y, z, hw)
                res[m][lv].append((bpp, psnr))
                print(f"{rel} level {lv} {m:10s} {bpp:.4f} bpp {psnr:.2f} dB", file=sys.stderr, flush=True)
    curves = {m: ([float(np.mean([b for b, _ in res[m][lv]])) for lv in levels],
                  [float(np.mean([q for _, q in res[m][lv]])) for lv in levels]) for m in methods}
    ref = curves.get("refine") or curves[methods[0]]
    report = {"levels": levels, "steps": a.steps, "lr": a.lr, "images": [r for r, _ in images],
              "max_side": a.max_side, "curves": curves, "seconds": secs,
              "bd_rate_vs_refine": {m: bd_rate(ref[0], ref[1], *curves[m]) for m in methods}}
    for m in methods:
        bd = report["bd_rate_vs_refine"][m]
        pts = " ".join(f"{b:.3f}/{q:.2f}" for b, q in zip(*curves[m]))
        print(f"{m:10s} BD-rate vs refine {bd if bd is None else round(bd, 2)}%  {pts}  {secs[m]:.0f} s")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
