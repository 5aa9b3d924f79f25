#!/usr/bin/env python3
"""How far the neural codec's top quality is from what its transforms can represent at all.

  python3 training/neural/floor.py --record models/neural/n64m96_104k.safetensors [--pca 96,192,320]
  python3 training/neural/floor.py --record training/runs/neural/RUN/ckpt_latest.pt --levels 6,9

On the training hold-out (learning_curve.holdout_crops: the 6 photos, centre crops <= 768 px), per
gain level:
- **coded**: bpp and RGB PSNR with real rounding on the means' grid (model likelihoods);
- **floor**: the PSNR of the synthesis of the analysis' own latents, unquantised
  (g_s(y * gain * gain_inv)): the reconstruction no rate can improve on. When the coded PSNR of
  the top levels sits just under it, the transforms, not the quantisation, bound the quality.

With --pca K,...: the **linear bound** of K numbers per 16x16 block (the latent grid's stride
at the record's M = K channels): principal components of the RGB blocks of the training images
(2,000 blocks per image, fixed seed), each hold-out block projected on the first K, 8-bit
output. A nonlinear transform with overlapping support can do better than this with as many
latents; one far below it does not use its channels. Hold-out images only.
"""

import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))   # the repository root, for `training`
from training.metrics import psnr_of_mse  # noqa: E402
from training.neural import data  # noqa: E402
from training.neural.finetune_decoder import load_source  # noqa: E402
from training.neural.learning_curve import holdout_crops  # noqa: E402
from training.neural.model import pad64  # noqa: E402

BLOCK = 16


def psnr8(x_hat, x):
    """RGB PSNR of the 8-bit output x_hat against x (both in [0, 1])."""
    return psnr_of_mse(float((torch.round(x_hat.clamp(0, 1) * 255) / 255 - x).pow(2).mean()))


@torch.no_grad()
def coded_and_floor(model, crop, levels):
    """{level: (bpp, coded PSNR, floor PSNR)} of one crop (H, W, 3 uint8)."""
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
    h, w = crop.shape[:2]
    xp = pad64(x)
    y = model.g_a(xp)
    out = {}
    for lv, (bits, x_hat) in zip(levels, model.evaluate(xp, levels, g_a=lambda _: y)):
        level = torch.full((1,), float(lv))
        unquantised = model.g_s(y * model.gain_y.at(level) * model.gain_y_inv.at(level))
        out[lv] = (bits / (h * w), psnr8(x_hat[..., :h, :w], x), psnr8(unquantised[..., :h, :w], x))
    return out


def blocks(im, block=BLOCK):
    """The image's whole block x block RGB blocks as rows of block * block * 3 values in [0, 1]."""
    h, w = im.shape[0] // block * block, im.shape[1] // block * block
    x = im[:h, :w].astype(np.float64) / 255
    return x.reshape(h // block, block, w // block, block, 3).transpose(0, 2, 1, 3, 4).reshape(-1, block * block * 3)


def principal_components(images, per_image=2000, seed=0):
    """(mean, components as columns, strongest first) of the blocks of `images`."""
    rng = np.random.default_rng(seed)
    rows = []
    for im in images:
        b = blocks(im)
        rows.append(b[rng.choice(len(b), min(per_image, len(b)), replace=False)])
    p = np.concatenate(rows)
    mean = p.mean(0)
    _, vectors = np.linalg.eigh(np.cov((p - mean).T))
    return mean, vectors[:, ::-1]


def linear_bound(crop, mean, components, k):
    """PSNR of the crop's blocks kept to their first k principal components (8-bit output)."""
    b = blocks(crop) - mean
    kept = (b @ components[:, :k]) @ components[:, :k].T
    return psnr_of_mse(float(((np.round(np.clip(kept + mean, 0, 1) * 255) / 255 - (b + mean)) ** 2).mean()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", required=True,
                   help="a record (.safetensors, as export_record.py writes), a committed checkpoint or a run's "
                        "checkpoint (.pt)")
    p.add_argument("--levels", default="0,3,6,9")
    p.add_argument("--pca", default="", help="numbers of components per 16x16 block, e.g. 96,192,320")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    levels = [int(v) for v in a.levels.split(",")]
    names, crops = holdout_crops()
    model = load_source(a.record)[0].eval().requires_grad_(False)
    rows = [coded_and_floor(model, c, levels) for c in crops]
    print(f"{os.path.basename(a.record)}, {len(crops)} hold-out crops; per level: bpp / coded dB / floor dB (mean)")
    for lv in levels:
        bpp, coded, floor = (float(np.mean([r[lv][i] for r in rows])) for i in range(3))
        per = " ".join(f"{r[lv][2]:.2f}" for r in rows)
        print(f"level {lv}: {bpp:.4f} / {coded:.2f} / {floor:.2f}   floor per crop: {per}")
    if a.pca:
        train, _ = data.split(data.list_images(data.DEFAULT_DATA))
        mean, components = principal_components([data.load(data.DEFAULT_DATA, n, data.DEFAULT_CACHE) for n in train])
        for k in (int(v) for v in a.pca.split(",")):
            bounds = [linear_bound(c, mean, components, k) for c in crops]
            print(f"linear bound, {k} per {BLOCK}x{BLOCK} block: {np.mean(bounds):.2f} dB   per crop: "
                  + " ".join(f"{b:.2f}" for b in bounds))


if __name__ == "__main__":
    main()
