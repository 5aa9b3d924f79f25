#!/usr/bin/env python3
"""Does `nic ai-encode --scale auto` pick the best route? For each clip and CRF: the scale auto
chose (from its trial encodes) and, for the three fixed routes (--scale 1, 1.5, 2) coded in full,
the stream bits, Y-PSNR after `nic ai-decode` and J = SSE + lambda*bits with auto's own lambda:
the route of lowest J over the whole clip is the one auto should have picked. Also the share of
the auto job's time spent on trials.

  python3 bench/eval_scale_auto.py --nic .build/release/nic --models models [--frames 60]
      [--clips mdn_flower.mp4,...] [--crfs 23,30,37] [--out results.json]

With --bpp (target bits per pixel per frame of the full-resolution video, as bench/eval_video.py's
ladder), the auto jobs code at the target bit rates instead (MP4: one scale per stream): for each
clip and rate, auto's scale, the rate and Y-PSNR it got, its trials and their time, and with
--fixed the three fixed routes at the same target (or, with --fixed-from, those of an earlier
run's JSON: to compare two binaries, code the fixed routes once). Each route's and auto's gain
over full resolution at equal rate (Y-PSNR minus full resolution's, interpolated linearly over log
rate between the clip's --scale 1 points) and auto's regret (the best route's gain minus auto's).

Clips are files of ../shared/data/video (first N frames) or generated ones: gen:testsrc2
(graphics with sharp edges and text) and gen:gradient (slowly moving smooth gradients).
"""
import argparse
import json
import math
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


def fps_of(clip):
    if clip in GENERATED:
        return 25.0
    out = run("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate",
              "-of", "csv=p=0", os.path.join(VIDEO_DIR, clip)).stdout.strip()
    num, den = out.split("/")
    return float(num) / float(den)


def coded(nic, common, ref, path, args, work):
    """One `nic ai-encode` job, decoded by `nic ai-decode`: its JSON report, bits and Y-PSNR."""
    job = json.loads(run(*nic, "ai-encode", ref, path, *args, *common).stdout)
    decoded = os.path.join(work, "decoded.y4m")
    run(*nic, "ai-decode", path, decoded, *common)
    return job, job["video_bytes"] * 8, psnr_y(decoded, ref)


def at_rates(a, nic, common):
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for clip in a.clips.split(","):
            ref = reference(clip, a.frames, work)
            fps = fps_of(clip)
            for bpp in a.bpp.split(","):
                size = run("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                           "-of", "csv=p=0", ref).stdout.strip().split(",")
                pixels = int(size[0]) * int(size[1])
                kbps = max(20, round(float(bpp) * pixels * fps / 1000))
                rate = ["--bitrate", f"{kbps}k"]
                auto, bits, p = coded(nic, common, ref, os.path.join(work, "auto.mp4"), rate, work)
                choice = auto["scale_choice"]
                seconds = bits / auto["frames"] * fps / 1000
                row = {"clip": clip, "bpp": float(bpp), "target_kbps": kbps, "frames": auto["frames"],
                       "auto": choice["scale"], "setting_id": choice["setting_id"], "kbps": seconds, "psnr_y": p,
                       "reason": choice["reason"], "trials": choice["trials"], "trial_seconds": choice["trial_seconds"],
                       "job_seconds": auto["seconds"]}
                text = f"x{choice['scale']:g} {seconds:.0f} kbit/s {p:.2f} dB"
                if a.fixed:
                    row["routes"] = {}
                    for scale in ("1", "1.5", "2"):
                        _, fbits, fp = coded(nic, common, ref, os.path.join(work, f"x{scale}.mp4"),
                                             rate + ["--scale", scale], work)
                        row["routes"][scale] = {"kbps": fbits / auto["frames"] * fps / 1000, "psnr_y": fp}
                    text += "; fixed " + ", ".join(f"x{s} {r['kbps']:.0f} kbit/s {r['psnr_y']:.2f} dB"
                                                   for s, r in row["routes"].items())
                rows.append(row)
                print(f"{clip} {kbps} kbit/s: auto {text}; trials {choice['trial_seconds']:.1f} s of "
                      f"{auto['seconds']:.1f} s", flush=True)
    if a.fixed or a.fixed_from:
        judge(rows, a.fixed_from)
    return rows


def judge(rows, fixed_from=None):
    """Gains over full resolution at equal rate and auto's regret, per row (printed and stored)."""
    if fixed_from:
        earlier = {(r["clip"], r["target_kbps"]): r["routes"] for r in json.load(open(fixed_from))}
        for row in rows:
            row["routes"] = earlier[(row["clip"], row["target_kbps"])]
    for row in rows:
        curve = sorted((r["routes"]["1"]["kbps"], r["routes"]["1"]["psnr_y"]) for r in rows if r["clip"] == row["clip"])
        gains = {s: r["psnr_y"] - psnr_at(curve, r["kbps"]) for s, r in row["routes"].items()}
        row["gain_db"] = row["psnr_y"] - psnr_at(curve, row["kbps"])
        row["best"] = max(gains, key=gains.get)
        row["regret_db"] = gains[row["best"]] - row["gain_db"]
        print(f"{row['clip']} {row['target_kbps']} kbit/s: auto x{row['auto']:g} gain {row['gain_db']:+.2f} dB, "
              f"best x{row['best']} {gains[row['best']]:+.2f} dB, regret {row['regret_db']:.2f} dB")
    regrets = [r["regret_db"] for r in rows]
    print(f"worst gain {min(r['gain_db'] for r in rows):+.2f} dB, mean regret {sum(regrets) / len(regrets):.3f} dB, "
          f"largest {max(regrets):.2f} dB; trials {sum(r['trial_seconds'] for r in rows):.1f} s in all")


def psnr_at(curve, kbps):
    """Y-PSNR of the (kbit/s, dB) points of `curve` at `kbps`: linear over log rate between the two
    points around it, else extrapolated from the two nearest (one point: its PSNR)."""
    if len(curve) == 1:
        return curve[0][1]
    xs, x = [math.log(k) for k, _ in curve], math.log(kbps)
    i = min(max(1, next((j for j, v in enumerate(xs) if v >= x), len(xs) - 1)), len(xs) - 1)
    (_, p0), (_, p1) = curve[i - 1], curve[i]
    return p0 + (p1 - p0) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nic", default=".build/release/nic")
    ap.add_argument("--models", default="models")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--clips", default="mdn_flower.mp4,intel_car-detection.mp4,intel_bottle-detection.mp4,gen:testsrc2,gen:gradient")
    ap.add_argument("--crfs", default="23,30,37")
    ap.add_argument("--bpp", default=None, help="target bits per pixel per frame: bit-rate jobs instead of CRF")
    ap.add_argument("--fixed", action="store_true", help="with --bpp: also the three fixed routes")
    ap.add_argument("--fixed-from", default=None, help="with --bpp: the fixed routes of an earlier run's --out JSON")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    nic = [a.nic]
    common = ["--models", a.models, "--threads", str(a.threads), "--quiet", "--json"]
    rows = at_rates(a, nic, common) if a.bpp else []
    with tempfile.TemporaryDirectory() as work:
        for clip in a.clips.split(",") if not a.bpp else []:
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
