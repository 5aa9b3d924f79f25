#!/usr/bin/env python3
"""P-picture overhead of an x2 down net: x264 bytes of its small video over the bicubic /2 one's.

A down net's detail that aliases differently at every sub-pixel camera position costs x264 more as
P/B pictures than as intra pictures: motion compensation cannot predict it. This measures it with
real x264 on pan clips of the 8 hold-out images (experiments/make_holdout_clips.py), never on the
evaluation clips:

  python3 training/aicodec/experiments/make_holdout_clips.py --out CLIPS
  python3 training/aicodec/experiments/p_overhead.py --clips CLIPS \
      --down models/x2t_joint_down.safetensors,models/x2tL_joint_down.safetensors [--crf 23,30,37] [--json OUT]
  python3 training/aicodec/experiments/p_overhead.py --clips CLIPS \
      --down models/x2t_joint_down.safetensors --up models/x2t_mid_up.safetensors    (plus quality)

Per clip: the luma of every frame (limited range expanded to [0, 1], as nic's FrameScaler feeds the
network) down-scaled x2 by (a) each down net and (b) the plain antialiased bicubic /2 (the nets'
residual base, PIL's bicubic reduction), 8-bit, back to limited range; each small luma video (neutral
chroma, yuv420p) coded by x264 (libx264 through ffmpeg, preset medium, one thread) at each CRF
  intra  every picture intra (-g 1),
  gop    x264's default structure (one I picture, then P and B pictures),
and the bytes of the stream compared: AI / bicubic per clip and mean over clips, for intra, gop,
and `inter` = the gop stream without its key pictures' packets (the P and B pictures alone). The
quality of the decoded small video is not measured: this is about bits.

--up (one up net per down net, "-" for none): the end-to-end quality at equal rate as well. The
decoded gop stream up-scaled x2 by the up net (and the bicubic route's by bicubic x2, the up nets'
residual base), luma PSNR against the clip's own luma (mean over frames), and the BD-rate of the AI
route vs the bicubic route over the CRFs (PCHIP, bench/rdcurves.py) per clip and mean; luma bits
only (the chroma of both routes would be the same bicubic planes).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.nets import load_safetensors_net  # noqa: E402
from training.aicodec.real_codecs import luma_frames  # noqa: E402
from training.metrics import psnr  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "bench"))
from rdcurves import bd_rate  # noqa: E402


def clip_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout
    w, h = out.strip().split(",")[:2]
    return int(w), int(h)


@torch.no_grad()
def small_luma(net, frames, base=False):
    """[N, H, W] limited-range uint8 luma -> [N, H/2, W/2] uint8, through `net` (or its base)."""
    out = []
    for f in frames:
        x = (torch.from_numpy(f.astype(np.float32))[None, None] - 16.0) / 219.0
        y = net.base(x) if base else net(x)
        out.append(np.clip(np.round(16.0 + 219.0 * y[0, 0].numpy()), 0, 255).astype(np.uint8))
    return np.stack(out)


def x264_bytes(small, crf, intra, work, decode=False):
    """Bytes of the x264 stream of a luma video (neutral chroma) and of its non-key packets (and,
    with decode, the decoded luma)."""
    n, h, w = small.shape
    chroma = np.full((h // 2) * (w // 2) * 2, 128, np.uint8).tobytes()
    raw = b"".join(f.tobytes() + chroma for f in small)
    path = os.path.join(work, "s.h264")
    gop = ["-g", "1"] if intra else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}",
                    "-r", "30", "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), *gop,
                    "-threads", "1", "-x264-params", "log-level=error", "-f", "h264", path],
                   input=raw, check=True)
    pk = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=size,flags", "-of", "csv=p=0", path],
                        capture_output=True, text=True, check=True).stdout.split()
    inter = sum(int(s.split(",")[0]) for s in pk if "K" not in s.split(",")[1])
    if decode:
        return os.path.getsize(path), inter, luma_frames(path, w, h)
    return os.path.getsize(path), inter


@torch.no_grad()
def up_psnr(up, small, frames):
    """Mean luma PSNR (8-bit, limited range as stored) of the small video up-scaled x2 by `up`
    (None: bicubic x2) against the original frames."""
    out = []
    for s, f in zip(small, frames):
        x = (torch.from_numpy(s.astype(np.float32))[None, None] - 16.0) / 219.0
        y = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False) if up is None else up(x)
        y = np.clip(np.round(16.0 + 219.0 * y[0, 0].numpy()), 0, 255)
        out.append(psnr(y, f.astype(np.float64), 255))
    return float(np.mean(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", required=True, help="folder of make_holdout_clips.py's clips")
    p.add_argument("--down", required=True, help="down nets (.safetensors), comma-separated")
    p.add_argument("--up", default=None, help="up nets paired with --down (comma-separated, - for none): quality too")
    p.add_argument("--crf", default="23,30,37")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--bicubic-from", default=None,
                   help="the bicubic route's figures from an earlier --json of the same clips, CRFs and frames "
                        "(x264 and the reduction are deterministic: the same bytes and PSNR)")
    a = p.parse_args()
    torch.set_num_threads(1)
    crfs = [int(c) for c in a.crf.split(",")]
    downs = a.down.split(",")
    up_files = a.up.split(",") if a.up else ["-"] * len(downs)
    if len(up_files) != len(downs):
        p.error("--up needs one up net (or -) per --down net")
    stem = lambda f: os.path.splitext(os.path.basename(f))[0]  # noqa: E731
    keys = [stem(d) + ("" if u == "-" else "+" + stem(u)) for d, u in zip(downs, up_files)]
    nets = {k: load_safetensors_net(d) for k, d in zip(keys, downs)}
    ups = {k: None if u == "-" else load_safetensors_net(u) for k, u in zip(keys, up_files)}
    ups["bicubic"] = None
    clips = sorted(f for f in os.listdir(a.clips) if f.endswith((".mp4", ".y4m", ".mkv")))
    res = {"crf": crfs, "frames": a.frames, "clips": clips, "nets": {n: {} for n in nets}, "bicubic": {}}
    ref = None
    if a.bicubic_from:
        with open(a.bicubic_from) as f:
            ref = json.load(f)
        if ref["crf"] != crfs or ref["clips"] != clips or ref.get("frames", a.frames) != a.frames:
            p.error("--bicubic-from: another clip set, CRF list or frame count")
        res["bicubic"] = ref["bicubic"]
    with tempfile.TemporaryDirectory(prefix="nic_poverhead_") as work:
        for c in clips:
            w, h = clip_size(os.path.join(a.clips, c))
            frames = luma_frames(os.path.join(a.clips, c), w, h, a.frames)
            routes = [] if ref else [("bicubic", None, "bicubic")]
            routes += [(k, d, k) for k, d in zip(keys, downs)]
            smalls, coded = {}, {}     # per down net file: a net paired with two up nets is coded once
            for name, dfile, _ in routes:
                if dfile not in smalls:
                    net = nets[name] if dfile else next(iter(nets.values()))
                    smalls[dfile] = small_luma(net, frames, base=dfile is None)
                small = smalls[dfile]
                rec = {}
                measure_quality = a.up is not None and (name == "bicubic" or ups[name] is not None)
                for crf in crfs:
                    if (dfile, crf) not in coded:
                        intra, _ = x264_bytes(small, crf, True, work)
                        gop, inter, dec = x264_bytes(small, crf, False, work, decode=True)
                        coded[dfile, crf] = intra, gop, inter, dec
                    intra, gop, inter, dec = coded[dfile, crf]
                    rec[str(crf)] = {"intra": intra, "gop": gop, "inter": inter}
                    if measure_quality:
                        rec[str(crf)]["psnr_y"] = round(up_psnr(ups[name], dec, frames), 4)
                (res["bicubic"] if name == "bicubic" else res["nets"][name])[c] = rec
            print(c, json.dumps({n: res["nets"][n][c] for n in nets}), "bicubic", json.dumps(res["bicubic"][c]),
                  file=sys.stderr, flush=True)
    summary = {}
    for n in nets:
        summary[n] = {}
        for crf in crfs:
            k = str(crf)
            r = {kind: [res["nets"][n][c][k][kind] / res["bicubic"][c][k][kind] for c in clips]
                 for kind in ("intra", "gop", "inter")}
            summary[n][k] = {kind: {"per_clip": [round(v, 4) for v in vs], "mean": round(float(np.mean(vs)), 4)}
                             for kind, vs in r.items()}
    res["ratio_ai_over_bicubic"] = summary
    bd = {}
    for n in nets:
        if ups[n] is None:
            continue
        per = []
        for c in clips:
            b, r = res["bicubic"][c], res["nets"][n][c]
            per.append(bd_rate([b[str(k)]["gop"] for k in crfs], [b[str(k)]["psnr_y"] for k in crfs],
                               [r[str(k)]["gop"] for k in crfs], [r[str(k)]["psnr_y"] for k in crfs]))
        ok = [v for v in per if v is not None]
        bd[n] = {"per_clip": [None if v is None else round(v, 2) for v in per],
                 "mean": round(float(np.mean(ok)), 2) if ok else None}
    if bd:
        res["bd_rate_vs_bicubic_percent"] = bd
    for n in nets:
        print(f"\n{n}: x264 bytes AI / bicubic (mean over {len(clips)} clips; per clip in --json)")
        print("| CRF | intra | gop (I+P+B) | P+B pictures |")
        print("|---|---|---|---|")
        for crf in crfs:
            s = summary[n][str(crf)]
            print(f"| {crf} | {s['intra']['mean']:.3f} | {s['gop']['mean']:.3f} | {s['inter']['mean']:.3f} |")
        print("\nper clip at CRF", crfs[0], "(intra / gop / P+B):")
        s = summary[n][str(crfs[0])]
        for i, c in enumerate(clips):
            print(f"  {c}: {s['intra']['per_clip'][i]:.3f} / {s['gop']['per_clip'][i]:.3f} / {s['inter']['per_clip'][i]:.3f}"
                  + (f"   BD-rate vs bicubic {bd[n]['per_clip'][i]:+.2f}%" if n in bd and bd[n]['per_clip'][i] is not None else ""))
        if n in bd:
            print(f"BD-rate vs bicubic (luma PSNR, gop stream, CRF {a.crf}): mean {bd[n]['mean']:+.2f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
