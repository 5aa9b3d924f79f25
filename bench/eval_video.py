#!/usr/bin/env python3
"""Rate-distortion and throughput of the video AI codec.

For each clip (the first N frames of ../shared/data/video sources, decoded to yuv420p), three
routes at a ladder of target bit rates, all H.264 (libx264, ABR, same preset), measured frame by
frame against the decoded source frames:

  full     x264 at full resolution;
  ai       `nic ai-encode --scale S --bitrate R` (S: auto by default, `--ai-scale`; AI data in SEI
           per frame, an MP4 so one scale per stream) -> `nic ai-decode` to Y4M;
  bicubic  FFmpeg bicubic to the scale the ai route coded at that rate -> x264 -> FFmpeg bicubic
           back to full size (the full route itself where ai kept full resolution).

Rates are the bits of the video stream (sum of packet sizes, AI data SEI included) divided by
frames; PSNR and SSIM come from FFmpeg's psnr and ssim filters (luma and all planes), per frame,
averaged over the frames of a point. BD-rate (luma PSNR) of ai vs bicubic and ai vs full per clip,
with piecewise cubic Hermite interpolation (PCHIP, as the JCT-VC/JVET common test conditions) and with
Bjontegaard's single cubic fit (bench/rdcurves.py says why they differ), and the worst luma PSNR
gap of ai to full at equal rate anywhere on the ladder (`rdcurves.worst_psnr_gap`).

Throughput (frames/s, wall clock, this machine, same run): decoding the source; nic's AI
downscale and AI upscale stages (from its --json reports); x264 at full size and at the ai route's size; and
`nic ai-decode` of the AI-encoded stream to 2x size with x264 veryfast, next to plain FFmpeg
decode + Lanczos x2 + x264 veryfast of the same stream.

  python3 bench/eval_video.py [--frames 60] [--clips NAME,...] [--ai-scale auto|2|1.5] [--models DIR] [--threads 2]

writes OUT/video-aicodec.{json,md}. Progress goes to stderr.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

from rdcurves import INTERPOLATIONS, bd_rate, worst_psnr_gap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VIDEO = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "video"))
DEFAULT_NIC = os.path.join(REPO, ".build", "release", "nic")
DEFAULT_OUT = os.path.join(REPO, "docs", "results")
DEFAULT_CLIPS = ["kinoview_Jellyfish_1080_10s.mp4", "imageio_cockatoo_yuv420.mp4"]
# Target bits per pixel per frame of the full-resolution video: a ladder that spans the rates where
# each scale wins (1080p30: 0.3 to 8 Mbit/s), geometric.
DEFAULT_BPP = [0.005, 0.0087, 0.015, 0.026, 0.045, 0.077, 0.13]
TARGET_BD_AI_VS_FULL = -8.0
TARGET_WORST_GAP_DB = -0.1
TARGET_BD_AI_VS_BICUBIC = -12.0


class EvalError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def portable(path):
    return os.path.relpath(os.path.abspath(path), REPO)


class Runner:
    def __init__(self, nic, models, threads, preset):
        self.nic, self.threads, self.preset = nic, threads, preset
        self.env = dict(os.environ)
        if models:
            self.env["NIC_MODEL_DIR"] = os.path.abspath(models)

    def run(self, cmd):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, stdin=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise EvalError(f"exit {p.returncode}: {shlex.join(cmd)}\n{(p.stderr or p.stdout)[-2000:]}")
        return p, dt

    def ffmpeg(self, *args):
        return self.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)])

    def nic_json(self, *args):
        p, dt = self.run([self.nic, *map(str, args), "--threads", str(self.threads), "--json"])
        return json.loads(p.stdout.strip().splitlines()[-1]), dt

    def x264(self, src, dst, kbps, vf=None, preset=None):
        args = ["-i", src] + (["-vf", vf] if vf else []) + [
            "-c:v", "libx264", "-preset", preset or self.preset, "-b:v", f"{kbps}k", "-threads", self.threads,
            "-an", dst]
        return self.ffmpeg(*args)[1]


def video_bits(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size",
                          "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout
    return 8 * sum(int(x) for x in out.split())


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,avg_frame_rate", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    s = json.loads(out)["streams"][0]
    num, den = s["avg_frame_rate"].split("/")
    return s["width"], s["height"], float(num) / float(den)


def quality(runner, distorted, reference, work, upscale=None):
    """Per-frame luma PSNR, all-plane PSNR and SSIM (Y, all) of distorted vs reference."""
    psnr_log, ssim_log = os.path.join(work, "psnr.log"), os.path.join(work, "ssim.log")
    first = f"[0:v]{upscale}[d];[d]" if upscale else "[0:v]"
    graph = (f"{first}split[a][b];[1:v]split[r1][r2];"
             f"[a][r1]psnr=stats_file={psnr_log};[b][r2]ssim=stats_file={ssim_log}")
    runner.ffmpeg("-i", distorted, "-i", reference, "-lavfi", graph, "-f", "null", "-")
    frames = []
    with open(psnr_log) as f:
        for line in f:
            kv = dict(x.split(":", 1) for x in line.split() if ":" in x)
            frames.append({"psnr_y": min(100.0, float(kv["psnr_y"])), "psnr": min(100.0, float(kv["psnr_avg"]))})
    with open(ssim_log) as f:
        for i, line in enumerate(f):
            kv = dict(x.split(":", 1) for x in line.split() if ":" in x)
            frames[i]["ssim_y"] = float(kv["Y"])
            frames[i]["ssim"] = float(kv["All"])
    return frames


def mean(frames, key):
    return sum(f[key] for f in frames) / len(frames)


def eval_clip(runner, clip, frames, bpp_ladder, work, ai_scale):
    name = os.path.splitext(os.path.basename(clip))[0]
    ref = os.path.join(work, name + "_ref.y4m")
    _, decode_s = runner.ffmpeg("-i", clip, "-frames:v", frames, "-an", "-sn", "-pix_fmt", "yuv420p", ref)
    width, height, fps = probe(clip)
    up = f"scale={width}:{height}:flags=bicubic"
    points = {"full": [], "bicubic": [], "ai": []}
    speed = {"source_decode_fps": frames / decode_s}
    for bpp in bpp_ladder:
        kbps = max(20, round(bpp * width * height * fps / 1000))
        log(f"  {name}: {kbps} kbit/s")
        scale = None
        for route in ("full", "ai", "bicubic"):
            out = os.path.join(work, f"{name}_{route}_{kbps}.mp4")
            if route == "full":
                dt = runner.x264(ref, out, kbps)
                q = quality(runner, out, ref, work)
                speed.setdefault("x264_full_fps", []).append(frames / dt)
            elif route == "bicubic" and scale == 1:
                points["bicubic"].append(dict(points["full"][-1], frames=None, scale=1))
                continue
            elif route == "bicubic":
                small = f"scale={2 * round(width / scale / 2)}:{2 * round(height / scale / 2)}:flags=bicubic"
                dt = runner.x264(ref, out, kbps, vf=small)
                q = quality(runner, out, ref, work, upscale=up)
                speed.setdefault("x264_small_fps", []).append(frames / dt)
            else:
                enc, _ = runner.nic_json("ai-encode", ref, out, "--scale", ai_scale, "--bitrate", f"{kbps}k",
                                         "--preset", runner.preset)
                scale = round(width / enc["width"] * 2) / 2   # 1, 1.5 or 2
                dec_path = os.path.join(work, f"{name}_ai_{kbps}.y4m")
                dec, _ = runner.nic_json("ai-decode", out, dec_path)
                # The encoder may change the setting per scene; the decoder must follow every frame's.
                if dec["routes"] != enc["routes"] or sum(dec["routes"].values()) != frames:
                    raise EvalError(f"{name}: AI decode did not use the AI data of every frame: {dec['routes']}")
                q = quality(runner, dec_path, ref, work)
                os.remove(dec_path)
                if scale > 1:  # a point kept at full resolution runs no network
                    speed.setdefault("ai_downscale_fps", []).append(enc["scaling_fps"])
                    speed.setdefault("ai_upscale_fps", []).append(dec["scaling_fps"])
            bits = video_bits(out)
            points[route].append({
                "target_kbps": kbps, "kbps": bits / (frames / fps) / 1000, "bpp": bits / frames / (width * height),
                "psnr_y": mean(q, "psnr_y"), "psnr": mean(q, "psnr"), "ssim_y": mean(q, "ssim_y"),
                "ssim": mean(q, "ssim"), "frames": q if route != "full" else None,
                **({"settings": enc["routes"], "scale": scale} if route == "ai" else {}),
                **({"scale": scale} if route == "bicubic" else {})})
    speed.update(playback_speed(runner, name, points, work, width, height, frames))
    for k, v in list(speed.items()):
        if isinstance(v, list):
            speed[k] = sum(v) / len(v)
    summary = {"worst_gap_ai_vs_full_psnr_y_db": worst_psnr_gap(
        [p["bpp"] for p in points["full"]], [p["psnr_y"] for p in points["full"]],
        [p["bpp"] for p in points["ai"]], [p["psnr_y"] for p in points["ai"]])}
    for ref_route in ("bicubic", "full"):
        a, b = points["ai"], points[ref_route]
        for interpolation in INTERPOLATIONS:
            summary[f"bd_rate_ai_vs_{ref_route}_psnr_y_{interpolation}"] = bd_rate(
                [p["bpp"] for p in b], [p["psnr_y"] for p in b], [p["bpp"] for p in a], [p["psnr_y"] for p in a],
                interpolation)
    return {"clip": portable(clip), "width": width, "height": height, "fps": fps, "frames": frames,
            "points": points, "speed": speed, "summary": summary}


def playback_speed(runner, name, points, work, width, height, frames):
    """nic ai-decode (AI upscale + x264 veryfast) vs FFmpeg decode + Lanczos + x264 veryfast, same stream:
    the ai route's stream of the highest rate that auto downscaled (none: nothing to measure)."""
    scaled = [p for p in points["ai"] if p["scale"] > 1]
    if not scaled:
        return {}
    stream = os.path.join(work, f"{name}_ai_{scaled[-1]['target_kbps']}.mp4")
    nic_out, ff_out = os.path.join(work, "play_nic.mp4"), os.path.join(work, "play_ff.mp4")
    report, nic_s = runner.nic_json("ai-decode", stream, nic_out, "--preset", "veryfast", "--crf", 23)
    _, ff_s = runner.ffmpeg("-threads", runner.threads, "-i", stream, "-vf", f"scale={width}:{height}:flags=lanczos",
                            "-c:v", "libx264", "-preset", "veryfast", "-crf", 23, "-threads", runner.threads, ff_out)
    return {"ai_decode_transcode_fps": frames / nic_s, "ai_decode_upscale_stage_fps": report["scaling_fps"],
            "ffmpeg_lanczos_transcode_fps": frames / ff_s}


def fmt(x, spec="{:.2f}"):
    return "–" if x is None else spec.format(x)


def bd_cell(summary, ref_route):
    pchip, cubic = (summary[f"bd_rate_ai_vs_{ref_route}_psnr_y_{i}"] for i in ("pchip", "cubic"))
    return f"{fmt(pchip, '{:+.1f}%')} ({fmt(cubic, '{:+.1f}%')})"


def write_markdown(path, meta, results):
    lines = ["# Video AI codec: rate-distortion and throughput", "",
             f"Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}); "
             f"nic threads {meta['threads']}, x264 preset {meta['preset']}, first {meta['frames']} frames of each clip.",
             "", "Routes at equal target bit rate (x264 ABR): **full** (x264 at full size), **ai** (`nic ai-encode "
             f"--scale {meta['ai_scale']}` → `nic ai-decode`), **bicubic** (FFmpeg bicubic down to the scale the ai "
             "route coded at that rate → x264 → bicubic up; the full route where ai kept full resolution). Rate = video "
             "stream bits (AI data SEI included); PSNR/SSIM from FFmpeg's filters, per frame vs the decoded source "
             "frames, averaged.",
             "", f"Targets (luma PSNR): ai vs full at most {-TARGET_WORST_GAP_DB:.1f} dB below at any rate and BD-rate "
             f"≤ {TARGET_BD_AI_VS_FULL:.0f}% on average; ai vs bicubic ≤ {TARGET_BD_AI_VS_BICUBIC:.0f}%. The worst "
             "gap compares at every point of either curve inside the rates both cover, the other curve interpolated "
             "(PCHIP over log rate).", "",
             "BD-rate interpolates log rate against PSNR: **PCHIP** (piecewise cubic Hermite, as the JCT-VC/JVET "
             "common test conditions) and, in brackets, Bjøntegaard's single **cubic** fit through all points, "
             "which can bend back where a route's quality saturates (bench/rdcurves.py).", ""]
    lines += ["| clip | BD-rate ai vs bicubic, PCHIP (cubic) | BD-rate ai vs full, PCHIP (cubic) | worst gap ai vs full |",
              "|---|---|---|---|"]
    for r in results:
        gap = r["summary"]["worst_gap_ai_vs_full_psnr_y_db"]
        lines.append(f"| {os.path.basename(r['clip'])} ({r['width']}x{r['height']}) | "
                     f"{bd_cell(r['summary'], 'bicubic')} | {bd_cell(r['summary'], 'full')} | {fmt(gap, '{:+.2f} dB')} |")

    def average(key):
        values = [r["summary"][key] for r in results]
        return None if any(v is None for v in values) else sum(values) / len(values)
    gaps = [r["summary"]["worst_gap_ai_vs_full_psnr_y_db"] for r in results]
    worst = None if None in gaps else min(gaps)
    lines.append(f"| mean (worst gap: lowest) | {fmt(average('bd_rate_ai_vs_bicubic_psnr_y_pchip'), '{:+.1f}%')} | "
                 f"{fmt(average('bd_rate_ai_vs_full_psnr_y_pchip'), '{:+.1f}%')} | {fmt(worst, '{:+.2f} dB')} |")
    for r in results:
        lines += ["", f"## {os.path.basename(r['clip'])} ({r['width']}x{r['height']}, {r['fps']:.2f} fps)", "",
                  "| target kbit/s | route | scale | kbit/s | PSNR-Y dB | PSNR dB | SSIM-Y | settings (per scene) |",
                  "|---|---|---|---|---|---|---|---|"]
        for i in range(len(r["points"]["ai"])):
            for route in ("full", "bicubic", "ai"):
                p = r["points"][route][i]
                lines.append(f"| {p['target_kbps']} | {route} | {p.get('scale', 1):g} | {p['kbps']:.0f} | "
                             f"{p['psnr_y']:.2f} | {p['psnr']:.2f} | {p['ssim_y']:.4f} | "
                             f"{', '.join(k.split()[-1] for k in p.get('settings', {}))} |")
        sp = r["speed"]
        lines += ["", "Throughput (frames/s): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(sp.items()))]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video-dir", default=DEFAULT_VIDEO)
    ap.add_argument("--clips", default=",".join(DEFAULT_CLIPS))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--bpp", default=",".join(map(str, DEFAULT_BPP)), help="target bits per pixel per frame")
    ap.add_argument("--nic", default=DEFAULT_NIC)
    ap.add_argument("--models", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--ai-scale", default="auto", choices=["auto", "1", "1.5", "2"], help="the ai route's --scale")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--name", default="video-aicodec")
    a = ap.parse_args()
    if not os.path.isdir(a.video_dir):
        sys.exit(f"eval_video: {a.video_dir} not found (the shared data sits beside the repository)")
    meta = {"command": "python3 bench/eval_video.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "threads": a.threads, "preset": a.preset,
            "frames": a.frames, "ai_scale": a.ai_scale}
    runner = Runner(a.nic, a.models, a.threads, a.preset)
    results = []
    with tempfile.TemporaryDirectory(prefix="nic-video-eval-") as work:
        for clip in a.clips.split(","):
            log(f"{clip}:")
            results.append(eval_clip(runner, os.path.join(a.video_dir, clip), a.frames,
                                     [float(x) for x in a.bpp.split(",")], work, a.ai_scale))
            log(f"  {json.dumps(results[-1]['summary'])}")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, a.name + ".json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    write_markdown(os.path.join(a.out, a.name + ".md"), meta, results)
    log(f"wrote {portable(os.path.join(a.out, a.name))}.{{json,md}}")


if __name__ == "__main__":
    main()
