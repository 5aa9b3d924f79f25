#!/usr/bin/env python3
"""Train libnic's AI-codec networks on ../shared/data/train (minus a fixed 8-image hold-out).

Modes (one command per setting, fixed seed, JSONL log, resumable: rerun the same command):

  joint     down + up trained together through a differentiable luma JPEG proxy
            (8x8 DCT, libjpeg-scaled luminance table with a per-sample quality in [qmin, qmax],
            straight-through rounding; a fraction --p-identity of the samples skip the codec).
            loss = mean log(MSE_quality) + kappa * mean log(R_proxy) + w_struct * mean log(MSE_struct + tau)
              MSE_quality: original vs. up(codec(down(original)))
              R_proxy:     sum log2(1 + |q|) over the quantised DCT coefficients (bits proxy)
              MSE_struct:  down(original) vs. bicubic-reduced original (antialiased)
  finetune  up net only, from a joint run, on REAL JPEG (PIL/libjpeg) of the frozen down net's
            output at qualities of a bucket (high 75-95, mid 45-75, low 10-45, or --qmin/--qmax).
  generic   up net only, on antialiased-bicubic-downscaled crops, 8-bit, then real JPEG at a
            random quality (or none with probability --p-identity): for images without AI data.
  --codec x264 (finetune, generic): real x264 instead of JPEG, one CRF per batch drawn from the
            bucket's CRF range (X264_BUCKETS), the crops coded as one inter-coded (P) picture.
  --clip-frames K (finetune, generic; --codec x264): each sample a K-frame camera pan coded as one
            x264 sequence with B-frames (generic: of the plain antialiased bicubic reduction).
  --codec x265 (finetune, generic): real x265 intra (X265_BUCKETS), the still-image x265 route.
  --proxy hevc (joint): the DCT proxy with HEVC's flat quantisation (step 2^((QP-4)/6)) instead of
            libjpeg's table; --qmin/--qmax are then QPs.
  --rd-loss (joint stills): loss = mean[(D + lambda R)_ai / (D + lambda R)_bicubic] + w_struct * l_struct,
            lambda = -dD/dR of the bicubic route's own curve at the sample's quality (proxy secant,
            rd_slope). The log loss's exchange rate kappa * D / R is far from that slope at both
            ends of the quality range (at high quality it lets the down net buy detail with bits
            the codec would have spent better); this one rewards only moving the curve.
  --temporal W (joint, with --proxy hevc): video training. Each sample is two frames of a camera
            moving by a random sub-pixel step (up to --max-shift original pixels); the first is coded
            intra at QP - 3, the second as a P picture predicted from it (pframe_proxy), and
            loss = mean[(D + lambda R)_ai / (D + lambda R)_bicubic] + w_struct * mean log(MSE_struct + tau)
            with D + lambda R = (1 - W) * (first frame) + W * (second frame) at x264's lambda for the
            QP (lagrangian), so the down net learns small frames that motion compensation predicts
            (aliasing that changes with sub-pixel motion costs P-picture bits no intra proxy sees).
  --w-shift W (joint, with --temporal): plus W * max(0, l_shift - 1), l_shift the down net's
            sub-pixel shift inconsistency: per sample a random step d (each axis uniform in [-1, 1]
            small pixels), ||down(translate(x, 2d)) - translate(down(x), d)||^2 on the interior
            (SHIFT_CROP small pixels cut from each side), summed over the batch and divided by the
            same for the plain antialiased bicubic reduction (l_shift = 1: as shift-consistent as
            bicubic /2). No codec in it: a direct signal against detail that aliases differently at
            every camera position, which x264's motion compensation cannot predict. Only the excess
            over bicubic is penalised: below 1 the term would reward blur (measured: unclamped at
            W = 0.5 the net went to l_shift 0.5 and lost half its gain in 150 steps).

Examples
  python3 training/aicodec/train.py --mode joint --scale 2 --steps 4000 --out training/runs/x2_joint
  python3 training/aicodec/train.py --mode finetune --scale 2 --bucket low --init training/runs/x2_joint \
      --steps 1500 --out training/runs/x2_low
  python3 training/aicodec/train.py --mode generic --scale 2 --steps 4000 --out training/runs/x2_generic
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.colour import luma_np, to_u8  # noqa: E402
from training.aicodec.data import CropSampler, camera_pans, list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.metrics import psnr  # noqa: E402
from training.aicodec.nets import ScalerNet, grown, load_safetensors_net  # noqa: E402
from training.aicodec.proxies import PROXY_TABLES, jpeg_proxy, pframe_proxy, quantize8_ste, translate  # noqa: E402
from training.aicodec.real_codecs import (jpeg_roundtrip_gray, x264_clip_roundtrip_gray, x264_roundtrip_gray,  # noqa: E402
                                          x265_intra_roundtrip_gray)
from training.files import save_json  # noqa: E402

BUCKETS = {"high": (75, 95), "mid": (45, 75), "low": (10, 45)}
# x264/x265 CRF drawn for --codec x264 fine-tuning, per bucket (the settings' CRF ranges, capped).
X264_BUCKETS = {"high": (16, 24), "mid": (24, 32), "low": (32, 44)}
# x265 intra CRF per bucket for --codec x265 (the still-image x265 route).
X265_BUCKETS = {"high": (16, 26), "mid": (26, 34), "low": (34, 51)}


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["joint", "finetune", "generic"], default="joint")
    p.add_argument("--scale", choices=["2", "1.5"], default="2")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=96, help="HR crop size (multiple of 48 keeps LR a multiple of 8 for both scales)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-final", type=float, default=2e-5)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--init", default=None, help="run directory (or .pt) to start from (finetune: required)")
    p.add_argument("--init-up", default=None, help="an up net (.safetensors, models/) replacing --init's")
    p.add_argument("--down-width", type=int, default=None)
    p.add_argument("--up-width", type=int, default=None, help="hidden channels of the up net (above a loaded net's: it is grown)")
    p.add_argument("--fresh-up", action="store_true",
                   help="finetune: take only the down net from --init; train a new up net of --up-width/--up-depth")
    p.add_argument("--down-depth", type=int, default=4, help="conv layers of the down net")
    p.add_argument("--up-depth", type=int, default=4,
                   help="conv layers of the up net (above a loaded net's: it is grown, nets.grown)")
    p.add_argument("--kappa", type=float, default=0.8, help="weight of log(rate proxy)")
    p.add_argument("--w-struct", type=float, default=0.05, help="weight of log(MSE_struct + tau)")
    p.add_argument("--tau-db", type=float, default=40.0, help="tau = MSE at this PSNR: structural slack")
    p.add_argument("--p-identity", type=float, default=0.15, help="fraction of samples without codec")
    p.add_argument("--qmin", type=int, default=10)
    p.add_argument("--qmax", type=int, default=95)
    p.add_argument("--bucket", choices=list(BUCKETS), default=None)
    p.add_argument("--codec", choices=["jpeg", "x264", "x265"], default="jpeg",
                   help="finetune/generic: the real codec the up net sees (x264: one CRF per batch, "
                        "inter-coded mosaic, see real_codecs.x264_roundtrip_gray; x265: one CRF per batch, "
                        "one intra picture, see real_codecs.x265_intra_roundtrip_gray)")
    p.add_argument("--proxy", choices=list(PROXY_TABLES), default="jpeg",
                   help="joint: quantisation table of the DCT proxy (jpeg: libjpeg luminance table, "
                        "--qmin/--qmax are JPEG qualities; hevc: flat, --qmin/--qmax are QPs)")
    p.add_argument("--rd-loss", action="store_true",
                   help="joint stills: mean[(D + lambda R)_ai / (D + lambda R)_bicubic] instead of the log loss "
                        "(lambda: the bicubic route's own slope at the sample's quality)")
    p.add_argument("--temporal", type=float, default=0.0,
                   help="joint: weight of the P picture in a two-frame clip's D + lambda R; 0 = stills")
    p.add_argument("--max-shift", type=float, default=4.0, help="--temporal: largest camera step, original pixels")
    p.add_argument("--w-shift", type=float, default=0.0,
                   help="--temporal: weight of the down net's sub-pixel shift inconsistency relative to bicubic's "
                        "(shift_loss)")
    p.add_argument("--clip-frames", type=int, default=0,
                   help="finetune|generic --codec x264: each sample is a camera pan of this many frames (steady speed up to "
                        "--max-shift original pixels per frame), coded as one x264 sequence with B-frames; the up "
                        "net learns from every frame but the first (intra). 0 = real_codecs.x264_roundtrip_gray")
    p.add_argument("--p-static", type=float, default=0.0, help="--clip-frames: share of clips from a still camera")
    p.add_argument("--ckpt-minutes", type=float, default=4.0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--val-every", type=int, default=500, help="steps between quick hold-out validations (0: only at end)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.bucket:
        a.qmin, a.qmax = {"x264": X264_BUCKETS, "x265": X265_BUCKETS}.get(a.codec, BUCKETS)[a.bucket]
    if a.mode == "finetune" and not a.init:
        p.error("--mode finetune needs --init RUN_DIR")
    if a.clip_frames and (a.mode not in ("finetune", "generic") or a.codec != "x264" or a.clip_frames < 2
                          or a.max_shift * (a.clip_frames - 1) > CLIP_MARGIN - 2):
        p.error(f"--clip-frames needs --mode finetune|generic --codec x264, at least 2 frames and a pan within {CLIP_MARGIN - 2} pixels")
    if a.temporal and (a.mode != "joint" or a.proxy != "hevc" or a.max_shift > TEMPORAL_MARGIN - 2):
        p.error(f"--temporal needs --mode joint --proxy hevc and --max-shift <= {TEMPORAL_MARGIN - 2}")
    if a.w_shift and (not a.temporal or a.scale != "2"):
        p.error("--w-shift needs --temporal and --scale 2")
    return a


# Original pixels of context around a --temporal crop: the camera step plus the bicubic support.
TEMPORAL_MARGIN = 12
# Original pixels of context around a --clip-frames crop: the whole pan plus the bicubic support.
CLIP_MARGIN = 24


def small_images(a, down, hr):
    """What the codec codes: the down net's output, or (generic) the plain antialiased bicubic reduction."""
    return down.base(hr) if a.mode == "generic" else down(hr)


def clip_batch(a, down, big, crf, rng):
    """--clip-frames: (decoded small frames, original frames) of a batch of pans cut from `big`
    (crops with CLIP_MARGIN), all frames but the first, as [N, 1, h, w] tensors."""
    B = big.shape[0]
    frames = camera_pans(big, a.crop, a.clip_frames, a.max_shift, a.p_static, rng)
    tiles = [[to_u8(s[i]) for i in range(B)] for s in (small_images(a, down, f) for f in frames)]
    decoded, _ = x264_clip_roundtrip_gray(tiles, crf)
    small = np.stack([np.stack(d) for d in decoded[1:]]).astype(np.float32) / 255.0
    return torch.from_numpy(small).reshape(-1, 1, *small.shape[-2:]), torch.cat(frames[1:])


# Small pixels cut from each side of a --w-shift comparison: the step (up to 1), the bicubic
# support of translate (2) and of the antialiased reduction (2), and the body's reach (4 convs: 2).
SHIFT_CROP = 7


def shift_loss(down, big, d):
    """--w-shift: the down net's sub-pixel shift inconsistency relative to the bicubic reduction's,
    and the two mean squared errors. d: (dy, dx) per sample, small pixels; `big` is moved by 2d
    original pixels, the small image of `big` by d."""
    dy, dx = d
    moved_big = translate(big, 2 * dy, 2 * dx)
    k = SHIFT_CROP

    def inconsistency(dn):
        a_, b_ = dn(moved_big), translate(dn(big), dy, dx)
        return ((a_ - b_)[..., k:-k, k:-k] ** 2).mean(dim=(1, 2, 3))

    net = inconsistency(down)
    with torch.no_grad():
        ref = inconsistency(down.base)
    return net.sum() / (ref.sum() + 1e-12), net.mean(), ref.mean()


def lagrangian(mse, bpp, qps):
    """D + lambda R at the codec's own operating point, per small-image pixel: 8-bit squared error
    plus x264's mode-decision lambda 0.85 * 2^((QP - 12) / 3) times the bits. A down net that lowers
    it has moved the rate-distortion curve, not slid along it (a log-rate loss lets it buy rate
    with blur, which gains nothing at equal rate)."""
    lam = torch.tensor([0.85 * 2.0 ** ((q - 12) / 3.0) for q in qps]).to(mse)
    return mse * 255.0 ** 2 + lam * bpp


def temporal_joint_loss(a, down, up, big, qs, use_codec, shifts, tau):
    """--temporal: loss and stats of one batch of two-frame clips cut from `big` (crops with
    TEMPORAL_MARGIN on every side); shifts: (dy, dx) camera steps per sample, original pixels."""
    m, c = TEMPORAL_MARGIN, a.crop
    div = 2.0 if a.scale == "2" else 1.5
    ml, lr = int(m / div), int(c / div)
    dy, dx = shifts
    x0 = big[..., m:m + c, m:m + c]
    x1 = translate(big, dy, dx)[..., m:m + c, m:m + c]
    mask = torch.from_numpy(use_codec)
    coded = mask.to(x0)
    intra_qps = [q - 3 for q in qs]     # x264/x265 code I pictures ~3 QP finer than P pictures

    def route(dn, upf):
        prev_big = quantize8_ste(dn(big))
        prev = prev_big[..., ml:ml + lr, ml:ml + lr]
        dec0, bits0 = jpeg_proxy(prev, intra_qps, mask, table=PROXY_TABLES["hevc"])
        ref = prev_big + F.pad(dec0 - prev, (ml, ml, ml, ml))   # decoded centre, margin as is
        small1 = dn(x1)
        dec1, bits1 = pframe_proxy(ref, quantize8_ste(small1), dy / div, dx / div, qs, ml)
        k = coded.view(-1, 1, 1, 1)
        dec1 = k * dec1 + (1 - k) * quantize8_ste(small1)
        mse0 = ((upf(dec0) - x0) ** 2).mean(dim=(1, 2, 3))
        mse1 = ((upf(dec1) - x1) ** 2).mean(dim=(1, 2, 3))
        cost = ((1 - a.temporal) * lagrangian(mse0, coded * bits0, intra_qps)
                + a.temporal * lagrangian(mse1, coded * bits1, qs))
        return cost, 0.5 * (mse0 + mse1), bits0, bits1, small1

    cost, mse_q, bpp0, bpp1, small1 = route(down, up)
    with torch.no_grad():
        bic_up = lambda t: F.interpolate(t, scale_factor=div, mode="bicubic", align_corners=False)
        bcost, bmse, bbpp0, bbpp1, _ = route(down.base, bic_up)
    mse_s = ((small1 - down.base(x1)) ** 2).mean(dim=(1, 2, 3))
    l_rd = (cost / bcost).mean()        # the bicubic route's cost on the same clip normalises scale
    l_s = torch.log(mse_s + tau).mean()
    loss = l_rd + a.w_struct * l_s
    stats = {}
    if a.w_shift:
        d = torch.rand(2, big.shape[0]) * 2 - 1     # the torch generator: in the checkpoint, resumable
        l_sh, sh_net, sh_bic = shift_loss(down, big, (d[0], d[1]))
        loss = loss + a.w_shift * (l_sh - 1).clamp(min=0)
        stats.update(l_shift=l_sh.item(), shift_psnr=(-10 * torch.log10(sh_net + 1e-12)).item(),
                     shift_psnr_bicubic=(-10 * torch.log10(sh_bic + 1e-12)).item())
    stats.update({"loss": loss.item(), "rd_ratio_vs_bicubic": l_rd.item(), "l_struct": l_s.item(),
             "dB_gain_vs_bicubic": (10 * torch.log10((bmse + 1e-6) / (mse_q + 1e-6))).mean().item(),
             "rate_ratio_vs_bicubic": (bpp0.mean() / bbpp0.mean()).item(),
             "p_rate_ratio_vs_bicubic": (bpp1.mean() / bbpp1.mean()).item(),
             "thumb_psnr": (-10 * torch.log10(mse_s + 1e-12)).mean().item()})
    return loss, stats


def bicubic_route(b8, hr, qs, mask, proxy):
    """The bicubic route through the proxy: final MSE against the original and the proxy's bits per
    small-image pixel, per sample. b8: the 8-bit antialiased bicubic small image."""
    dec, bpp = jpeg_proxy(b8, qs, mask, table=PROXY_TABLES[proxy])
    rec = F.interpolate(dec, size=hr.shape[-2:], mode="bicubic", align_corners=False)
    return ((rec - hr) ** 2).mean(dim=(1, 2, 3)), bpp


def rd_slope(b8, hr, qs, mask, proxy):
    """Per sample, the slope -dD/dR of the bicubic route's end-to-end curve at its quality: a secant
    of the proxy between one step coarser and one finer (JPEG quality -/+5, QP +/-2)."""
    jpeg = proxy == "jpeg"
    coarse = [max(5, q - 5) if jpeg else q + 2 for q in qs]
    fine = [min(100, q + 5) if jpeg else max(0, q - 2) for q in qs]
    (d0, r0), (d1, r1) = (bicubic_route(b8, hr, qq, mask, proxy) for qq in (coarse, fine))
    return (d0 - d1).clamp(min=0) / (r1 - r0).clamp(min=1e-3)


def still_joint_loss(a, down, up, hr, qs, use_codec, tau):
    """Joint still-image loss and stats of one batch (see the module doc: log loss or --rd-loss)."""
    mask = torch.from_numpy(use_codec)
    lr_img = down(hr)
    base_lr = down.base(hr)
    dec, bpp = jpeg_proxy(quantize8_ste(lr_img), qs, mask, table=PROXY_TABLES[a.proxy])
    mse_q = ((up(dec) - hr) ** 2).mean(dim=(1, 2, 3))
    mse_s = ((lr_img - base_lr) ** 2).mean(dim=(1, 2, 3))
    l_s = torch.log(mse_s + tau).mean()
    with torch.no_grad():
        # the same samples through the bicubic route of the proxy: reference and running comparison
        b8 = quantize8_ste(base_lr)
        bmse, bbpp = bicubic_route(b8, hr, qs, mask, a.proxy)
    stats = {}
    if a.rd_loss:
        coded = mask.to(bpp)
        with torch.no_grad():
            lam = rd_slope(b8, hr, qs, mask, a.proxy) * coded
        floor = 1e-5      # MSE at 50 dB: flat crops have next to no cost on either route
        l_rd = ((mse_q + lam * bpp * coded + floor) / (bmse + lam * bbpp * coded + floor)).mean()
        loss = l_rd + a.w_struct * l_s
        stats.update(rd_ratio_vs_bicubic=l_rd.item(), mean_lambda=lam.mean().item())
    else:
        l_q = torch.log(mse_q + 1e-6).mean()
        l_r = torch.log(bpp + 1e-4).mean()
        loss = l_q + a.kappa * l_r + a.w_struct * l_s
        stats.update(l_quality=l_q.item(), l_rate=l_r.item())
    stats.update(loss=loss.item(), l_struct=l_s.item(),
                 dB_gain_vs_bicubic=(10 * torch.log10((bmse + 1e-6) / (mse_q + 1e-6))).mean().item(),
                 rate_ratio_vs_bicubic=(bpp / bbpp).mean().item(),
                 thumb_psnr=(-10 * torch.log10(mse_s + 1e-12)).mean().item())
    return loss, stats


def coded_batch(a, down, hr, qs, use_codec):
    """finetune/generic: the small images of `hr` (generic: plain antialiased bicubic) through the
    real codec (uncoded where `use_codec` is false), as a [B, 1, h, w] tensor in [0, 1]."""
    lr_img = small_images(a, down, hr)
    tiles = [to_u8(lr_img[i]) for i in range(hr.shape[0])]
    if a.codec in ("x264", "x265"):
        coded = [i for i in range(len(tiles)) if use_codec[i]]
        roundtrip = x264_roundtrip_gray if a.codec == "x264" else x265_intra_roundtrip_gray
        if coded:
            decoded, _ = roundtrip([tiles[i] for i in coded], qs[0])
            for i, d in zip(coded, decoded):
                tiles[i] = d
    else:
        tiles = [jpeg_roundtrip_gray(t, qs[i])[0] if use_codec[i] else t for i, t in enumerate(tiles)]
    return torch.from_numpy(np.stack(tiles).astype(np.float32)[:, None] / 255.0)


def up_loss(up, inp, hr):
    """The up net's loss (MSE x 1000) on decoded small images `inp` against `hr`, and its gain over
    plain bicubic up-scaling."""
    with torch.no_grad():
        bic = F.interpolate(inp, size=hr.shape[-2:], mode="bicubic", align_corners=False)
        bmse = ((bic - hr) ** 2).mean(dim=(1, 2, 3))
    mse_q = ((up(inp) - hr) ** 2).mean(dim=(1, 2, 3))
    loss = mse_q.mean() * 1000.0
    return loss, {"loss": loss.item(),
                  "dB_gain_vs_bicubic_up": (10 * torch.log10((bmse + 1e-6) / (mse_q.detach() + 1e-6))).mean().item()}


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(1.0, t)))


def load_models(path):
    """--init: a run directory, a checkpoint, or a shipped down net (.safetensors, models/)."""
    if path.endswith(".safetensors"):
        net = load_safetensors_net(path)
        return {net.kind: net.state_dict(), "config": {f"{net.kind}_width": net.width, f"{net.kind}_depth": net.depth}}
    if os.path.isdir(path):
        for n in ("final.pt", "ckpt.pt"):
            if os.path.exists(os.path.join(path, n)):
                path = os.path.join(path, n)
                break
    return torch.load(path, map_location="cpu", weights_only=False)


# ----------------------------------------------------------------------------------------------
# Quick validation on the hold-out (luma, real grayscale JPEG; validate.py does the full RGB route)
# ----------------------------------------------------------------------------------------------

VAL_QUALITIES = [None, 90, 60, 30]


def load_val(scale, size=384):
    _, val = split_train_val(list_train_images())
    out = []
    for f in val:
        rgb = load_rgb(f)
        h, w = rgb.shape[:2]
        s = min(size, h, w) // 48 * 48
        y0, x0 = (h - s) // 2, (w - s) // 2
        out.append(torch.from_numpy(luma_np(rgb[y0:y0 + s, x0:x0 + s]))[None, None])
    return out


def codec_u8(y_u8, q):
    if q is None:
        return y_u8, y_u8.size  # bytes meaningless for no codec
    return jpeg_roundtrip_gray(y_u8, q)


@torch.no_grad()
def quick_val(down, up, scale, val, generic=False):
    """Mean luma PSNR (dB) on the hold-out centre crops: AI route vs bicubic route per quality, plus bytes."""
    ref_down = ScalerNet("down", scale)  # zero body -> plain antialiased bicubic
    ref_up = ScalerNet("up", scale)
    res = {}
    for q in VAL_QUALITIES:
        acc = {"ai": [], "bic": [], "ai_bytes": 0, "bic_bytes": 0}
        for y in val:
            for route, dn, un in (("ai", down, up), ("bic", ref_down, ref_up)):
                if generic and route == "ai":
                    dn = ref_down
                lr = dn(y)
                dec, n = codec_u8(to_u8(lr), q)
                rec = un(torch.from_numpy(dec.astype(np.float32) / 255.0)[None, None]).clamp(0, 1)
                acc[route].append(psnr(rec, y))
                acc[route + "_bytes"] += n
        key = "none" if q is None else f"q{q}"
        res[key] = {"ai_psnr_y": round(float(np.mean(acc["ai"])), 3),
                    "bicubic_psnr_y": round(float(np.mean(acc["bic"])), 3),
                    "ai_bytes": acc["ai_bytes"], "bicubic_bytes": acc["bic_bytes"]}
    if not generic and down is not None:
        th = [psnr(down(y).clamp(0, 1), ref_down(y)) for y in val]
        res["thumbnail_psnr_vs_bicubic"] = round(float(np.mean(th)), 3)
    return res


# ----------------------------------------------------------------------------------------------


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    seed_all(a.seed)
    assert a.crop % 6 == 0, "crop must be divisible by 6"
    lr_div = 2 if a.scale == "2" else 1.5
    lr_size = int(a.crop / lr_div)
    if a.mode == "joint":
        assert lr_size % 8 == 0, f"LR crop {lr_size} must be a multiple of 8 for the JPEG proxy"

    train_files, val_files = split_train_val(list_train_images())
    cfg = vars(a).copy()
    cfg["train_images"] = len(train_files)
    cfg["val_images"] = [os.path.relpath(f, os.path.dirname(os.path.dirname(f))) for f in val_files]
    cfg["command"] = "python3 training/aicodec/train.py " + " ".join(sys.argv[1:])
    cfg["torch"] = torch.__version__

    down = ScalerNet("down", a.scale, a.down_width, a.down_depth)
    up = ScalerNet("up", a.scale, a.up_width, a.up_depth)
    if a.init:
        st = load_models(a.init)
        if "down" in st and a.mode != "generic":
            down = ScalerNet("down", a.scale, st["config"].get("down_width") or None,
                             st["config"].get("down_depth", 4))
            down.load_state_dict(st["down"])
        if "up" in st and not a.fresh_up:
            up = ScalerNet("up", a.scale, st["config"].get("up_width") or None,
                           st["config"].get("up_depth", 4))
            up.load_state_dict(st["up"])
    if a.init_up:
        up = load_safetensors_net(a.init_up)
    if (a.up_width or up.width) > up.width or a.up_depth > up.depth:
        up = grown(up, a.up_width, max(a.up_depth, up.depth))   # the loaded net's function, more room
    cfg["down_width"], cfg["up_width"] = down.width, up.width
    cfg["down_depth"], cfg["up_depth"] = down.depth, up.depth
    cfg["down_macs_per_lr_pixel"] = down.macs_per_lr_pixel()
    cfg["up_macs_per_lr_pixel"] = up.macs_per_lr_pixel()

    train_down = a.mode == "joint"
    params = list(up.parameters()) + (list(down.parameters()) if train_down else [])
    if not train_down:
        down.requires_grad_(False)
    opt = torch.optim.Adam(params, lr=a.lr)

    sampler = CropSampler(train_files, a.seed)
    qrng = np.random.default_rng(a.seed + 1000)
    step = 0
    ck = os.path.join(a.out, "ckpt.pt")
    if os.path.exists(ck):
        st = torch.load(ck, map_location="cpu", weights_only=False)
        down.load_state_dict(st["down"])
        up.load_state_dict(st["up"])
        opt.load_state_dict(st["opt"])
        sampler.set_state(st["sampler"])
        qrng.bit_generator.state = st["qrng"]
        torch.set_rng_state(st["torch_rng"])
        step = st["step"]
        print(f"resumed from {ck} at step {step}", flush=True)
    else:
        save_json(os.path.join(a.out, "config.json"), cfg)
    print(json.dumps({k: cfg[k] for k in ("mode", "scale", "down_width", "up_width",
                                          "down_macs_per_lr_pixel", "up_macs_per_lr_pixel")}), flush=True)

    val = load_val(a.scale)
    logf = open(os.path.join(a.out, "log.jsonl"), "a")

    def log(obj):
        logf.write(json.dumps(obj) + "\n")
        logf.flush()

    def save(path, final=False):
        st = {"down": down.state_dict(), "up": up.state_dict(), "config": cfg, "step": step}
        if not final:
            st.update(opt=opt.state_dict(), sampler=sampler.state(), qrng=qrng.bit_generator.state,
                      torch_rng=torch.get_rng_state())
        tmp = path + ".tmp"
        torch.save(st, tmp)
        os.replace(tmp, path)

    tau = 10 ** (-a.tau_db / 10)
    acc, nacc = {}, 0
    t_last_ck = time.time()
    t_log = time.time()
    while step < a.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(a, step)
        margin = TEMPORAL_MARGIN if a.temporal else CLIP_MARGIN if a.clip_frames else 0
        hr = sampler.batch(a.batch, a.crop + 2 * margin)
        B = hr.shape[0]
        qs = [int(q) for q in qrng.integers(a.qmin, a.qmax + 1, size=B)]
        use_codec = qrng.random(B) >= a.p_identity
        if a.mode == "joint" and a.temporal:
            shifts = torch.from_numpy(qrng.uniform(-a.max_shift, a.max_shift, size=(2, B)).astype(np.float32))
            loss, stats = temporal_joint_loss(a, down, up, hr, qs, use_codec, (shifts[0], shifts[1]), tau)
        elif a.mode == "joint":
            loss, stats = still_joint_loss(a, down, up, hr, qs, use_codec, tau)
        else:
            with torch.no_grad():
                inp, hr = clip_batch(a, down, hr, qs[0], qrng) if a.clip_frames else (coded_batch(a, down, hr, qs, use_codec), hr)
            loss, stats = up_loss(up, inp, hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0 if a.mode == "joint" else 10.0)
        opt.step()
        step += 1
        for k, v in stats.items():
            acc[k] = acc.get(k, 0.0) + v
        nacc += 1
        if step % a.log_every == 0 or step == a.steps:
            now = time.time()
            rec_ = {"step": step, "lr": opt.param_groups[0]["lr"], "sec_per_step": (now - t_log) / nacc}
            rec_.update({k: round(v / nacc, 5) for k, v in acc.items()})
            log(rec_)
            print(json.dumps(rec_), flush=True)
            acc, nacc, t_log = {}, 0, now
        if a.val_every and step % a.val_every == 0 and step < a.steps:
            t0 = time.time()
            v = quick_val(down, up, a.scale, val, generic=(a.mode == "generic"))
            log({"step": step, "val": v, "val_sec": round(time.time() - t0, 1)})
            print("VAL", step, json.dumps(v), flush=True)
            t_log += time.time() - t0
        if time.time() - t_last_ck > a.ckpt_minutes * 60:
            save(ck)
            t_last_ck = time.time()
    save(ck)
    save(os.path.join(a.out, "final.pt"), final=True)
    v = quick_val(down, up, a.scale, val, generic=(a.mode == "generic"))
    log({"step": step, "val": v, "final": True})
    print("VAL final", json.dumps(v), flush=True)


if __name__ == "__main__":
    main()
