#!/usr/bin/env python3
"""Probe for a temporal up-scaler: how much does the previous decoded small frame add to the up-scaling?

The shipped video route up-scales every frame on its own. In a camera pan, consecutive small frames
sample the scene at different sub-pixel positions, so the previous frame carries detail (and
aliasing) the current one lacks. This probe measures the gain a small network can draw from it
before anything is built into the player:

  data   pan clips (sub-pixel camera motion, as make_holdout_clips.py makes them) of training
         images, through the real route: `nic ai-encode --scale 2 --codec libx264 --crf C` and
         `nic ai-decode`; stored per frame: the decoded small luma, the shipped route's output
         luma and the original luma (8-bit, limited range as in the stream).
  model  out_t = shipped(s_t) + shuffle2(body(s_{t-1}, s_t)), body = 3x3 convolutions on the small
         grid (no explicit motion compensation: pans here move at most 2 small pixels per frame,
         within the body's reach). The last convolution starts at zero (= the shipped route).
         --align moves the earlier frames onto the current one first (8x8 blocks, whole-pixel
         search within +-3 small pixels), as a player would have to: FFmpeg's exported motion
         vectors give no reference frame.
  eval   luma PSNR gain over the shipped route on clips of the 8 hold-out images (never trained on),
         frames 1.. of each clip, per CRF.

  python3 training/aicodec/experiments/temporal_probe.py data --split train --clips 240 --out TRAIN.npz
  python3 training/aicodec/experiments/temporal_probe.py data --split val --clips 8 --frames 8 --size 480x320 --crf C --out VAL_C.npz
  python3 training/aicodec/experiments/temporal_probe.py train --data TRAIN.npz \
      --val VAL_23.npz,VAL_30.npz,VAL_37.npz --out RUN [--frames 1|2|3] [--align]
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.data import list_train_images, split_train_val  # noqa: E402
from training.aicodec.nets import residual_convs, run_convs  # noqa: E402
from training.aicodec.real_codecs import luma_frames  # noqa: E402
from training.metrics import psnr  # noqa: E402


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p.stdout


def pan(img, w, h, frames, vx, vy, x0, y0):
    for k in range(frames):
        yield img.transform((w, h), Image.Transform.AFFINE, (1, 0, x0 + vx * k, 0, 1, y0 + vy * k),
                            resample=Image.Resampling.BICUBIC)


def write_y4m(path, frames, w, h):
    """RGB frames -> lossless yuv420p Y4M (BT.709 limited, as make_holdout_clips.py's clips)."""
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                            "-r", "30", "-i", "-", "-pix_fmt", "yuv420p", "-color_range", "tv",
                            "-colorspace", "bt709", path], stdin=subprocess.PIPE)
    for f in frames:
        enc.stdin.write(np.asarray(f, dtype=np.uint8).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError("ffmpeg failed writing " + path)


def make_clip(nic, img, rng, w, h, frames, crf, work):
    """One pan clip through the shipped route; returns (small, shipped, original) luma stacks."""
    free_x, free_y = img.width - w, img.height - h
    speed, angle = rng.uniform(0.3, 4.0), rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(angle), speed * math.sin(angle)
    vx = float(np.clip(vx, -free_x / frames, free_x / frames))
    vy = float(np.clip(vy, -free_y / frames, free_y / frames))
    x0 = rng.uniform(max(0, -vx * frames), free_x - max(0, vx * frames))
    y0 = rng.uniform(max(0, -vy * frames), free_y - max(0, vy * frames))
    src, mp4, up = (os.path.join(work, n) for n in ("src.y4m", "ai.mp4", "up.y4m"))
    write_y4m(src, pan(img, w, h, frames, vx, vy, x0, y0), w, h)
    run([nic, "ai-encode", src, mp4, "--scale", "2", "--codec", "libx264", "--crf", str(crf), "--threads", "1"])
    run([nic, "ai-decode", mp4, up, "--threads", "1"])
    return luma_frames(mp4, w // 2, h // 2), luma_frames(up, w, h), luma_frames(src, w, h)


def cmd_data(a):
    os.environ["NIC_MODEL_DIR"] = os.path.abspath(a.models)
    train, val = split_train_val(list_train_images())
    files = train if a.split == "train" else val
    rng = np.random.default_rng(a.seed)
    w, h = (int(v) for v in a.size.split("x"))
    small, shipped, orig, crfs = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="nic_temporal_") as work:
        for i in range(a.clips):
            f = files[i % len(files)] if a.split == "val" else files[rng.integers(len(files))]
            img = Image.open(f).convert("RGB")
            if img.width < w or img.height < h:
                img = img.transpose(Image.Transpose.ROTATE_90)
            crf = int(a.crf) if a.crf else int(rng.integers(18, 41))
            s, u, o = make_clip(a.nic, img, rng, w, h, a.frames, crf, work)
            small.append(s); shipped.append(u); orig.append(o); crfs.append(crf)
            if (i + 1) % 20 == 0:
                print(f"{i + 1}/{a.clips}", flush=True)
    np.savez_compressed(a.out, small=np.stack(small), shipped=np.stack(shipped), orig=np.stack(orig),
                        crf=np.array(crfs))
    print("wrote", a.out)


class TemporalCorrection(nn.Module):
    def __init__(self, width=32, depth=4, frames=2):
        super().__init__()
        chans = [frames] + [width] * (depth - 1) + [4]
        self.convs = residual_convs(chans, 0.1)

    def forward(self, smalls, shipped):
        return shipped + F.pixel_shuffle(run_convs(self.convs, smalls, 0.1), 2)


def aligned(prev, cur, block=8, radius=3):
    """`prev` (N, h, w) moved onto `cur` block by block: each block x block tile of `cur` takes the
    tile of `prev` at the whole-pixel displacement within +-radius with the least absolute
    difference (a decoder-side motion search; FFmpeg's exported vectors name no reference frame)."""
    n, h, w = cur.shape
    padded = F.pad(prev[:, None], (radius,) * 4, mode="replicate")[:, 0]
    best_cost = torch.full((n, -(-h // block), -(-w // block)), float("inf"))
    out = prev.clone()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            moved = padded[:, radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            cost = F.avg_pool2d((moved - cur).abs()[:, None], block, ceil_mode=True)[:, 0]
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            mask = better.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w]
            out = torch.where(mask, moved, out)
    return out


def tensors(d, frames, align=False):
    """(N, clips frames t >= frames-1) -> inputs (B, frames, h, w), shipped (B,1,H,W), target.
    align: earlier small frames moved onto the current one (`aligned`)."""
    s = torch.from_numpy(d["small"]).float() / 255
    u = torch.from_numpy(d["shipped"]).float() / 255
    o = torch.from_numpy(d["orig"]).float() / 255
    T = s.shape[1]
    def earlier(t, k):
        return aligned(s[:, t - k], s[:, t]) if align and k else s[:, t - k]
    xs = torch.cat([torch.stack([earlier(t, k) for k in range(frames - 1, -1, -1)], 1) for t in range(frames - 1, T)])
    us = torch.cat([u[:, t:t + 1] for t in range(frames - 1, T)])
    os_ = torch.cat([o[:, t:t + 1] for t in range(frames - 1, T)])
    crf = torch.from_numpy(np.concatenate([d["crf"]] * (T - frames + 1)))
    return xs, us, os_, crf


def evaluate(net, val, frames):
    xs, us, os_, crf = val
    out = {}
    with torch.no_grad():
        for c in sorted(set(crf.tolist())):
            m = crf == c
            gains = []
            for i in torch.nonzero(m).flatten().tolist():
                pred = (net(xs[i:i + 1], us[i:i + 1]) * 255).round().clamp(0, 255) / 255
                gains.append(psnr(pred, os_[i:i + 1]) - psnr(us[i:i + 1], os_[i:i + 1]))
            out[int(c)] = round(float(np.mean(gains)), 4)
    return out


def cmd_train(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    cfg = dict(vars(a), command="python3 training/aicodec/experiments/temporal_probe.py " + shlex.join(sys.argv[1:]))
    cfg.pop("func", None)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    xs, us, os_, _ = tensors(dict(np.load(a.data)), a.frames, a.align)
    parts = [dict(np.load(v)) for v in a.val.split(",")]
    val = tensors({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, a.frames, a.align)
    net = TemporalCorrection(a.width, a.depth, a.frames)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
    rng = np.random.default_rng(a.seed)
    n, (hs, ws) = xs.shape[0], xs.shape[-2:]
    c = a.crop // 2
    t0, acc = time.time(), []
    log = open(os.path.join(a.out, "log.jsonl"), "a")
    for step in range(1, a.steps + 1):
        idx = rng.integers(0, n, a.batch)
        ys, xs0 = rng.integers(0, hs - c + 1, a.batch), rng.integers(0, ws - c + 1, a.batch)
        xb = torch.stack([xs[i, :, y:y + c, x:x + c] for i, y, x in zip(idx, ys, xs0)])
        ub = torch.stack([us[i, :, 2 * y:2 * y + 2 * c, 2 * x:2 * x + 2 * c] for i, y, x in zip(idx, ys, xs0)])
        ob = torch.stack([os_[i, :, 2 * y:2 * y + 2 * c, 2 * x:2 * x + 2 * c] for i, y, x in zip(idx, ys, xs0)])
        loss = torch.log((net(xb, ub) - ob).pow(2).mean((1, 2, 3)) + 1e-8).mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        acc.append(loss.item())
        if step % 500 == 0 or step == a.steps:
            rec = {"step": step, "log_mse": float(np.mean(acc)), "sec": round(time.time() - t0, 1)}
            if step % 2000 == 0 or step == a.steps:
                rec["val_gain_db_by_crf"] = evaluate(net, val, a.frames)
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n"); log.flush()
            acc = []
    torch.save(net.state_dict(), os.path.join(a.out, "final.pt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(required=True)
    d = sub.add_parser("data")
    d.add_argument("--split", choices=["train", "val"], required=True)
    d.add_argument("--clips", type=int, default=240)
    d.add_argument("--frames", type=int, default=6)
    d.add_argument("--size", default="256x192")
    d.add_argument("--crf", help="one CRF for every clip (default: random 18-40 per clip)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    d.add_argument("--models", default=os.path.join(REPO, "models"))
    d.add_argument("--out", required=True)
    d.set_defaults(func=cmd_data)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--val", required=True, help="hold-out clips: one or more .npz, comma-separated")
    t.add_argument("--out", required=True)
    t.add_argument("--frames", type=int, default=2, help="small frames in (1 = the current frame only)")
    t.add_argument("--align", action="store_true", help="earlier frames moved onto the current one by a block motion search")
    t.add_argument("--width", type=int, default=32)
    t.add_argument("--depth", type=int, default=4)
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.set_defaults(func=cmd_train)
    a = ap.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
