#!/usr/bin/env python3
"""The --temporal training loss's figures for x2 (down, up) pairs on the 8 hold-out images.

  python3 training/aicodec/experiments/holdout_proxy_cost.py \
      --pairs models/x2t_joint_down.safetensors:models/x2t_mid_up.safetensors[,DOWN:UP...]

Fixed crops (16 per hold-out image, 144 original pixels plus train.py's TEMPORAL_MARGIN), QPs
(20-44), camera steps (up to 4 original pixels) and shift-consistency steps (seeded), the same for
every pair: the Lagrangian cost of the two-frame clip relative to the bicubic route
(rd_ratio_vs_bicubic, train.py's temporal_joint_loss; lower is better at equal rate), the luma gain
over the bicubic route, the proxy rates relative to bicubic's (intra, P picture) and l_shift (the
down net's sub-pixel shift inconsistency over bicubic's, train.py's shift_loss).
"""

import argparse
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.colour import luma_np  # noqa: E402
from training.aicodec.data import list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.nets import load_safetensors_net  # noqa: E402
from training.aicodec.train import TEMPORAL_MARGIN, shift_loss, temporal_joint_loss  # noqa: E402


def holdout_crops(per_image, size, rng):
    _, val = split_train_val(list_train_images())
    out = []
    for f in val:
        y = luma_np(load_rgb(f))
        h, w = y.shape
        for _ in range(per_image):
            y0, x0 = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            out.append(torch.from_numpy(np.ascontiguousarray(y[y0:y0 + size, x0:x0 + size]))[None, None])
    return torch.cat(out)


@torch.no_grad()
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True, help="DOWN:UP safetensors pairs, comma-separated")
    p.add_argument("--per-image", type=int, default=16)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    crop = 144
    big = holdout_crops(a.per_image, crop + 2 * TEMPORAL_MARGIN, rng)
    B = big.shape[0]
    qs = [int(q) for q in rng.integers(20, 45, size=B)]
    shifts = torch.from_numpy(rng.uniform(-4, 4, size=(2, B)).astype(np.float32))
    d = torch.from_numpy(rng.uniform(-1, 1, size=(2, B)).astype(np.float32))
    cfg = SimpleNamespace(crop=crop, scale="2", temporal=0.8, w_struct=0.0, w_shift=0.0)
    res = {}
    for pair in a.pairs.split(","):
        dn, un = pair.split(":")
        down, up = load_safetensors_net(dn), load_safetensors_net(un)
        stats = []
        for i in range(0, B, 16):
            s = slice(i, i + 16)
            _, st = temporal_joint_loss(cfg, down, up, big[s], qs[s], np.ones(len(qs[s]), bool),
                                        (shifts[0][s], shifts[1][s]), 1e-4)
            st["l_shift"] = shift_loss(down, big[s], (d[0][s], d[1][s]))[0].item()
            stats.append(st)
        keys = ("rd_ratio_vs_bicubic", "dB_gain_vs_bicubic", "rate_ratio_vs_bicubic", "p_rate_ratio_vs_bicubic",
                "l_shift", "thumb_psnr")
        res[pair] = {k: round(float(np.mean([st[k] for st in stats])), 4) for k in keys}
        print(os.path.basename(dn), os.path.basename(un), json.dumps(res[pair]), flush=True)


if __name__ == "__main__":
    main()
