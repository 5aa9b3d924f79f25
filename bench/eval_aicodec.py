#!/usr/bin/env python3
"""Rate-distortion evaluation of the still-image AI codec.

For every image and codec, three routes at a ladder of qualities, all through the `nic` CLI and
the ffmpeg CLI, measured against the original:

  full     the codec at full resolution;
  bicubic  `nic resize` (antialiased bicubic, a = -0.5) to the small size -> codec -> `nic resize`
           back up (bicubic);
  ai       JPEG, WebP: `nic ai-encode --codec jpeg|webp` -> `nic ai-decode`;
           x265: `nic downscale --codec x265` -> x265 intra -> `nic upscale --setting ID`;

plus a "no codec" point per scale (8-bit small image, no coding) for the ai and bicubic routes.

Codecs
  jpeg  nic's own JPEG writer for every route (FFmpeg's MJPEG encoder with libjpeg's quality-scaled
        standard tables, 4:2:0 full-range JFIF; the very writer `nic ai-encode` uses) and nic's
        decoder (FFmpeg) for every route. Bytes = the .jpg file; for the ai route that includes
        the AI data (EXIF, about 100 bytes).
  x265  HEVC intra, one frame: ffmpeg libx265, keyint=1, info=0 (no encoder-identification SEI),
        preset medium by default, CRF = the quality; RGB -> yuv420p BT.601 limited range and back
        with swscale (accurate rounding). Bytes = the raw Annex-B bitstream (.hevc, no container);
        for the ai route plus the AI data record (31 bytes for record v1.0, read from the PNG).
        A small image with an odd dimension is edge-padded to even for 4:2:0 and cropped after
        decoding (the padding's bits are counted).

Metrics: RGB PSNR (all three channels, 8-bit) and luma PSNR (BT.601 Y from RGB) against the
original; bpp = bits / original pixels. Per quality point the mean bpp and the mean PSNR (dB)
over images. BD-rate (Bjontegaard: cubic fit of log rate against PSNR, averaged over the
overlapping PSNR range; negative = fewer bits) of ai vs bicubic and ai vs full; the crossover
rate below which ai beats full (piecewise-linear in log bpp between the mean points, over the
overlapping rate range); the no-cliff check (ai >= bicubic at every quality and with no codec).

  python3 bench/eval_aicodec.py --models DIR [--limit N] [--jobs J]

writes OUT/aicodec-kodak.{json,md,png}. Progress goes to stderr, one line per image.
"""

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import numpy as np

from rdcurves import bd_psnr, bd_rate  # noqa: E402  (bench/ is on sys.path when run as a script)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from training.metrics import psnr_of_mse  # noqa: E402
DEFAULT_IMAGES = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "eval", "kodak"))
DEFAULT_NIC = os.path.join(REPO, ".build", "release", "nic")


def portable(path):
    """A path as reports store it: relative to the repository (../shared/... beside it), so that
    committed results name no machine-specific folder."""
    return os.path.relpath(os.path.abspath(path), REPO) if path else path
DEFAULT_OUT = os.path.join(REPO, "docs", "results")

DEFAULT_LADDERS = {
    "jpeg": [5, 10, 20, 30, 45, 60, 75, 90],     # JPEG quality
    "webp": [5, 10, 20, 30, 45, 60, 75, 90],     # WebP quality
    "x265": [17, 22, 27, 32, 37, 42, 47, 51],    # CRF
}
CODEC_TITLES = {
    "jpeg": "JPEG 4:2:0 (nic writer = FFmpeg MJPEG, libjpeg tables)",
    "webp": "WebP (nic writer = FFmpeg libwebp, lossy, 4:2:0)",
    "x265": "HEVC intra (x265, CRF)",
}
QUALITY_NAME = {"jpeg": "quality", "webp": "quality", "x265": "CRF"}
# Still-image codecs that nic writes itself (file extension); every route uses nic's writer and reader.
IMAGE_CODECS = {"jpeg": ".jpg", "webp": ".webp"}

# The targets (reported, not enforced).
TARGET_BD_AI_VS_BICUBIC = {"jpeg": -20.0, "x265": -10.0}     # percent, at most
TARGET_CROSSOVER_BPP = {"jpeg": 0.40, "x265": 0.08}          # ai beats full at every rate below

SWS_TO_YUV = "scale=out_color_matrix=bt601:out_range=tv:flags=bicubic+accurate_rnd+full_chroma_inp,format=yuv420p"
SWS_TO_RGB = "scale=in_color_matrix=bt601:in_range=tv:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24"
X265_PARAMS = "keyint=1:info=0:log-level=error"
AIDATA_PNG_KEY = "nic-aidata"
AIDATA_TEXT_PREFIX = "nicai1:"


class EvalError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Running tools
# ---------------------------------------------------------------------------------------------


class Timer:
    """Total wall seconds and call counts per stage (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def add(self, stage, dt):
        with self.lock:
            self.seconds[stage] += dt
            self.calls[stage] += 1

    def as_dict(self):
        return {k: {"seconds": round(self.seconds[k], 3), "calls": self.calls[k]} for k in sorted(self.seconds)}


class Tools:
    def __init__(self, nic, ffmpeg, env, threads, preset, timer):
        self.nic, self.ffmpeg, self.env = nic, ffmpeg, env
        self.threads, self.preset, self.timer = threads, preset, timer

    def run(self, cmd, stage):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, stdin=subprocess.DEVNULL)
        self.timer.add(stage, time.perf_counter() - t0)
        if p.returncode != 0:
            err = (p.stderr or p.stdout or "").strip()
            raise EvalError(f"{stage}: exit {p.returncode}: {shlex.join(cmd)}\n{err[-3000:]}")
        return p.stdout

    def nic_cmd(self, *args, threads=True):
        cmd = [self.nic, *map(str, args)]
        if threads:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def nic_json(self, stage, *args, threads=True):
        out = self.run(self.nic_cmd(*args, "--json", threads=threads), stage)
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise EvalError(f"{stage}: nic printed no JSON object: {out[-500:]!r}") from None

    def resize(self, stage, src, dst, size, quality=None):
        args = ["resize", src, dst, "--size", f"{size[0]}x{size[1]}", "--method", "bicubic"]
        if quality is not None:
            args += ["--quality", quality]
        self.run(self.nic_cmd(*args), stage)

    def x265(self, stage, src_png, work, stem, crf):
        """src PNG -> HEVC intra bitstream -> RGB PNG of the same size. Returns (bitstream bytes, png)."""
        img = load_rgb(src_png)
        h, w = img.shape[:2]
        src = src_png
        if h % 2 or w % 2:
            src = os.path.join(work, stem + "_pad.png")
            save_rgb(np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"), src)
        hevc = os.path.join(work, stem + ".hevc")
        dec = os.path.join(work, stem + "_dec.png")
        base = [self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        self.run(base + ["-i", src, "-frames:v", "1", "-vf", SWS_TO_YUV, "-c:v", "libx265",
                         "-preset", self.preset, "-crf", str(crf), "-x265-params", X265_PARAMS,
                         "-f", "hevc", hevc], stage + "/x265-encode")
        self.run(base + ["-i", hevc, "-frames:v", "1", "-vf", SWS_TO_RGB, dec], stage + "/x265-decode")
        if h % 2 or w % 2:
            save_rgb(load_rgb(dec)[:h, :w], dec)
        return os.path.getsize(hevc), dec


# ---------------------------------------------------------------------------------------------
# Images and metrics
# ---------------------------------------------------------------------------------------------


def load_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def save_rgb(a, path):
    from PIL import Image
    Image.fromarray(a, "RGB").save(path, compress_level=1)


def aidata_bytes_png(path):
    """Length of the AI data record carried in a PNG's tEXt chunk."""
    from PIL import Image
    with Image.open(path) as im:
        text = im.info.get(AIDATA_PNG_KEY)
    if not text or not text.strip().startswith(AIDATA_TEXT_PREFIX):
        raise EvalError(f"{path}: no AI data ({AIDATA_PNG_KEY} tEXt) in the downscaled PNG")
    return len(bytes.fromhex(text.strip()[len(AIDATA_TEXT_PREFIX):]))


def psnr(mse):
    """PSNR of a mean squared error of 8-bit samples."""
    return psnr_of_mse(mse, 255)


def luma(a):
    f = a.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def measure(orig, path, timer):
    t0 = time.perf_counter()
    rec = load_rgb(path)
    if rec.shape != orig.shape:
        raise EvalError(f"{path}: decoded {rec.shape[1]}x{rec.shape[0]}, original {orig.shape[1]}x{orig.shape[0]}")
    d = orig.astype(np.float64) - rec.astype(np.float64)
    dy = luma(orig) - luma(rec)
    r = {"psnr_rgb": psnr(float(np.mean(d * d))), "psnr_y": psnr(float(np.mean(dy * dy)))}
    timer.add("metrics", time.perf_counter() - t0)
    return r


# ---------------------------------------------------------------------------------------------
# One image
# ---------------------------------------------------------------------------------------------


def check_ai_route(stage, info):
    if info.get("fallback_reason") is not None:
        raise EvalError(f"{stage}: nic fell back instead of using the AI data: {info.get('fallback_reason')} "
                        f"(route {info.get('route')!r}); the AI route would be meaningless")


def eval_image(path, cfg, tools):
    name = os.path.basename(path)
    orig = load_rgb(path)
    H, W = orig.shape[:2]
    npx = W * H
    rows = []
    timer = tools.timer

    def add(codec, route, scale, quality, nbytes, out_png, **extra):
        m = measure(orig, out_png, timer)
        rows.append({"image": name, "codec": codec, "route": route, "scale": scale, "quality": quality,
                     "bytes": nbytes, "bpp": nbytes * 8.0 / npx, **m, **extra})

    with tempfile.TemporaryDirectory(prefix="nic_eval_", dir=cfg.tmp) as work:
        def f(n):
            return os.path.join(work, n)

        small = {}
        # No codec: 8-bit small image (its size also fixes the bicubic route's small size).
        for s in cfg.scales:
            ds = f(f"nc_ai_{s}.png")
            info = tools.nic_json("none/ai/downscale", "downscale", path, ds, "--scale", s)
            sw, sh = int(info["downscaled_width"]), int(info["downscaled_height"])
            small[s] = (sw, sh)
            up = tools.nic_json("none/ai/upscale", "upscale", ds, f(f"nc_ai_{s}_up.png"))
            check_ai_route("none/ai/upscale", up)
            raw = sw * sh * 3
            add("none", "ai", s, None, raw, f(f"nc_ai_{s}_up.png"), setting_id=int(info["setting_id"]),
                small_size=[sw, sh], png_bytes=os.path.getsize(ds))
            tools.resize("none/bicubic/down", path, f(f"nc_bic_{s}.png"), (sw, sh))
            tools.resize("none/bicubic/up", f(f"nc_bic_{s}.png"), f(f"nc_bic_{s}_up.png"), (W, H))
            add("none", "bicubic", s, None, raw, f(f"nc_bic_{s}_up.png"), small_size=[sw, sh],
                png_bytes=os.path.getsize(f(f"nc_bic_{s}.png")))

        for codec in cfg.codecs:
            for q in cfg.ladders[codec]:
                tag = f"{codec}{q}"
                # full resolution
                ext = IMAGE_CODECS.get(codec)
                if ext:
                    tools.resize(f"{codec}/full/encode", path, f(tag + "_full" + ext), (W, H), quality=q)
                    tools.resize(f"{codec}/full/decode", f(tag + "_full" + ext), f(tag + "_full.png"), (W, H))
                    add(codec, "full", None, q, os.path.getsize(f(tag + "_full" + ext)), f(tag + "_full.png"))
                else:
                    n, dec = tools.x265("x265/full", path, work, tag + "_full", q)
                    add(codec, "full", None, q, n, dec)

                for s in cfg.scales:
                    sw, sh = small[s]
                    st = f"{tag}_{s}"
                    # bicubic route
                    if ext:
                        tools.resize(f"{codec}/bicubic/down+encode", path, f(st + "_bic" + ext), (sw, sh), quality=q)
                        tools.resize(f"{codec}/bicubic/decode+up", f(st + "_bic" + ext), f(st + "_bic_up.png"), (W, H))
                        n = os.path.getsize(f(st + "_bic" + ext))
                    else:
                        tools.resize("x265/bicubic/down", path, f(st + "_bic.png"), (sw, sh))
                        n, dec = tools.x265("x265/bicubic", f(st + "_bic.png"), work, st + "_bic", q)
                        tools.resize("x265/bicubic/up", dec, f(st + "_bic_up.png"), (W, H))
                    add(codec, "bicubic", s, q, n, f(st + "_bic_up.png"), small_size=[sw, sh])

                    # AI route
                    if ext:
                        refine = ["--refine", cfg.refine] if codec == "jpeg" else []
                        enc = tools.nic_json(f"{codec}/ai/ai-encode", "ai-encode", path, f(st + "_ai" + ext),
                                             "--codec", codec, "--quality", q, "--scale", s, *refine)
                        dec = tools.nic_json(f"{codec}/ai/ai-decode", "ai-decode", f(st + "_ai" + ext), f(st + "_ai_up.png"))
                        check_ai_route(f"{codec}/ai/ai-decode", dec)
                        n = os.path.getsize(f(st + "_ai" + ext))
                        sid, aid = int(enc["setting_id"]), None
                        ssize = [int(enc["downscaled_width"]), int(enc["downscaled_height"])]
                    else:
                        tools.nic_json("x265/ai/downscale", "downscale", path, f(st + "_ai.png"),
                                       "--codec", "x265", "--quality", q, "--scale", s)
                        info = tools.nic_json("x265/ai/info", "info", f(st + "_ai.png"), threads=False)
                        sid = int(info["setting_id"])
                        ssize = [int(info["downscaled_width"]), int(info["downscaled_height"])]
                        aid = aidata_bytes_png(f(st + "_ai.png"))
                        nb, dec_png = tools.x265("x265/ai", f(st + "_ai.png"), work, st + "_ai", q)
                        up = tools.nic_json("x265/ai/upscale", "upscale", dec_png, f(st + "_ai_up.png"),
                                            "--setting", sid, "--size", f"{W}x{H}")
                        check_ai_route("x265/ai/upscale", up)
                        n = nb + aid
                    add(codec, "ai", s, q, n, f(st + "_ai_up.png"), setting_id=sid, small_size=ssize,
                        aidata_bytes=aid)
    return {"name": name, "width": W, "height": H}, rows


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def mean_points(rows):
    """rows of one (codec, route, scale) -> mean points per quality, in ladder order."""
    by_q = defaultdict(list)
    for r in rows:
        by_q[r["quality"]].append(r)
    pts = []
    for q, rs in by_q.items():
        pts.append({"quality": q, "n": len(rs),
                    "bpp": float(np.mean([r["bpp"] for r in rs])),
                    "psnr_rgb": float(np.mean([r["psnr_rgb"] for r in rs])),
                    "psnr_y": float(np.mean([r["psnr_y"] for r in rs])),
                    "setting_ids": sorted({r["setting_id"] for r in rs if r.get("setting_id") is not None})})
    return pts


def curve(pts, key="psnr_rgb"):
    s = sorted(pts, key=lambda p: p["bpp"])
    return np.array([p["bpp"] for p in s]), np.array([p[key] for p in s])


def interp_psnr(pts, bpp, key="psnr_rgb"):
    """PSNR of a mean curve at `bpp`, linear in log bpp; None outside the curve's rate range."""
    b, p = curve(pts, key)
    if bpp < b[0] or bpp > b[-1]:
        return None
    return float(np.interp(math.log(bpp), np.log(b), p))


def crossover(test_pts, ref_pts, key="psnr_rgb"):
    """Rate below which test beats ref, over the overlapping rate range of the two mean curves."""
    bt, pt = curve(test_pts, key)
    br, pr = curve(ref_pts, key)
    lo, hi = max(bt[0], br[0]), min(bt[-1], br[-1])
    res = {"overlap_bpp": [float(lo), float(hi)] if hi > lo else None}
    if hi <= lo:
        return {**res, "bpp": None, "status": "no overlapping rates"}
    g = np.log(np.geomspace(lo, hi, 4001))
    d = np.interp(g, np.log(bt), pt) - np.interp(g, np.log(br), pr)
    if d[0] <= 0:
        return {**res, "bpp": None, "status": "none (reference better at the lowest common rate)"}
    k = np.nonzero(d <= 0)[0]
    if len(k) == 0:
        return {**res, "bpp": float(hi), "status": "above the overlap (better at every common rate)"}
    i = int(k[0])
    t = d[i - 1] / (d[i - 1] - d[i])
    return {**res, "bpp": float(math.exp(g[i - 1] + t * (g[i] - g[i - 1]))), "status": "crossover"}


def summarise(rows, cfg):
    sel = defaultdict(list)
    for r in rows:
        sel[(r["codec"], r["route"], r["scale"])].append(r)
    out = {"none": {}, "codecs": {}}
    for s in cfg.scales:
        ai = mean_points(sel[("none", "ai", s)])[0]
        bic = mean_points(sel[("none", "bicubic", s)])[0]
        per_img = {r["image"]: r["psnr_rgb"] for r in sel[("none", "bicubic", s)]}
        worst = min(r["psnr_rgb"] - per_img[r["image"]] for r in sel[("none", "ai", s)])
        out["none"][s] = {"ai": ai, "bicubic": bic, "delta_rgb": ai["psnr_rgb"] - bic["psnr_rgb"],
                          "delta_y": ai["psnr_y"] - bic["psnr_y"], "worst_image_delta_rgb": worst,
                          "ai_ge_bicubic": ai["psnr_rgb"] >= bic["psnr_rgb"]}
    for codec in cfg.codecs:
        full = mean_points(sel[(codec, "full", None)])
        c = {"full": full, "scales": {}}
        for s in cfg.scales:
            bic = mean_points(sel[(codec, "bicubic", s)])
            ai = mean_points(sel[(codec, "ai", s)])
            bic_by_q = {p["quality"]: p for p in bic}
            # per image, per quality: ai - bicubic at the same quality parameter
            bic_img = {(r["image"], r["quality"]): r["psnr_rgb"] for r in sel[(codec, "bicubic", s)]}
            worst = defaultdict(lambda: float("inf"))
            for r in sel[(codec, "ai", s)]:
                worst[r["quality"]] = min(worst[r["quality"]], r["psnr_rgb"] - bic_img[(r["image"], r["quality"])])
            cliff = []
            for p in ai:
                b = bic_by_q[p["quality"]]
                eq = interp_psnr(bic, p["bpp"])
                cliff.append({"quality": p["quality"],
                              "delta_rgb_same_quality": p["psnr_rgb"] - b["psnr_rgb"],
                              "delta_y_same_quality": p["psnr_y"] - b["psnr_y"],
                              "worst_image_delta_rgb_same_quality": worst[p["quality"]],
                              "delta_rgb_equal_rate": None if eq is None else p["psnr_rgb"] - eq,
                              "ai_ge_bicubic": p["psnr_rgb"] >= b["psnr_rgb"]})
            none = out["none"].get(s)
            bd = {}
            for key, suffix in (("psnr_rgb", "rgb"), ("psnr_y", "y")):
                for name, test, ref in (("ai_vs_bicubic", ai, bic), ("ai_vs_full", ai, full),
                                        ("bicubic_vs_full", bic, full)):
                    rb, rp = curve(ref, key)
                    tb, tp = curve(test, key)
                    bd[f"{name}_{suffix}"] = {"bd_rate_percent": bd_rate(rb, rp, tb, tp, "cubic"),
                                              "bd_psnr_db": bd_psnr(rb, rp, tb, tp, "cubic")}
            c["scales"][s] = {
                "bicubic": bic, "ai": ai, "bd": bd,
                "crossover_ai_vs_full": crossover(ai, full),
                "crossover_bicubic_vs_full": crossover(bic, full),
                "no_cliff": {"points": cliff,
                             "all_qualities": all(x["ai_ge_bicubic"] for x in cliff),
                             "no_codec": None if none is None else none["ai_ge_bicubic"]},
            }
        out["codecs"][codec] = c
    return out


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------


def fmt(x, spec="{:.3f}", none="–"):
    return none if x is None else spec.format(x)


def fmt_pct(x):
    return "–" if x is None else f"{x:+.1f}%"


def fmt_db(x):
    return "–" if x is None else f"{x:+.2f} dB"


def scale_label(s):
    return f"x{s}"


def targets(summary, cfg):
    rows = []
    for codec in cfg.codecs:
        for s in cfg.scales:
            sc = summary["codecs"][codec]["scales"][s]
            bd = sc["bd"]["ai_vs_bicubic_rgb"]["bd_rate_percent"]
            t = TARGET_BD_AI_VS_BICUBIC.get(codec)
            if t is None:
                continue    # no issue-3 target for this codec (WebP): measured, not judged
            rows.append((f"{codec} {scale_label(s)}", f"BD-rate ai vs bicubic (RGB) ≤ {t:+.0f}%", fmt_pct(bd),
                         "–" if bd is None else ("pass" if bd <= t else "FAIL")))
            x = sc["crossover_ai_vs_full"]
            tb = TARGET_CROSSOVER_BPP.get(codec)
            if x["bpp"] is None:
                got, verdict = x["status"], "FAIL" if x["overlap_bpp"] else "–"
            else:
                capped = x["status"] != "crossover"
                got = ("≥ " if capped else "") + f"{x['bpp']:.3f} bpp"
                verdict = "pass" if x["bpp"] >= tb else ("not shown (overlap too short)" if capped else "FAIL")
            if x["overlap_bpp"] and x["overlap_bpp"][0] > 0:
                got += f" (overlap {x['overlap_bpp'][0]:.3f}–{x['overlap_bpp'][1]:.3f})"
            rows.append((f"{codec} {scale_label(s)}", f"ai beats full below {tb:.2f} bpp", got, verdict))
            nc = sc["no_cliff"]
            ok = nc["all_qualities"] and nc["no_codec"] is not False
            worst = min(p["delta_rgb_same_quality"] for p in nc["points"])
            if s in summary["none"]:
                worst = min(worst, summary["none"][s]["delta_rgb"])
            rows.append((f"{codec} {scale_label(s)}", "no cliff: ai ≥ bicubic at every quality and no codec",
                         f"min mean Δ {worst:+.2f} dB", "pass" if ok else "FAIL"))
    return rows


def write_markdown(path, meta, summary, cfg, timer_d, settings_used, settings):
    L = []
    a = L.append
    a("# AI codec (still images): rate-distortion on " + meta["images_name"])
    a("")
    if meta["partial"]:
        a("> **Partial run** (" + meta["partial"] + "): not the full evaluation; numbers are not comparable "
          "with the targets.")
        a("")
    a(f"- Command: `{meta['command']}` (from `{meta['cwd']}`)")
    a(f"- Date: {meta['date']}")
    a(f"- Machine: {meta['machine']['cpu']} ({meta['machine']['cores']} logical cores), {meta['machine']['os']}; "
      f"--jobs {cfg.jobs}, nic --threads {cfg.threads}")
    a(f"- nic {meta['nic_version'].get('version', '?')} (ISA {meta['nic_version'].get('isa', '?')}, "
      f"oneDNN {meta['nic_version'].get('onednn', '?')}), repository {meta['git']}; {meta['ffmpeg']}")
    a(f"- Model directory: `{meta['model_dir']}`")
    a(f"- Images: {meta['n_images']} from `{meta['images']}` ({meta['sizes']})")
    a("- Qualities: " + "; ".join(f"{c} {QUALITY_NAME[c]} {','.join(map(str, cfg.ladders[c]))}" for c in cfg.codecs))
    a(f"- Wall time: {meta['wall_seconds']:.0f} s")
    a("")
    a("Routes: **full** = codec at full resolution; **bicubic** = `nic resize` (antialiased bicubic a=−0.5) "
      "to the small size → codec → `nic resize` back (bicubic); **ai** = JPEG: `nic ai-encode"
      + (f" --refine {cfg.refine}` (encoder-side refinement of the small image, docs/models.md)" if cfg.refine else "`")
      + " → `nic ai-decode`, "
      "x265: `nic downscale --codec x265` → x265 → `nic upscale --setting ID`. JPEG for every route is nic's "
      "writer (FFmpeg MJPEG, libjpeg-scaled standard tables, 4:2:0 full range) and nic's decoder. x265: "
      f"ffmpeg libx265, preset {cfg.preset}, `{X265_PARAMS}`, one intra frame, yuv420p BT.601 limited range; "
      "bytes = raw HEVC bitstream (+ the AI data record for the ai route). JPEG bytes = the .jpg file "
      "(ai route: AI data in EXIF included). bpp = bits / original pixels; PSNR against the original, "
      "RGB over all three channels and luma (BT.601 Y); mean over images per quality point. "
      "BD-rate: cubic fit of log rate vs PSNR over the overlapping PSNR range (negative = fewer bits). "
      "Crossover: piecewise-linear in log bpp between the mean points, within the overlapping rates.")
    a("")
    a("## Targets")
    a("")
    a("| codec, scale | target | measured | verdict |")
    a("|---|---|---|---|")
    for r in targets(summary, cfg):
        a("| " + " | ".join(r) + " |")
    a("")
    a("## BD-rate and crossover")
    a("")
    a("| codec | scale | ai vs bicubic RGB | ai vs bicubic Y | ai vs full RGB | ai vs full Y | bicubic vs full RGB "
      "| ai beats full below | bicubic beats full below |")
    a("|---|---|---|---|---|---|---|---|---|")
    for codec in cfg.codecs:
        for s in cfg.scales:
            sc = summary["codecs"][codec]["scales"][s]
            bd = sc["bd"]

            def cx(x):
                if x["bpp"] is None:
                    return x["status"]
                return ("≥ " if x["status"] != "crossover" else "") + f"{x['bpp']:.3f} bpp"

            def bdc(k, bd=bd):
                v = bd[k]
                return f"{fmt_pct(v['bd_rate_percent'])} ({fmt_db(v['bd_psnr_db'])})"
            a(f"| {codec} | {scale_label(s)} | {bdc('ai_vs_bicubic_rgb')} | {bdc('ai_vs_bicubic_y')} | "
              f"{bdc('ai_vs_full_rgb')} | {bdc('ai_vs_full_y')} | {bdc('bicubic_vs_full_rgb')} | "
              f"{cx(sc['crossover_ai_vs_full'])} | {cx(sc['crossover_bicubic_vs_full'])} |")
    a("")
    a("BD-rate in percent of rate, BD-PSNR in brackets.")
    a("")
    a("## No codec (8-bit small image)")
    a("")
    a("| scale | small size | ai RGB | ai Y | bicubic RGB | bicubic Y | Δ RGB | worst image Δ RGB | setting |")
    a("|---|---|---|---|---|---|---|---|---|")
    for s, n in summary["none"].items():
        a(f"| {scale_label(s)} | {meta['small_sizes'].get(s, '?')} | {n['ai']['psnr_rgb']:.2f} | {n['ai']['psnr_y']:.2f} | "
          f"{n['bicubic']['psnr_rgb']:.2f} | {n['bicubic']['psnr_y']:.2f} | {n['delta_rgb']:+.2f} | "
          f"{n['worst_image_delta_rgb']:+.2f} | {','.join(map(str, n['ai']['setting_ids']))} |")
    a("")
    for codec in cfg.codecs:
        c = summary["codecs"][codec]
        qn = QUALITY_NAME[codec]
        a(f"## {CODEC_TITLES[codec]}")
        a("")
        a("Full resolution: " + ", ".join(f"{qn} {p['quality']}: {p['bpp']:.3f} bpp / {p['psnr_rgb']:.2f} dB"
                                             for p in c["full"]))
        a("")
        for s, sc in c["scales"].items():
            a(f"### {codec} {scale_label(s)}")
            a("")
            a(f"| {qn} | full bpp | full RGB | bicubic bpp | bicubic RGB | bicubic Y | ai bpp | ai RGB | ai Y | "
              "ai−bicubic same Q | worst image | ai−bicubic equal rate | ai−full equal rate | setting |")
            a("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            full_by_q = {p["quality"]: p for p in c["full"]}
            bic_by_q = {p["quality"]: p for p in sc["bicubic"]}
            cl_by_q = {p["quality"]: p for p in sc["no_cliff"]["points"]}
            for p in sc["ai"]:
                q = p["quality"]
                f_, b, cl = full_by_q.get(q), bic_by_q[q], cl_by_q[q]
                ef = interp_psnr(c["full"], p["bpp"])
                a(f"| {q} | {fmt(f_ and f_['bpp'])} | {fmt(f_ and f_['psnr_rgb'], '{:.2f}')} | {b['bpp']:.3f} | "
                  f"{b['psnr_rgb']:.2f} | {b['psnr_y']:.2f} | {p['bpp']:.3f} | {p['psnr_rgb']:.2f} | {p['psnr_y']:.2f} | "
                  f"{cl['delta_rgb_same_quality']:+.2f} | {cl['worst_image_delta_rgb_same_quality']:+.2f} | "
                  f"{fmt(cl['delta_rgb_equal_rate'], '{:+.2f}')} | {fmt(None if ef is None else p['psnr_rgb'] - ef, '{:+.2f}')} | "
                  f"{','.join(map(str, p['setting_ids']))} |")
            a("")
    a("PSNR in dB (mean over images); Δ columns in dB; \"equal rate\" compares with the other route's "
      "mean curve interpolated at the ai point's mean bpp (– outside its range).")
    a("")
    a("## NN settings used")
    a("")
    a("| id | name | kind | scale | bucket | quality ranges | down sha256 | up sha256 | used at |")
    a("|---|---|---|---|---|---|---|---|---|")
    for st in settings:
        sid = st.get("id")
        used = settings_used.get(sid)
        if not used:
            continue
        qr = "; ".join(f"{k} {v[0]}–{v[1]}" for k, v in sorted((st.get("quality_ranges") or {}).items()))
        dn = (st.get("down") or {}).get("sha256", "")[:12]
        upsha = (st.get("up") or {}).get("sha256", "")[:12]
        a(f"| {sid} | {st.get('name', '')} | {st.get('kind', '')} | {st.get('scale', '')} | {st.get('bucket', '')} | "
          f"{qr} | {dn} | {upsha} | {', '.join(sorted(used))} |")
    unused = [str(st.get("id")) for st in settings if not settings_used.get(st.get("id"))]
    if unused:
        a("")
        a("Listed but not used: " + ", ".join(unused) + ".")
    a("")
    a("## Time")
    a("")
    a("| stage | seconds | calls |")
    a("|---|---|---|")
    for k, v in timer_d.items():
        a(f"| {k} | {v['seconds']:.1f} | {v['calls']} |")
    a("")
    a("Summed wall time of the tool calls per stage (with --jobs > 1 stages overlap).")
    with open(path, "w") as fh:
        fh.write("\n".join(L) + "\n")


def write_plot(path, summary, cfg, meta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    n = len(cfg.codecs)
    fig, axes = plt.subplots(1, n, figsize=(6.4 * n, 5.0), squeeze=False)
    for ax, codec in zip(axes[0], cfg.codecs):
        c = summary["codecs"][codec]
        b, p = curve(c["full"])
        ax.plot(b, p, "k-o", ms=3, lw=1.5, label="full resolution")
        for i, (s, sc) in enumerate(c["scales"].items()):
            col = colours[i % len(colours)]
            b, p = curve(sc["bicubic"])
            ax.plot(b, p, "--s", color=col, ms=3, lw=1.2, label=f"bicubic {scale_label(s)}")
            b, p = curve(sc["ai"])
            ax.plot(b, p, "-o", color=col, ms=3, lw=1.8, label=f"AI {scale_label(s)}")
            x = sc["crossover_ai_vs_full"]
            if x["status"] == "crossover":
                ax.axvline(x["bpp"], color=col, lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("bits per original pixel")
        ax.set_ylabel("RGB PSNR (dB), mean")
        ax.set_title(CODEC_TITLES[codec], fontsize=10)
        ax.grid(True, which="both", lw=0.3, alpha=0.6)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"AI codec vs bicubic vs full resolution, {meta['n_images']} images ({meta['images_name']})"
                 + (" — PARTIAL RUN" if meta["partial"] else ""), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_ladder(text, codec):
    try:
        v = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"eval_aicodec: --{codec} qualities must be comma-separated integers: {text!r}") from None
    if not v:
        raise SystemExit(f"eval_aicodec: empty {codec} ladder")
    return v


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version()}


def git_describe():
    try:
        h = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return (h or "?") + (" (modified)" if dirty else "")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nic", default=DEFAULT_NIC, help="nic binary (default: .build/release/nic of the repo)")
    ap.add_argument("--models", help="model directory with settings.json (default: NIC_MODEL_DIR or nic's default)")
    ap.add_argument("--images", default=DEFAULT_IMAGES, help="directory of PNG originals (default: ../shared/data/eval/kodak)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: docs/results of the repo)")
    ap.add_argument("--name", help="output base name (default: aicodec-<images directory name>)")
    ap.add_argument("--scale", action="append", choices=["2", "1.5"], help="scale factor; repeatable (default: 2 and 1.5)")
    ap.add_argument("--codecs", default="jpeg,x265", help="comma-separated: jpeg, webp, x265 (default: jpeg,x265)")
    ap.add_argument("--jpeg-qualities", default=",".join(map(str, DEFAULT_LADDERS["jpeg"])))
    ap.add_argument("--webp-qualities", default=",".join(map(str, DEFAULT_LADDERS["webp"])))
    ap.add_argument("--x265-crfs", default=",".join(map(str, DEFAULT_LADDERS["x265"])))
    ap.add_argument("--x265-preset", default="medium")
    ap.add_argument("--refine", type=int, default=0,
                    help="JPEG ai route: nic ai-encode --refine N (encoder-side refinement steps; default 0)")
    ap.add_argument("--limit", type=int, help="only the first N images (a test run)")
    ap.add_argument("--jobs", type=int, default=1, help="images evaluated in parallel (default 1)")
    ap.add_argument("--threads", type=int, default=0, help="nic --threads (0 = one per core; default 0)")
    ap.add_argument("--ffmpeg", default="ffmpeg")
    ap.add_argument("--tmp", help="directory for temporary files (default: system temp)")
    cfg = ap.parse_args()

    def fail(msg):
        log("eval_aicodec: " + msg)
        sys.exit(2)

    cfg.scales = cfg.scale or ["2", "1.5"]
    cfg.codecs = [c.strip() for c in cfg.codecs.split(",") if c.strip()]
    for c in cfg.codecs:
        if c not in DEFAULT_LADDERS:
            fail(f"unknown codec {c!r}; use jpeg, webp and/or x265")
    cfg.ladders = {"jpeg": parse_ladder(cfg.jpeg_qualities, "jpeg"), "webp": parse_ladder(cfg.webp_qualities, "webp"),
                   "x265": parse_ladder(cfg.x265_crfs, "x265")}
    cfg.preset = cfg.x265_preset
    cfg.jobs = max(1, cfg.jobs)

    # Inputs
    if not os.path.isdir(cfg.images):
        shared = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
        why = f" ({shared} is absent: the evaluation data lives in ../shared/data/eval/kodak next to the repository)" \
            if not os.path.isdir(shared) else ""
        fail(f"image directory not found: {cfg.images}{why}")
    images = sorted(os.path.join(cfg.images, n) for n in os.listdir(cfg.images) if n.lower().endswith(".png"))
    if not images:
        fail(f"no PNG images in {cfg.images}")
    if cfg.limit:
        images = images[:cfg.limit]
    nic = os.path.abspath(cfg.nic) if os.sep in cfg.nic else shutil.which(cfg.nic)
    if not nic or not os.access(nic, os.X_OK):
        fail(f"nic binary not found: {cfg.nic} (build it: swift build -c release --product nic)")
    ffmpeg = shutil.which(cfg.ffmpeg) if os.sep not in cfg.ffmpeg else cfg.ffmpeg
    if "x265" in cfg.codecs:
        if not ffmpeg:
            fail("ffmpeg not found (needed for x265)")
        enc = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
        if "libx265" not in enc:
            fail(f"{ffmpeg} has no libx265 encoder")
    try:
        import PIL  # noqa: F401
    except ImportError:
        fail("Pillow is needed: pip install pillow")

    env = dict(os.environ)
    if cfg.models:
        if not os.path.isfile(os.path.join(cfg.models, "settings.json")):
            fail(f"no settings.json in the model directory {cfg.models}")
        env["NIC_MODEL_DIR"] = os.path.abspath(cfg.models)
    timer = Timer()
    tools = Tools(nic, ffmpeg, env, cfg.threads, cfg.preset, timer)

    try:
        settings_json = tools.nic_json("setup", "settings")
        nic_version = json.loads(tools.run([nic, "version", "--json"], "setup").strip() or "{}")
    except (EvalError, ValueError) as e:
        fail(f"nic cannot list its settings (model directory?): {e}")
    settings = settings_json.get("settings", [])
    offered = {float(s.get("scale", 0)) for s in settings if s.get("kind") == "joint"}
    missing = [s for s in cfg.scales if float(s) not in offered]
    if missing:
        fail(f"the model directory {settings_json.get('model_dir', '?')} has no joint setting for scale "
             f"{', '.join(missing)} (offers {sorted(offered)})")
    ff_version = "ffmpeg ?"
    if ffmpeg:
        ff_version = (subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.splitlines() or ["?"])[0]
        ff_version = " ".join(ff_version.split()[:3])

    # Run
    t0 = time.time()
    results = [None] * len(images)
    log(f"eval_aicodec: {len(images)} images, codecs {','.join(cfg.codecs)}, scales {','.join(cfg.scales)}, "
        f"model dir {settings_json.get('model_dir', '?')}")

    def one(i):
        t = time.time()
        results[i] = eval_image(images[i], cfg, tools)
        return i, time.time() - t

    done = 0
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=cfg.jobs)
    try:
        futs = [ex.submit(one, i) for i in range(len(images))]
        for fu in concurrent.futures.as_completed(futs):
            i, dt = fu.result()
            done += 1
            log(f"[{done}/{len(images)}] {os.path.basename(images[i])}: {dt:.1f} s")
    except EvalError as e:
        ex.shutdown(wait=True, cancel_futures=True)
        fail(str(e))
    except BaseException:
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown()
    wall = time.time() - t0

    rows = [r for _, rs in results for r in rs]
    summary = summarise(rows, cfg)

    # where each setting was used: "jpeg x2: quality 5,10", "no codec x2"
    uses = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("setting_id") is not None:
            uses[r["setting_id"]][(r["codec"], r["scale"])].append(r["quality"])
    settings_used = {}
    for sid, groups in uses.items():
        settings_used[sid] = {
            ("no codec " + scale_label(sc)) if codec == "none" else
            f"{codec} {scale_label(sc)}: {QUALITY_NAME[codec]} " + ",".join(map(str, sorted(set(qs))))
            for (codec, sc), qs in groups.items()}

    partial = []
    all_images = [n for n in os.listdir(cfg.images) if n.lower().endswith(".png")]
    if len(images) < len(all_images):
        partial.append(f"{len(images)} of {len(all_images)} images")
    for c in cfg.codecs:
        if cfg.ladders[c] != DEFAULT_LADDERS[c]:
            partial.append(f"non-default {c} ladder")
    if not set(TARGET_BD_AI_VS_BICUBIC) <= set(cfg.codecs):   # WebP is measured on request, not judged
        partial.append("not all codecs")
    if sorted(cfg.scales) != sorted(["2", "1.5"]):
        partial.append("not all scales")
    sizes = sorted({f"{m['width']}x{m['height']}" for m, _ in results})
    small_sizes = {}
    for s in cfg.scales:
        ss = sorted({tuple(r["small_size"]) for r in rows if r["codec"] == "none" and r["scale"] == s})
        small_sizes[s] = ", ".join(f"{w}x{h}" for w, h in ss)
    cwd = os.getcwd()
    settings_json = dict(settings_json, model_dir=portable(settings_json.get("model_dir")))
    meta = {
        "command": shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), cwd)] + sys.argv[1:]),
        "cwd": os.path.relpath(cwd, REPO) if cwd.startswith(REPO) else cwd,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "nic": portable(nic),
        "nic_version": nic_version,
        "git": git_describe(),
        "ffmpeg": ff_version,
        "model_dir": settings_json.get("model_dir"),
        "images": portable(cfg.images),
        "images_name": os.path.basename(os.path.normpath(cfg.images)),
        "n_images": len(images),
        "sizes": ", ".join(sizes),
        "small_sizes": small_sizes,
        "partial": "; ".join(partial),
        "wall_seconds": wall,
        "jpeg": "nic's JPEG writer (FFmpeg MJPEG encoder, libjpeg-scaled standard tables, 4:2:0 full-range JFIF) "
                "and nic's decoder, every route",
        "webp": "nic's WebP writer (FFmpeg libwebp, lossy) and nic's decoder, every route",
        "x265": {"encoder": "ffmpeg libx265", "preset": cfg.preset, "x265_params": X265_PARAMS,
                 "to_yuv": SWS_TO_YUV, "to_rgb": SWS_TO_RGB, "bytes": "raw Annex-B bitstream"},
        "ladders": {c: cfg.ladders[c] for c in cfg.codecs},
        "scales": cfg.scales,
        "jobs": cfg.jobs,
        "threads": cfg.threads,
    }
    os.makedirs(cfg.out, exist_ok=True)
    base = os.path.join(cfg.out, cfg.name or f"aicodec-{meta['images_name']}")
    timer_d = timer.as_dict()
    with open(base + ".json", "w") as fh:
        json.dump({"format": "libnic-aicodec-eval", "version": 1, "meta": meta, "settings": settings_json,
                   "images": [m for m, _ in results], "summary": summary, "timing": timer_d, "rows": rows},
                  fh, indent=1)
    write_markdown(base + ".md", meta, summary, cfg, timer_d, settings_used, settings)
    try:
        write_plot(base + ".png", summary, cfg, meta)
    except ImportError:
        log("eval_aicodec: matplotlib is missing (pip install matplotlib): no plot written")
    log(f"eval_aicodec: wrote {base}.json, .md, .png ({wall:.0f} s)")


if __name__ == "__main__":
    main()
