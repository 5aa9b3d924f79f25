#!/usr/bin/env python3
"""Up nets compared on the very same real video streams (decisions on development clips).

For each clip (first N frames of a ../shared/data/video source) and each target rate of a
bits-per-pixel ladder, one small H.264 stream is made: `--stream ai` by `nic ai-encode --setting S
--bitrate R` (the setting's down net, real x264 ABR, B-frames, AI data SEI in every frame), or
`--stream bicubic` as bench/eval_video.py's bicubic route makes it (FFmpeg bicubic /2, x264 at the
same preset and rate). Every candidate up net then upscales the decoded small luma (limited range
expanded to [0, 1], as libnic's frame path reads it) in PyTorch, and its luma PSNR against the
source frames is averaged over the frames. The stream is shared, so differences are the up nets'
alone; the table lists the stream's real rate (all its video packets, SEI included), the first
net's PSNR and the others' difference to it.

  python3 training/aicodec/experiments/compare_up_nets.py --setting 9 --nets models/x2tc2L_low_up.safetensors,training/runs/RUN \\
      --clips mdn_flower.mp4,intel_car-detection.mp4 [--bpp 0.008,0.016] [--frames 60] [--stream bicubic]

`--reference BICUBIC.json` (the --json of a `--stream bicubic` run whose first net is `bicubic`, same
clips and ladder) adds each net's luma BD-rate per clip against that bicubic route; a `--stream bicubic` run whose first net
is `bicubic` prints them against itself.

A net is a .safetensors file (export.py), a run directory (its final.pt, else its latest ckpt.pt),
or `bicubic` (the up nets' own base, with no body). Never run this on the evaluation clips of
bench/eval_video.py: decisions are made on development clips only.
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
sys.path.insert(0, os.path.join(REPO, "bench"))   # bench/eval_video.py imports its siblings as top-level modules
from bench.rdcurves import INTERPOLATIONS, bd_rate  # noqa: E402
from eval_video import DEFAULT_CLIPS as EVALUATION_CLIPS, DEFAULT_VIDEO as VIDEO_DIR, EvalError, Runner, probe, video_bits  # noqa: E402
from training.aicodec.nets import load_safetensors_net  # noqa: E402
from training.aicodec.real_codecs import luma_frames  # noqa: E402
from training.aicodec.validate import load_nets  # noqa: E402
from training.metrics import psnr  # noqa: E402


class Bicubic(torch.nn.Module):
    """x2 bicubic (a = -0.75): what every up net adds its body to."""
    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)


def load_net(path):
    if path == "bicubic":
        return Bicubic()
    if path.endswith(".safetensors"):
        return load_safetensors_net(path)
    return load_nets(path)[1]   # a run directory: its final.pt, else its latest ckpt.pt


def small_stream(a, runner, ref, out, kbps, width, height):
    """The small stream of the AI route, or of bench/eval_video.py's bicubic route (its own x264 call)."""
    if a.stream == "ai":
        runner.run([a.nic, "ai-encode", ref, out, "--scale", "2", "--bitrate", f"{kbps}k", "--setting", str(a.setting),
                    "--preset", a.preset, "--threads", str(a.threads)])
    else:
        runner.x264(ref, out, kbps, vf=f"scale={width // 2}:{height // 2}:flags=bicubic")


def upscaled_psnr(net, small, reference):
    """Mean per-frame luma PSNR of net(small) (limited range) against the 8-bit reference frames."""
    values = []
    with torch.no_grad():
        for s, r in zip(small, reference):
            x = (torch.from_numpy(s.astype(np.float32))[None, None] - 16) / 219
            y = net(x)[0, 0]
            if y.shape != r.shape:
                sys.exit(f"compare_up_nets: the net makes {tuple(y.shape)} from {s.shape}, the source is {r.shape}")
            out = torch.clamp(torch.round(y * 219 + 16), 0, 255).numpy()
            values.append(psnr(out, r.astype(np.float32), 255))
    return float(np.mean(values))


def load_reference(path):
    """The bicubic route (`bicubic_route`) of a --stream bicubic run's JSON."""
    with open(path) as f:
        d = json.load(f)
    if d.get("stream") != "bicubic" or d["nets"][0] != "bicubic":
        sys.exit(f"compare_up_nets: {path} is not a --stream bicubic run with bicubic as its first net")
    return bicubic_route(d["results"])


def bicubic_route(results):
    """{clip: [(kbit/s, PSNR-Y)]} of the `bicubic` net in results of a --stream bicubic run."""
    route = {}
    for r in results:
        route.setdefault(r["clip"], []).append((r["kbps"], r["psnr_y"]["bicubic"]))
    return route


def print_bd_rates(paths, results, reference_route):
    """Each net's luma BD-rate per clip (and the mean) against the reference bicubic route."""
    clips = list(dict.fromkeys(r["clip"] for r in results))
    missing = [c for c in clips if len(reference_route.get(c, [])) < 2]
    if missing:
        sys.exit(f"compare_up_nets: the reference has no rate ladder for {', '.join(missing)}")
    for interpolation in INTERPOLATIONS:
        print(f"BD-rate vs the bicubic route ({interpolation}): " + " / ".join(clips))
        for p in paths:
            values = []
            for c in clips:
                pts = [(r["kbps"], r["psnr_y"][p]) for r in results if r["clip"] == c]
                ref = reference_route[c]
                values.append(bd_rate([x for x, _ in ref], [y for _, y in ref], [x for x, _ in pts], [y for _, y in pts],
                                      interpolation))
            print(f"  {p}: " + " / ".join(f"{v:+.1f}%" for v in values) + f"  (mean {sum(values) / len(values):+.1f}%)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setting", type=int, default=9, help="--stream ai: the setting whose down net makes the streams")
    ap.add_argument("--stream", choices=["ai", "bicubic"], default="ai")
    ap.add_argument("--preset", default="medium", help="x264 preset of the small streams")
    ap.add_argument("--nets", required=True, help="comma-separated up nets; the first is the baseline")
    ap.add_argument("--clips", required=True)
    ap.add_argument("--video-dir", default=VIDEO_DIR)
    ap.add_argument("--bpp", default="0.008,0.016", help="target bits per original pixel per frame")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--reference", default=None,
                    help="--json of a --stream bicubic run (first net bicubic): BD-rates against that route")
    a = ap.parse_args()
    reference_route = load_reference(a.reference) if a.reference else None
    torch.set_num_threads(a.threads)
    clips = a.clips.split(",")
    if set(EVALUATION_CLIPS) & set(clips):
        sys.exit("compare_up_nets: evaluation clips are not for decisions; use development clips")
    paths = a.nets.split(",")
    nets = [load_net(p) for p in paths]
    runner = Runner(a.nic, None, a.threads, a.preset)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for clip in clips:
            src = os.path.join(a.video_dir, clip)
            width, height, fps = probe(src)
            ref = os.path.join(work, "ref.y4m")
            runner.ffmpeg("-i", src, "-frames:v", a.frames, "-an", "-sn", "-pix_fmt", "yuv420p", ref)   # as eval_video.py
            reference = luma_frames(ref, width, height, a.frames)
            for bpp in map(float, a.bpp.split(",")):
                kbps = max(20, round(bpp * width * height * fps / 1000))
                small_path = os.path.join(work, "small.mp4")
                small_stream(a, runner, ref, small_path, kbps, width, height)
                sw, sh, _ = probe(small_path)
                small = luma_frames(small_path, sw, sh, a.frames)
                real = video_bits(small_path) / (len(small) / fps) / 1000
                psnrs = [upscaled_psnr(n, small, reference) for n in nets]
                row = {"clip": clip, "target_kbps": kbps, "kbps": real, "psnr_y": dict(zip(paths, psnrs))}
                results.append(row)
                print(f"{clip:40s} {kbps:6d}k ({real:6.1f}k)  " + "  ".join(
                    f"{psnrs[0]:.3f}" if i == 0 else f"{p - psnrs[0]:+.3f}" for i, p in enumerate(psnrs)), flush=True)
    if reference_route is None and a.stream == "bicubic" and paths[0] == "bicubic":
        reference_route = bicubic_route(results)   # this run is its own bicubic route
    if reference_route:
        print_bd_rates(paths, results, reference_route)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"stream": a.stream, "setting": a.setting, "nets": paths, "results": results}, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except (EvalError, subprocess.CalledProcessError) as e:
        sys.exit(f"compare_up_nets: {e}")
