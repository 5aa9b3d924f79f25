#!/usr/bin/env python3
"""Measure 1x restoration networks (train_restore.py) on video clips coded by real x264.

Each clip's first --frames frames (yuv420p as stored) are coded by x264 at every CRF of --crfs
(preset medium, default B-frames, one thread) and decoded; every network then restores the decoded
luma of every frame (8-bit output, as the player shows it). Reported per clip and CRF: the stream's
bits per pixel and the luma PSNR against the source (mean over frames) of the plain decode and of
each network. The summary takes, per network, the CRFs of its bucket (x264 buckets of
models/settings.json: high 0-23, mid 24-31, low 32-44): mean gain over the clips and the worst
clip; and the BD-rate (bench/rdcurves.py, PCHIP) of x264 + restoration (the bucket's network at
each CRF, plain decode where no network covers the CRF) against x264 alone, per clip over --crfs.
A network runs only on its bucket's CRFs unless --all-nets.

  python3 training/aicodec/experiments/make_holdout_clips.py --out training/runs/x1r_eval/holdout_clips \
      --frames 30 --size 720x480
  python3 training/aicodec/eval_restore.py --nets mid=models/x1r_mid_up.safetensors,low=models/x1r_low_up.safetensors \
      --clips training/runs/x1r_eval/holdout_clips --frames 30 --json training/runs/x1r_eval/holdout.json
  python3 training/aicodec/eval_restore.py --nets ... --clips ../shared/data/video/mdn_flower.mp4,... --frames 60 \
      --json training/runs/x1r_eval/dev.json

--clips: a folder (its .mp4 files) or a comma-separated list of files. --nets: BUCKET=FILE pairs,
FILE a safetensors network or a train_restore.py run directory / checkpoint.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from bench.rdcurves import bd_rate  # noqa: E402
from training.aicodec.train_restore import load_init  # noqa: E402
from training.metrics import psnr  # noqa: E402

# The x264 CRFs each bucket serves (models/settings.json's quality_ranges).
BUCKET_CRFS = {"high": (0, 23.99), "mid": (24, 31.99), "low": (32, 44.99)}


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", path], capture_output=True, check=True, text=True).stdout
    w, h = (int(v) for v in out.strip().split(",")[:2])
    return w, h


def y_planes(raw, w, h):
    size = w * h * 3 // 2
    return np.stack([np.frombuffer(raw, np.uint8, w * h, i * size).reshape(h, w) for i in range(len(raw) // size)])


def source_luma(path, w, h, frames):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-frames:v", str(frames),
                          "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True, check=True).stdout
    return y_planes(raw, w, h)


def x264_decode(path, w, h, frames, crf, threads):
    """The clip's first `frames` frames through x264 (preset medium, CRF `crf`): (decoded luma [N, H, W], bytes)."""
    enc = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-frames:v", str(frames), "-an",
                          "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
                          "-threads", str(threads), "-x264-params", "log-level=error", "-f", "h264", "-"],
                         capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", "-threads", str(threads), "-f", "h264", "-i", "-",
                          "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], input=enc, capture_output=True, check=True).stdout
    return y_planes(dec, w, h), len(enc)


def psnr_u8(a, b):
    """PSNR of two 8-bit pictures."""
    return psnr(a.astype(np.float64), b.astype(np.float64), 255)


@torch.no_grad()
def restore(net, y_u8):
    x = torch.from_numpy(y_u8.astype(np.float32) / 255.0)[None, None]
    return net(x)[0, 0].clamp(0, 1).mul(255).round().to(torch.uint8).numpy()


def bucket_of(crf):
    return next(b for b, (lo, hi) in BUCKET_CRFS.items() if lo <= crf <= hi)


def summary(res, nets, crfs):
    """Per network on its bucket's CRFs: mean gain and worst clip per CRF; per clip, the BD-rate of the route."""
    clips = sorted(res)
    rows = []
    for b in nets:
        for crf in crfs:
            if bucket_of(crf) != b:
                continue
            gains = {c: res[c][str(crf)]["psnr"][b] - res[c][str(crf)]["psnr"]["plain"] for c in clips}
            worst = min(gains, key=gains.get)
            rows.append({"net": b, "crf": crf, "mean_gain_db": round(float(np.mean(list(gains.values()))), 3),
                         "worst_gain_db": round(gains[worst], 3), "worst_clip": worst,
                         "plain_psnr": round(float(np.mean([res[c][str(crf)]["psnr"]["plain"] for c in clips])), 3)})
    cross = {b: {str(crf): round(float(np.mean([res[c][str(crf)]["psnr"][b] - res[c][str(crf)]["psnr"]["plain"]
                                                 for c in clips])), 3)
                 for crf in crfs if b in res[clips[0]][str(crf)]["psnr"]} for b in nets}
    bd = {}
    for c in clips:
        bpp = [res[c][str(crf)]["bpp"] for crf in crfs]
        plain = [res[c][str(crf)]["psnr"]["plain"] for crf in crfs]
        route = [res[c][str(crf)]["psnr"].get(bucket_of(crf), res[c][str(crf)]["psnr"]["plain"]) for crf in crfs]
        v = bd_rate(bpp, plain, bpp, route)
        bd[c] = None if v is None else round(v, 2)
    vals = [v for v in bd.values() if v is not None]
    return {"per_bucket": rows, "all_nets_mean_gain_db": cross, "bd_rate_percent": bd,
            "bd_rate_mean_percent": round(float(np.mean(vals)), 2) if vals else None,
            "bd_rate_worst_percent": round(max(vals), 2) if vals else None}


def markdown(summ):
    out = ["| net | CRF | plain PSNR | mean gain dB | worst clip dB | worst clip |", "|---|---|---|---|---|---|"]
    for r in summ["per_bucket"]:
        out.append(f"| {r['net']} | {r['crf']} | {r['plain_psnr']:.2f} | {r['mean_gain_db']:+.3f} | "
                   f"{r['worst_gain_db']:+.3f} | {r['worst_clip']} |")
    out.append("")
    out.append("BD-rate of x264 + restoration vs x264: mean {} %, worst clip {} %".format(
        summ["bd_rate_mean_percent"], summ["bd_rate_worst_percent"]))
    out.append("Mean gain (dB) of every net at every CRF: " + json.dumps(summ["all_nets_mean_gain_db"]))
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", required=True, help="BUCKET=FILE,...")
    p.add_argument("--clips", required=True)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--crfs", default="20,26,30,34,38")
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--all-nets", action="store_true", help="every network at every CRF (default: its bucket's CRFs)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    nets = {}
    for item in a.nets.split(","):
        b, f = item.split("=", 1)
        nets[b] = load_init(f).eval()
    crfs = [int(c) for c in a.crfs.split(",")]
    if os.path.isdir(a.clips):
        paths = sorted(os.path.join(a.clips, n) for n in os.listdir(a.clips) if n.endswith(".mp4"))
    else:
        paths = a.clips.split(",")
    res = {}
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        w, h = probe(path)
        src = source_luma(path, w, h, a.frames)
        res[name] = {}
        for crf in crfs:
            t0 = time.time()
            dec, nbytes = x264_decode(path, w, h, a.frames, crf, a.threads)
            assert dec.shape == src.shape, (dec.shape, src.shape)
            ps = {"plain": float(np.mean([psnr_u8(d, s) for d, s in zip(dec, src)]))}
            for b, net in nets.items():
                if not a.all_nets and bucket_of(crf) != b:
                    continue
                ps[b] = float(np.mean([psnr_u8(restore(net, d), s) for d, s in zip(dec, src)]))
            res[name][str(crf)] = {"bpp": nbytes * 8 / (w * h * len(src)), "bytes": nbytes, "psnr": ps}
            print(name, crf, json.dumps({k: round(v, 3) for k, v in ps.items()}),
                  f"{time.time() - t0:.1f}s", flush=True)
    summ = summary(res, list(nets), crfs)
    print(markdown(summ))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": "python3 training/aicodec/eval_restore.py " + " ".join(sys.argv[1:]),
                       "frames": a.frames, "crfs": crfs, "clips": res, "summary": summ}, f, indent=1)


if __name__ == "__main__":
    main()
