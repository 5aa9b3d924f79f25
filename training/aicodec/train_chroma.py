#!/usr/bin/env python3
"""Luma-guided chroma network for the AI route's decoder (stills).

The AI route up-scales luma with a network and chroma with bicubic: after 4:2:0 coding of the small
image, chroma reaches the output from a quarter (x2) or a third (x1.5) of its resolution, and its
error becomes a large share of the RGB error. This network restores chroma detail from the
up-scaled luma (colour edges sit on luma edges):

  in   Y (the up network's output, [0, 1]) and Cb, Cr (the bicubic route's chroma, (C - 128) / 255),
       full output resolution;
  body pixel-unshuffle 2 -> 3x3 convolutions (leaky ReLU 0.1) -> pixel-shuffle 2 -> 2 planes;
  out  Cb, Cr = input chroma + body (luma unchanged).

It trains on pairs made by the real route (chroma_data.py: nic + the real codec), minimising the
RGB mean squared error against the original (the metric the route is judged by), per sample in log
units (dB). The last
convolution starts at zero, so an untrained network is exactly the bicubic chroma route.

  python3 training/aicodec/train_chroma.py --data TRAIN.npz --val VAL.npz --out training/runs/NAME

writes OUT/chroma.pt (checkpoint, resumable), OUT/log.jsonl, OUT/config.json and, at the end,
OUT/NAME_chroma.safetensors with the architecture in its metadata (as export.py does).
"""

import argparse
import json
import math
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.colour import rgb_to_ycc, ycc_to_rgb  # noqa: E402
from training.aicodec.nets import residual_convs, run_convs  # noqa: E402
from training.files import sha256  # noqa: E402
from training.metrics import psnr_of_mse  # noqa: E402


class ChromaNet(nn.Module):
    def __init__(self, width=32, depth=4, slope=0.1, block=2):
        super().__init__()
        self.width, self.depth, self.slope, self.block = width, depth, slope, block
        chans = [3 * block * block] + [width] * (depth - 1) + [2 * block * block]
        self.convs = residual_convs(chans, slope)

    def forward(self, ycc):
        """ycc: (N, 3, H, W) = Y in [0, 1], (Cb, Cr - 128) / 255; H, W multiples of the block.
        Returns the corrected (N, 2, H, W) chroma in the same units."""
        h = run_convs(self.convs, F.pixel_unshuffle(ycc, self.block), self.slope)
        return ycc[:, 1:] + F.pixel_shuffle(h, self.block)

    def describe(self, scale):
        layers = [{"op": "pixel_unshuffle", "factor": self.block}]
        for i, c in enumerate(self.convs):
            last = i == len(self.convs) - 1
            layers.append({"op": "conv2d", "in_channels": c.in_channels, "out_channels": c.out_channels,
                           "kernel": 3, "stride": 1, "padding": 1, "bias": True,
                           "weight": f"convs.{i}.weight", "bias_tensor": f"convs.{i}.bias",
                           "activation": None if last else "leaky_relu",
                           "negative_slope": None if last else self.slope})
        layers.append({"op": "pixel_shuffle", "factor": self.block})
        macs = sum(c.in_channels * c.out_channels * 9 for c in self.convs) / self.block ** 2
        return {
            "kind": "chroma", "scale": scale,
            "scale_rational": [2, 1] if scale == "2" else [3, 2],
            "input": {"planes": ["Y", "Cb", "Cr"], "resolution": "output (after up-scaling)",
                      "Y": "up network output in [0, 1]", "chroma": "(C - 128) / 255, bicubic route"},
            "layers": layers,
            "output": "Cb, Cr = input chroma + layers(input), same units",
            "macs_per_output_pixel": macs,
            "parameters": sum(p.numel() for p in self.parameters()),
        }


def load_chroma_net(path):
    """A shipped chroma network (models/NAME_chroma.safetensors, written by export below) as a ChromaNet."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        arch = json.loads(f.metadata()["architecture"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    layers = arch["layers"]
    convs = [layer for layer in layers if layer["op"] == "conv2d"]
    net = ChromaNet(convs[0]["out_channels"], len(convs), convs[0]["negative_slope"], layers[0]["factor"])
    net.load_state_dict(state)
    return net


def to_ycc(rgb_u8):
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float: Y / 255, (Cb - 128) / 255, (Cr - 128) / 255."""
    x = torch.from_numpy(rgb_u8).permute(0, 3, 1, 2).float()
    ycc = rgb_to_ycc(x)
    return torch.cat([ycc[:, :1] / 255, (ycc[:, 1:] - 128) / 255], 1)


def rgb_of(y01, chroma):
    """Y in [0, 1] and (C - 128)/255 chroma -> RGB in 0..255 (float, unclamped)."""
    return ycc_to_rgb(torch.cat([y01 * 255, chroma * 255 + 128], 1))


def log_rgb_mse(net, ycc_dec, rgb_orig):
    """Mean over samples of log RGB MSE: every sample's dB counts alike (as in mean PSNR), so the
    large errors of low qualities do not drown the small ones of high qualities and no codec."""
    pred = rgb_of(ycc_dec[:, :1], net(ycc_dec))
    return torch.log((pred - rgb_orig).pow(2).mean((1, 2, 3)) + 1e-3).mean()


def evaluate(net, data, chunk=32):
    """Mean RGB PSNR (per sample) with the net and with the plain bicubic chroma, per quality band."""
    orig, dec, q = data["orig"], data["dec"], data["quality"]
    rows = []
    with torch.no_grad():
        for s in range(0, len(orig), chunk):
            o = torch.from_numpy(orig[s:s + chunk]).permute(0, 3, 1, 2).float()
            d = torch.from_numpy(dec[s:s + chunk]).permute(0, 3, 1, 2).float()
            ycc = to_ycc(dec[s:s + chunk])
            pred = rgb_of(ycc[:, :1], net(ycc)).round().clamp(0, 255)
            for i in range(len(o)):
                rows.append((int(q[s + i]), psnr_of_mse(F.mse_loss(pred[i], o[i]).item(), 255),
                             psnr_of_mse(F.mse_loss(d[i], o[i]).item(), 255)))
    return rows


def summary(rows, codec):
    bands = [(-1, -1)] + ([(5, 30), (31, 60), (61, 95)] if codec in ("jpeg", "webp") else [(17, 30), (31, 42), (43, 51)])
    out = {}
    for lo, hi in bands:
        sel = [r for r in rows if lo <= r[0] <= hi]
        if sel:
            key = "none" if lo < 0 else f"{lo}-{hi}"
            out[key] = {"n": len(sel), "gain_db": float(np.mean([r[1] - r[2] for r in sel]))}
    out["all"] = {"n": len(rows), "gain_db": float(np.mean([r[1] - r[2] for r in rows]))}
    return out


def sample_batch(data, rng, n, size):
    orig, dec = data["orig"], data["dec"]
    idx = rng.integers(0, len(orig), n)
    c = orig.shape[1]
    o = np.empty((n, size, size, 3), np.uint8)
    d = np.empty_like(o)
    for k, i in enumerate(idx):
        # crop offsets on the 12-pixel grid keep the 4:2:0 / x1.5 phase of the sample
        y0 = int(rng.integers(0, (c - size) // 12 + 1)) * 12
        x0 = int(rng.integers(0, (c - size) // 12 + 1)) * 12
        a, b = orig[i, y0:y0 + size, x0:x0 + size], dec[i, y0:y0 + size, x0:x0 + size]
        if rng.integers(0, 2):
            a, b = a[:, ::-1], b[:, ::-1]
        if rng.integers(0, 2):
            a, b = a.transpose(1, 0, 2), b.transpose(1, 0, 2)
        o[k], d[k] = a, b
    return to_ycc(d), torch.from_numpy(o).permute(0, 3, 1, 2).float()


def export(net, scale, path, cfg):
    from safetensors.torch import save_file
    arch = net.describe(scale)
    tensors = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, path, metadata={"architecture": json.dumps(arch), "format": "libnic-chroma-1"})
    return {"file": os.path.basename(path), "sha256": sha256(path), "bytes": os.path.getsize(path),
            "architecture": arch, "training": {"command": cfg["command"], "config": cfg}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="training pairs (chroma_data.py)")
    ap.add_argument("--val", required=True, help="hold-out pairs (chroma_data.py --split val)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", choices=["2", "1.5"], required=True)
    ap.add_argument("--codec", choices=["jpeg", "webp", "x265"], required=True)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--block", type=int, default=2, help="pixel (un)shuffle factor")
    ap.add_argument("--qmin", type=float, help="train on samples of this codec quality (JPEG/WebP) or CRF and up")
    ap.add_argument("--qmax", type=float, help="... and at most this one (a bucket's network)")
    ap.add_argument("--init", help="start from this run's chroma.pt (a bucket fine-tune of a finished run)")
    ap.add_argument("--coded-only", action="store_true",
                    help="train on coded samples only (the decoder skips the network without a codec)")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(vars(args), command="python3 training/aicodec/train_chroma.py " + shlex.join(sys.argv[1:]))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    data, val = dict(np.load(args.data)), dict(np.load(args.val))
    keep = np.ones(len(data["quality"]), bool)
    if args.coded_only:
        keep &= data["quality"] >= 0
    if args.qmin is not None:
        keep &= data["quality"] >= args.qmin
    if args.qmax is not None:
        keep &= data["quality"] <= args.qmax
    data = {k: v[keep] for k, v in data.items()}
    net = ChromaNet(args.width, args.depth, block=args.block)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)) * 0.99 + 0.01)
    rng = np.random.default_rng(args.seed)
    step = 0
    ckpt = os.path.join(args.out, "chroma.pt")
    if args.init and not os.path.exists(ckpt):
        net.load_state_dict(torch.load(os.path.join(args.init, "chroma.pt"), weights_only=False)["net"])
    if os.path.exists(ckpt):
        st = torch.load(ckpt, weights_only=False)
        net.load_state_dict(st["net"]); opt.load_state_dict(st["opt"]); sched.load_state_dict(st["sched"])
        rng.bit_generator.state = st["rng"]; step = st["step"]
        print(f"resumed at step {step}")
    log = open(os.path.join(args.out, "log.jsonl"), "a")
    t0, acc = time.time(), []
    while step < args.steps:
        ycc, rgb = sample_batch(data, rng, args.batch, args.crop)
        loss = log_rgb_mse(net, ycc, rgb)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        step += 1
        acc.append(loss.item())
        if step % 100 == 0 or step == args.steps:
            rec = {"step": step, "log_rgb_mse": float(np.mean(acc)), "lr": sched.get_last_lr()[0],
                   "sec": round(time.time() - t0, 1)}
            if step % 1000 == 0 or step == args.steps:
                rec["val"] = summary(evaluate(net, val), args.codec)
                torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "rng": rng.bit_generator.state, "step": step}, ckpt)
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n"); log.flush()
            acc = []
    name = os.path.basename(os.path.normpath(args.out))
    side = export(net, args.scale, os.path.join(args.out, f"{name}_chroma.safetensors"), cfg)
    side["validation"] = {"data": "hold-out crops (chroma_data.py --split val): RGB PSNR gain over bicubic chroma, dB",
                          **summary(evaluate(net, val), args.codec)}
    with open(os.path.join(args.out, f"{name}_chroma.json"), "w") as f:
        json.dump(side, f, indent=1)
    print(json.dumps(side["validation"]))


if __name__ == "__main__":
    main()
