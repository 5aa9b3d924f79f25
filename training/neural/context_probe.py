#!/usr/bin/env python3
"""How much of a plain model's latent rate a context branch can remove with the model frozen.

    python3 training/neural/context_probe.py --from training/runs/neural/<run>/ckpt_latest.pt \\
        --context checkerboard --minutes 20

Adds the branch to the checkpoint's model (model.add_context: the corrections start at zero) and
trains only the branch, on the rate of y with the training pass's conventions (uniform noise for
the likelihoods, the anchors read as straight-through rounded y_hat): analysis, hyperprior and
synthesis stay as they are, so the latents of training crops are computed once. Reports on the
hold-out, with rounded latents, the bpp of y without and with the branch per level (and at the
end the PSNR of both, which moves only through the means' rounding offsets), and the same saving
on some of the trained crops, on --unseen crops of the training images that it does not train on
(the gap between the two is over-fitting) and on the hold-out cut into crop-sized tiles (the
effect of the image size). The branch's share with transforms that were not trained for it, in
minutes; `train.py --context` trains the branch and the transforms together.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import train as T  # noqa: E402
from training.metrics import psnr_of_mse  # noqa: E402  (train puts the repository root on the path)
from model import CONTEXTS, add_context, from_args, gaussian_likelihood, pad64, ste_round  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="src", required=True, help="a plain model's .pt checkpoint written by train.py")
    p.add_argument("--context", choices=CONTEXTS, default="checkerboard")
    p.add_argument("--crops", type=int, default=512, help="training crops")
    p.add_argument("--levels-per-crop", type=int, default=2,
                   help="each crop's latents at this many random levels of the ladder (the same per batch of 8)")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--unseen", type=int, default=64, help="of the crops, this many are not trained on (a check)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--minutes", type=float, default=20.0, help="stop training after this many minutes")
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--val-levels", default="0,2,6,9")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save", default=None, help="write the trained branch's weights here (.pt)")
    p.add_argument("--log", default=None, help="also append the validations to this JSONL file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    ck = torch.load(a.src, map_location="cpu", weights_only=False)
    args = ck["args"]
    plain = from_args(args)
    plain.load_state_dict(ck["model"])
    m = add_context(plain, a.context).eval()
    for q in m.parameters():
        q.requires_grad_(False)
    params = m.context_parameters()
    for q in params:
        q.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=a.lr)

    train_names, val_names = data.split(data.list_images(args.get("data", data.DEFAULT_DATA)))
    root, cache = args.get("data", data.DEFAULT_DATA), args.get("cache", data.DEFAULT_CACHE)

    @torch.no_grad()
    def latents(x, levels):
        """[(level, y gained, hyper means, hyper scales)] of image batch x at each level."""
        y = m.g_a(x)
        out = []
        for lv in levels:
            level = torch.full((x.shape[0],), float(lv))
            yg, z_hat = m.gained_latents(y, level)
            out.append((lv, yg) + m.hyper_params(z_hat, level))
        return out

    t0 = time.time()
    sampler = data.CropSampler([data.load(root, n, cache) for n in train_names], a.crop, a.seed)
    xs = torch.from_numpy(sampler.batch(a.crops)).permute(0, 3, 1, 2).float() / 255.0
    samples, unseen = [], []
    for i in range(0, a.crops, 8):
        dest = unseen if i >= a.crops - a.unseen else samples
        levels = sorted(np.random.default_rng(a.seed + i).choice(m.levels, a.levels_per_crop, replace=False))
        for _, yg, hm, hs in latents(xs[i:i + 8], levels):
            dest += [(yg[j], hm[j], hs[j]) for j in range(yg.shape[0])]
    ns = argparse.Namespace(data=root, cache=cache, val_max_side=768)
    val_levels = [int(v) for v in a.val_levels.split(",")]
    val, tiles = [], []
    for _, x in T.load_val(ns, val_names):
        val.append((x, latents(pad64(x), val_levels)))
        h, w = x.shape[-2:]
        for i in range(0, h - a.crop + 1, a.crop):
            for j in range(0, w - a.crop + 1, a.crop):
                tiles.append(latents(x[..., i:i + a.crop, j:j + a.crop], val_levels))
    print(f"latents of {a.crops} crops x {a.levels_per_crop} levels and {len(val)} hold-out images "
          f"({time.time() - t0:.0f} s)", flush=True)

    @torch.no_grad()
    def validate(step, psnr=False):
        res = {}
        for k, lv in enumerate(val_levels):
            bits0 = bits1 = pixels = 0.0
            ps0, ps1 = [], []
            for x, lat in val:
                _, yg, hm, hs = lat[k]
                cm, cs = m.context_params(torch.round(yg - hm) + hm, hm, hs)
                y0, y1 = torch.round(yg - hm) + hm, torch.round(yg - cm) + cm
                bits0 += float(-torch.log2(gaussian_likelihood(y0, hm, hs)).sum())
                bits1 += float(-torch.log2(gaussian_likelihood(y1, cm, cs)).sum())
                h, w = x.shape[-2:]
                pixels += h * w
                if psnr:
                    level = torch.full((1,), float(lv))
                    for yh, acc in ((y0, ps0), (y1, ps1)):
                        xh = m.g_s(yh * m.gain_y_inv.at(level))[..., :h, :w]
                        mse = float((torch.round(xh.clamp(0, 1) * 255) / 255 - x).pow(2).mean())
                        acc.append(psnr_of_mse(mse))
            r = {"y_bpp_plain": bits0 / pixels, "y_bpp_context": bits1 / pixels,
                 "y_saving": 1 - bits1 / bits0}
            if psnr:
                r.update(psnr_plain=float(np.mean(ps0)), psnr_context=float(np.mean(ps1)))
            res[str(lv)] = r
        # the same on the training crops (rounded latents; over-fitting shows here) and the noisy-latent
        # rate of the hold-out (what training minimises)
        def saving(items):
            b0 = b1 = 0.0
            for yg, hm, hs in items:
                cm, cs = m.context_params(torch.round(yg - hm) + hm, hm, hs)
                b0 += float(-torch.log2(gaussian_likelihood(torch.round(yg - hm) + hm, hm, hs)).sum())
                b1 += float(-torch.log2(gaussian_likelihood(torch.round(yg - cm) + cm, cm, cs)).sum())
            return 1 - b1 / b0

        def single(items):
            return [(yg[None], hm[None], hs[None]) for yg, hm, hs in items]

        checks = {"trained_crops": saving(single(samples[::max(len(samples) // 96, 1)])),
                  "unseen_crops": saving(single(unseen)),
                  "hold_out_tiles": {str(lv): saving([t[k][1:] for t in tiles]) for k, lv in enumerate(val_levels)}}
        rec = {"y_saving_checks": checks, "step": step, "minutes": round((time.time() - t0) / 60, 1), "levels": res}
        print("val", json.dumps(rec), flush=True)
        if a.log:
            with open(a.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    validate(0)
    gen = np.random.default_rng(a.seed)
    step, t_start, run = 0, time.time(), 0.0
    while step < a.steps and time.time() - t_start < a.minutes * 60:
        idx = gen.choice(len(samples), a.batch, replace=False)
        yg, hm, hs = (torch.stack([samples[i][k] for i in idx]) for k in range(3))
        cm, cs = m.context_params(ste_round(yg - hm) + hm, hm, hs)
        bits = -torch.log2(gaussian_likelihood(yg + torch.empty_like(yg).uniform_(-0.5, 0.5), cm, cs)).sum()
        loss = bits / (a.batch * a.crop * a.crop)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        run = 0.98 * run + 0.02 * float(loss.detach()) if step > 1 else float(loss.detach())
        if step % 50 == 0:
            print(f"step {step}: training y bpp {run:.5f}", flush=True)
        if step % a.val_every == 0:
            validate(step)
    validate(step, psnr=True)
    if a.save:
        torch.save({"context": a.context, "source": a.src, "steps": step,
                    "branch": {k: v for k, v in m.state_dict().items()
                               if k.startswith(("context.", "entropy_parameters."))}}, a.save)


if __name__ == "__main__":
    main()
