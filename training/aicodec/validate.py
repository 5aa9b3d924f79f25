#!/usr/bin/env python3
"""Hold-out validation of AI-codec networks with REAL JPEG (PIL / libjpeg, 4:2:0, RGB).

Routes, per image and quality, against the original (full hold-out images, cropped to a multiple of 6):
  ai        Y: down net; Cb/Cr: antialiased bicubic -> RGB 8 bit -> JPEG -> decode -> Y: up net, Cb/Cr: bicubic
  bicubic   RGB antialiased bicubic down -> 8 bit -> JPEG -> decode -> RGB bicubic up
  generic   (with --generic or a generic run) bicubic down as above -> JPEG -> Y: up net, Cb/Cr: bicubic
  full      full-resolution JPEG at the same quality
"none" = no codec (the 8-bit small image itself). Reports luma and RGB PSNR (mean over images), bits per
original pixel, and BD-rates (RGB and Y) of ai / generic vs bicubic and vs full over the JPEG qualities.

  python3 training/aicodec/validate.py training/runs/x2_joint [--qualities 10,20,...] [--json out.json]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.colour import rgb_to_ycc, ycc_to_rgb  # noqa: E402
from training.aicodec.data import crop_multiple, list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.metrics import psnr, route_bd_rates  # noqa: E402
from training.aicodec.nets import ScalerNet, out_size  # noqa: E402
from training.aicodec.real_codecs import jpeg_roundtrip_rgb, x264_roundtrip_gray, x265_intra_roundtrip_gray  # noqa: E402

DEFAULT_QUALITIES = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]


def load_nets(path):
    if os.path.isdir(path):
        for n in ("final.pt", "ckpt.pt"):
            if os.path.exists(os.path.join(path, n)):
                path = os.path.join(path, n)
                break
    st = torch.load(path, map_location="cpu", weights_only=False)
    cfg = st["config"]
    down = None
    if "down" in st:   # a restoration run (train_restore.py, scale "1") has no down net
        down = ScalerNet("down", cfg["scale"], cfg.get("down_width"), cfg.get("down_depth", 4))
        down.load_state_dict(st["down"])
        down.eval()
    up = ScalerNet("up", cfg["scale"], cfg.get("up_width"), cfg.get("up_depth", 4))
    up.load_state_dict(st["up"])
    return down, up.eval(), cfg


def u8(t):
    """(3,H,W) float 0..255 -> HxWx3 uint8."""
    return t.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def f32(a):
    return torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1).contiguous()


def resize(x, size, antialias):
    return F.interpolate(x[None], size=size, mode="bicubic", align_corners=False, antialias=antialias)[0]


@torch.no_grad()
def down_ai(rgb, down):
    ycc = rgb_to_ycc(rgb)
    size = out_size("down", down.scale, rgb.shape[-2], rgb.shape[-1])
    y = down(ycc[None, :1] / 255.0)[0] * 255.0
    c = resize(ycc[1:], size, True)
    return u8(ycc_to_rgb(torch.cat([y, c])))


@torch.no_grad()
def up_ai(rgb_small_u8, up, size):
    ycc = rgb_to_ycc(f32(rgb_small_u8))
    y = up(ycc[None, :1] / 255.0)[0].clamp(0, 1) * 255.0
    c = resize(ycc[1:], size, False)
    return u8(ycc_to_rgb(torch.cat([y, c])))


def metrics(rec_u8, ref_u8):
    a, b = f32(rec_u8), f32(ref_u8)
    return psnr(a, b, 255.0), psnr(rgb_to_ycc(a)[0], rgb_to_ycc(b)[0], 255.0)


def codec(small_u8, q, name="jpeg"):
    """(decoded RGB, bytes) through JPEG at quality q, or x264 at CRF q (luma as the P picture of
    real_codecs.x264_roundtrip_gray, bytes = a third of its 3-frame stream), or x265 intra at CRF q
    (real_codecs.x265_intra_roundtrip_gray); x264/x265: chroma 4:2:0 resampled, not coded; q None = no codec."""
    if q is None:
        return small_u8, 0
    if name == "jpeg":
        return jpeg_roundtrip_rgb(small_u8, q)
    ycc = rgb_to_ycc(f32(small_u8))
    y = ycc[0].clamp(0, 255).round().to(torch.uint8).numpy()
    if name == "x265":
        (dec_y,), n = x265_intra_roundtrip_gray([y], q)
    else:
        (dec_y,), n = x264_roundtrip_gray([y], q)
        n //= 3
    size = tuple(ycc.shape[-2:])
    half = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    c = resize(resize(ycc[1:], half, True), size, False)
    return u8(ycc_to_rgb(torch.cat([torch.from_numpy(dec_y.astype(np.float32))[None], c]))), n


@torch.no_grad()
def evaluate(down, up, scale, qualities, files=None, routes=("ai", "bicubic", "full"), log=None, codec_name="jpeg"):
    if files is None:
        _, files = split_train_val(list_train_images())
    qs = [None] + list(qualities)
    acc = {}  # (route, q) -> list of (rgb, y, bits, pixels)
    for f in files:
        t0 = time.time()
        ref = crop_multiple(load_rgb(f), 6)
        H, W = ref.shape[:2]
        rgb = f32(ref)
        small_size = out_size("down", scale, H, W)
        smalls = {}
        if "ai" in routes:
            smalls["ai"] = down_ai(rgb, down)
        if "bicubic" in routes or "generic" in routes:
            smalls["bicubic"] = u8(resize(rgb, small_size, True))
        for q in qs:
            for route in routes:
                if route == "full":
                    if q is None:
                        continue
                    rec, n = codec(ref, q, codec_name)
                else:
                    src = smalls["ai" if route == "ai" else "bicubic"]
                    dec, n = codec(src, q, codec_name)
                    if route == "bicubic":
                        rec = u8(resize(f32(dec), (H, W), False))
                    else:
                        rec = up_ai(dec, up, (H, W))
                p_rgb, p_y = metrics(rec, ref)
                acc.setdefault((route, q), []).append((p_rgb, p_y, n * 8, H * W))
        if log:
            log(f"{os.path.basename(f)} {W}x{H} {time.time() - t0:.1f}s")
    res = {"images": [os.path.relpath(f, os.path.dirname(os.path.dirname(f))) for f in files],
           "routes": {}}
    for (route, q), v in acc.items():
        a = np.array(v, dtype=np.float64)
        res["routes"].setdefault(route, {})["none" if q is None else str(q)] = {
            "psnr_rgb": round(float(a[:, 0].mean()), 3), "psnr_y": round(float(a[:, 1].mean()), 3),
            "bpp": round(float(a[:, 2].sum() / a[:, 3].sum()), 4)}
    res["bd_rate_percent"] = route_bd_rates(res["routes"], qualities)
    return res


def table(res):
    lines = []
    routes = list(res["routes"])
    qs = list(res["routes"][routes[0]].keys())
    hdr = "q      " + "  ".join(f"{r:>22s}" for r in routes)
    lines.append(hdr)
    lines.append("       " + "  ".join(f"{'bpp  rgb   y':>22s}" for _ in routes))
    allq = ["none"] + [q for q in qs if q != "none"]
    for q in allq:
        row = f"{q:<6s} "
        for r in routes:
            m = res["routes"][r].get(q)
            row += "  " + (f"{m['bpp']:6.3f} {m['psnr_rgb']:6.2f} {m['psnr_y']:6.2f}" if m else " " * 20 + "--")
        lines.append(row)
    for k, v in res["bd_rate_percent"].items():
        lines.append(f"BD-rate {k}: " + ("n/a (no PSNR overlap)" if v is None else f"{v:+.2f}%"))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run directory or .pt checkpoint")
    p.add_argument("--qualities", default=",".join(map(str, DEFAULT_QUALITIES)))
    p.add_argument("--generic", action="store_true", help="evaluate the up net on bicubic-downscaled input")
    p.add_argument("--no-full", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    down, up, cfg = load_nets(a.run)
    generic = a.generic or cfg.get("mode") == "generic"
    routes = ["generic" if generic else "ai", "bicubic"] + ([] if a.no_full else ["full"])
    qs = [int(x) for x in a.qualities.split(",") if x]
    res = evaluate(down, up, cfg["scale"], qs, routes=routes, log=lambda s: print(s, file=sys.stderr))
    res["run"] = a.run
    res["scale"] = cfg["scale"]
    print(table(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
