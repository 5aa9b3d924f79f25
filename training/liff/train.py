#!/usr/bin/env python3
"""Train the LIFF up-scaler (model.py) on random crops of ../shared/data/train, CPU, resumable.

  python3 training/liff/train.py --run training/runs/liff/c16 --minutes 60

Each sample: a random HR crop (flips, 90-degree turns), a random factor in [1, 4] per axis (half the
samples the same on both), the LR input = bicubic antialiased down-scale of the crop rounded to
8 bits, loss L1 against the crop. The learning rate follows a cosine over the time budget, so a
resumed run (same --run) continues its schedule. The fixed hold-out of training/aicodec/data.py
(8 train images) is scored every --val-every seconds at x1.5, x2 and x3.3 (RGB PSNR, central
crops, LIFF vs the bicubic base); the best mean gain is kept as best.pt.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.data import list_train_images, load_rgb, split_train_val  # noqa: E402
from training.files import save_json  # noqa: E402
from training.liff.model import LIFF  # noqa: E402
from training.metrics import psnr  # noqa: E402

VAL_SCALES = (1.5, 2.0, 3.3)


def to_tensor(rgb):
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).float() / 255


def downscale(hr, lr_h, lr_w):
    """The LR input of an HR tensor: bicubic antialiased down-scale, rounded to 8 bits."""
    lr = F.interpolate(hr, size=(lr_h, lr_w), mode="bicubic", antialias=True, align_corners=False)
    return torch.round(lr.clamp(0, 1) * 255) / 255


def lr_size(size, factor):
    """size / factor rounded, kept where the factor stays within [1, 4] (round(1058 / 4) = 264 would be x4.008)."""
    return min(size, max(1, int(round(size / factor)), -(-size // 4)))


def psnr_u8(a, b):
    """RGB PSNR of two [0, 1] tensors after rounding both to 8 bits."""
    return psnr(torch.round(a.clamp(0, 1) * 255), torch.round(b.clamp(0, 1) * 255), 255)


@torch.no_grad()
def score(model, hr, factor):
    """(LIFF PSNR, bicubic PSNR) of an HR tensor down-scaled by `factor` and brought back."""
    _, _, h, w = hr.shape
    lr = downscale(hr, lr_size(h, factor), lr_size(w, factor))
    base = F.interpolate(lr, size=(h, w), mode="bicubic", align_corners=False)
    out = model(lr, h, w, base=base, row_chunk=32)
    return psnr_u8(out, hr), psnr_u8(base, hr)


class Crops:
    def __init__(self, files, seed):
        self.images = [load_rgb(f) for f in files]
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.p = areas / areas.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self, size):
        r = self.rng
        im = self.images[r.choice(len(self.images), p=self.p)]
        h, w = im.shape[:2]
        y0, x0 = r.integers(0, h - size + 1), r.integers(0, w - size + 1)
        c = np.rot90(im[y0:y0 + size, x0:x0 + size], int(r.integers(0, 4)))
        if r.integers(0, 2):
            c = c[:, ::-1]
        fx = float(r.uniform(1, 4))
        fy = fx if r.integers(0, 2) else float(r.uniform(1, 4))
        return to_tensor(c), fx, fy


def validate(model, val_crops):
    model.eval()
    res = {}
    for f in VAL_SCALES:
        s = np.array([score(model, hr, f) for hr in val_crops])
        res[f"x{f}"] = {"liff": float(s[:, 0].mean()), "bicubic": float(s[:, 1].mean()),
                        "gain": float((s[:, 0] - s[:, 1]).mean())}
    model.train()
    return res


def center_crop(t, size):
    _, _, h, w = t.shape
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return t[:, :, y0:y0 + size, x0:x0 + size]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-every", type=float, default=300, help="seconds")
    p.add_argument("--val-crop", type=int, default=256)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    torch.manual_seed(a.seed)

    train_files, val_files = split_train_val(list_train_images())
    model = LIFF(a.channels, a.width, a.depth, a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    crops = Crops(train_files, a.seed)
    val_crops = [center_crop(to_tensor(load_rgb(f)), a.val_crop) for f in val_files]
    cfg = {**vars(a), "model": model.config(), "val_files": [os.path.relpath(f, REPO) for f in val_files],
           "command": "python3 training/liff/train.py " + " ".join(sys.argv[1:])}
    save_json(os.path.join(a.run, "config.json"), cfg)

    state = {"step": 0, "elapsed": 0.0, "best": -1e9}
    last = os.path.join(a.run, "last.pt")
    if os.path.exists(last):
        ck = torch.load(last, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        crops.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        state = ck["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", flush=True)

    budget = a.minutes * 60
    log = open(os.path.join(a.run, "log.jsonl"), "a")
    start, next_val, losses = time.time() - state["elapsed"], state["elapsed"] + a.val_every, []

    def save(path, val=None):
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": crops.rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "state": state, "config": model.config(), "val": val},
                   path + ".tmp")
        os.replace(path + ".tmp", path)

    while True:
        state["elapsed"] = time.time() - start
        done = state["elapsed"] >= budget
        if state["elapsed"] >= next_val or done:
            val = validate(model, val_crops)
            gain = float(np.mean([v["gain"] for v in val.values()]))
            entry = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                     "loss": float(np.mean(losses)) if losses else None, "val": val}
            log.write(json.dumps(entry) + "\n")
            log.flush()
            print(json.dumps(entry), flush=True)
            losses = []
            if gain > state["best"]:
                state["best"] = gain
                save(os.path.join(a.run, "best.pt"), val)
            save(last, val)
            next_val = state["elapsed"] + a.val_every
        if done:
            break
        lr = 1e-5 + 0.5 * (a.lr - 1e-5) * (1 + math.cos(math.pi * min(1.0, state["elapsed"] / budget)))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        total = 0.0
        for _ in range(a.batch):
            hr, fx, fy = crops.sample(a.crop)
            lr_img = downscale(hr, lr_size(a.crop, fy), lr_size(a.crop, fx))
            loss = F.l1_loss(model(lr_img, a.crop, a.crop), hr) / a.batch
            loss.backward()
            total += loss.item()
        opt.step()
        losses.append(total)
        state["step"] += 1


if __name__ == "__main__":
    main()
