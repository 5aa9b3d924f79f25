#!/usr/bin/env python3
"""Does `nic ai-encode --scale auto` pick the best route? For each clip and CRF: the scale auto
chose (from its trial encodes) and, for the three fixed routes (--scale 1, 1.5, 2) coded in full,
the stream bits, Y-PSNR after `nic ai-decode` and J = SSE + lambda*bits with auto's own lambda:
the route of lowest J over the whole clip is the one auto should have picked. Also the share of
the auto job's time spent on trials.

  python3 bench/eval_scale_auto.py --nic .build/release/nic --models models [--frames 60]
      [--clips mdn_flower.mp4,...] [--crfs 23,30,37] [--out results.json]

Clips are files of ../shared/data/video (first N frames) or generated ones: gen:testsrc2
(graphics with sharp edges and text) and gen:gradient (slowly moving smooth gradients).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

VIDEO_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "video")
GENERATED = {
    "gen:testsrc2": "testsrc2=s=640x360:r=25",
    "gen:gradient": "nullsrc=s=640x360:r=25,geq=lum='40+(X+2*N)/8+Y/4':cb='128+X/20':cr='128-Y/20'",
}


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def reference(clip, frames, work):
    ref = os.path.join(work, re.sub(r"\W", "_", clip) + ".y4m")
    source = ["-f", "lavfi", "-i", GENERATED[clip]] if clip in GENERATED else ["-i", os.path.join(VIDEO_DIR, clip)]
    run("ffmpeg", "-v", "error", "-y", *source, "-frames:v", str(frames), "-an", "-sn", "-pix_fmt", "yuv420p", ref)
    return ref


def psnr_y(decoded, ref):
    err = run("ffmpeg", "-i", decoded, "-i", ref, "-lavfi", "psnr", "-f", "null", "-").stderr
    return float(re.search(r"PSNR y:(\S+)", err).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nic", default=".build/release/nic")
    ap.add_argument("--models", default="models")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--clips", default="mdn_flower.mp4,intel_car-detection.mp4,intel_bottle-detection.mp4,gen:testsrc2,gen:gradient")
    ap.add_argument("--crfs", default="23,30,37")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    nic = [a.nic]
    common = ["--models", a.models, "--threads", str(a.threads), "--quiet", "--json"]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for clip in a.clips.split(","):
            ref = reference(clip, a.frames, work)
            for crf in a.crfs.split(","):
                out = os.path.join(work, "auto.mkv")
                auto = json.loads(run(*nic, "ai-encode", ref, out, "--crf", crf, *common).stdout)
                choice = auto["scale_choice"]
                lam = choice["lambda"]
                routes = {}
                for scale in (1, 1.5, 2):
                    path = os.path.join(work, f"x{scale}.mkv")
                    if scale == choice["scale"]:
                        os.replace(out, path)
                        job = auto
                    else:
                        job = json.loads(run(*nic, "ai-encode", ref, path, "--scale", str(scale), "--crf", crf, *common).stdout)
                    decoded = os.path.join(work, "decoded.y4m")
                    run(*nic, "ai-decode", path, decoded, *common)
                    p = psnr_y(decoded, ref)
                    pixels = job["input_width"] * job["input_height"] * job["frames"]
                    sse = pixels * 255 ** 2 / 10 ** (p / 10)
                    bits = job["video_bytes"] * 8
                    routes[str(scale)] = {"bits": bits, "psnr_y": round(p, 3), "cost": sse + lam * bits,
                                          "setting_id": job.get("setting_id", 0)}
                best = min(routes, key=lambda s: routes[s]["cost"])
                trial = choice["trial_seconds"]
                row = {"clip": clip, "crf": float(crf), "width": auto["input_width"], "height": auto["input_height"],
                       "frames": auto["frames"], "auto": choice["scale"], "best_by_j": float(best), "lambda": lam,
                       "trials": choice["trials"], "routes": routes, "trial_seconds": trial,
                       "job_seconds": auto["seconds"], "overhead": trial / max(1e-9, auto["seconds"] - trial)}
                rows.append(row)
                print(f"{clip} crf {crf}: auto x{choice['scale']}, best by J x{best}; "
                      + ", ".join(f"x{s} {r['bits'] / 1000:.0f} kbit {r['psnr_y']:.2f} dB" for s, r in routes.items())
                      + f"; trials {trial:.1f} s of {auto['seconds']:.1f} s", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
