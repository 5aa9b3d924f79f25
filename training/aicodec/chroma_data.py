#!/usr/bin/env python3
"""Training pairs for the chroma networks: what the AI route's decoder sees, made by the real tools.

For random crops of the training images (never the hold-out) and random codec qualities, the crop
goes through the shipped AI route with the `nic` CLI and the real codec, exactly as
bench/eval_aicodec.py runs it:

  jpeg  nic ai-encode --codec jpeg --quality Q --scale S  ->  nic ai-decode
  webp  the same with --codec webp
  x265  nic downscale --codec x265 --quality CRF --scale S  ->  ffmpeg libx265 intra (one frame)
        ->  nic upscale --setting ID
  none  nic downscale --scale S  ->  nic upscale (no codec; a share of the samples of every set)

The settings' chroma networks are left out (a view of the model directory without them), so the
decoder's output (AI luma, bicubic chroma) and the original crop are stored side by side as
uint8 RGB in one .npz (`orig`, `dec`, `quality`, `setting`), so the chroma network trains on the
decoder's real input without running the codecs in the training loop.

  python3 training/aicodec/chroma_data.py --scale 2 --codec jpeg --samples 1500 --out DATA.npz
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.data import list_train_images, load_rgb, split_train_val  # noqa: E402

X265_PARAMS = "keyint=1:info=0:log-level=error"
TO_YUV = "scale=out_color_matrix=bt601:out_range=tv:flags=accurate_rnd+full_chroma_int,format=yuv420p"
TO_RGB = "scale=in_color_matrix=bt601:in_range=tv:flags=accurate_rnd+full_chroma_int,format=rgb24"
QUALITY_RANGE = {"jpeg": (5, 95), "webp": (5, 95), "x265": (17, 51)}


def run(cmd, models=None):
    """Runs `cmd`; with `models`, nic reads that model directory (NIC_MODEL_DIR)."""
    env = dict(os.environ, NIC_MODEL_DIR=models) if models else None
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p.stdout


def save_png(a, path):
    from PIL import Image
    Image.fromarray(a).save(path)


def x265_roundtrip(src, work, crf):
    """PNG -> one HEVC intra picture -> RGB PNG (odd sizes edge-padded to even, then cropped)."""
    img = load_rgb(src)
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        src = os.path.join(work, "pad.png")
        save_png(np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"), src)
    hevc, dec = os.path.join(work, "s.hevc"), os.path.join(work, "s_dec.png")
    base = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    run(base + ["-i", src, "-frames:v", "1", "-vf", TO_YUV, "-c:v", "libx265", "-preset", "medium",
                "-crf", str(crf), "-x265-params", X265_PARAMS, "-f", "hevc", hevc])
    run(base + ["-i", hevc, "-frames:v", "1", "-vf", TO_RGB, dec])
    if h % 2 or w % 2:
        save_png(load_rgb(dec)[:h, :w], dec)
    return dec


def ai_route(nic, crop_png, work, scale, codec, quality, decoders=(None,)):
    """Runs the AI route on one crop; returns (decoded RGB uint8, setting ID). With `decoders` (a
    list of model directories, None: NIC_MODEL_DIR as set; the first also encodes), the small image
    is decoded once with each and the first item is the list of their outputs."""
    encoder = decoders[0]
    common_args = ["--threads", "1"]
    outs = [os.path.join(work, f"up{i}.png") for i in range(len(decoders))]
    if codec in ("jpeg", "webp") and quality is not None:
        jpg = os.path.join(work, "s." + ("jpg" if codec == "jpeg" else "webp"))
        run([nic, "ai-encode", crop_png, jpg, "--codec", codec, "--quality", str(quality), "--scale", scale,
             *common_args], encoder)
        for models, out in zip(decoders, outs):
            run([nic, "ai-decode", jpg, out, *common_args], models)
        info = run([nic, "info", jpg, "--json"], encoder)
    else:
        small = os.path.join(work, "s.png")
        args = ["--codec", "x265", "--quality", str(quality)] if quality is not None else []
        run([nic, "downscale", crop_png, small, "--scale", scale, *args, *common_args], encoder)
        info = run([nic, "info", small, "--json"], encoder)
        coded = x265_roundtrip(small, work, quality) if quality is not None else small
        sid = json.loads(info.strip().splitlines()[-1])["setting_id"]
        h, w = load_rgb(crop_png).shape[:2]
        for models, out in zip(decoders, outs):
            run([nic, "upscale", coded, out, "--setting", str(sid), "--size", f"{w}x{h}", *common_args], models)
    sid = int(json.loads(info.strip().splitlines()[-1])["setting_id"])
    decoded = [load_rgb(out) for out in outs]
    return (decoded if decoders != (None,) else decoded[0]), sid


def model_view(models, view, edit):
    """A view of the model directory in `view`: its files linked, settings.json changed by `edit`
    (called on the parsed manifest)."""
    os.makedirs(view)
    with open(os.path.join(models, "settings.json")) as f:
        manifest = json.load(f)
    edit(manifest)
    with open(os.path.join(view, "settings.json"), "w") as f:
        json.dump(manifest, f)
    for name in os.listdir(models):
        if name != "settings.json" and os.path.isfile(os.path.join(models, name)):
            os.symlink(os.path.abspath(os.path.join(models, name)), os.path.join(view, name))
    return view


def without_chroma_networks(models, work):
    """A view of the model directory whose settings name no chroma network, so that the pairs
    hold the bicubic chroma the network is trained to correct, also once settings ship one."""
    def edit(manifest):
        for setting in manifest["settings"]:
            setting.pop("chroma", None)
    return model_view(models, os.path.join(work, "models"), edit)


def route_pairs(nic, models, images, scale, codec, n, crop, p_none, seed, qualities=None, log=True):
    """`n` random crops of `images` (chosen by area) through the AI route without chroma networks,
    at random qualities of `qualities` (lo, hi; default the codec's QUALITY_RANGE), a share p_none
    without a codec. Returns (orig, dec, quality (-1: none), setting) arrays."""
    rng = np.random.default_rng(seed)
    areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
    lo, hi = qualities or QUALITY_RANGE[codec]
    orig = np.empty((n, crop, crop, 3), np.uint8)
    dec = np.empty_like(orig)
    quality = np.full(n, -1, np.int32)
    setting = np.zeros(n, np.int32)
    with tempfile.TemporaryDirectory(prefix="nic_chroma_") as work:
        view = without_chroma_networks(models, work)
        crop_png = os.path.join(work, "crop.png")
        for i in range(n):
            im, q = random_crop(rng, images, areas, crop), None if rng.random() < p_none else int(rng.integers(lo, hi + 1))
            save_png(im, crop_png)
            (dec[i],), setting[i] = ai_route(nic, crop_png, work, scale, codec, q, decoders=[view])
            orig[i], quality[i] = im, (-1 if q is None else q)
            if log and (i + 1) % 100 == 0:
                print(f"{i + 1}/{n}", flush=True)
    return orig, dec, quality, setting


def random_crop(rng, images, areas, c):
    """A c x c crop of an image chosen with probability by area."""
    im = images[rng.choice(len(images), p=areas / areas.sum())]
    y0 = rng.integers(0, im.shape[0] - c + 1)
    x0 = rng.integers(0, im.shape[1] - c + 1)
    return np.ascontiguousarray(im[y0:y0 + c, x0:x0 + c])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["2", "1.5"], required=True)
    ap.add_argument("--codec", choices=["jpeg", "webp", "x265"], required=True)
    ap.add_argument("--samples", type=int, default=1500)
    ap.add_argument("--crop", type=int, default=192, help="original crop size (a multiple of 12)")
    ap.add_argument("--p-none", type=float, default=0.1, help="share of samples without a codec")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=["train", "val"], default="train",
                    help="val: crops of the 8 hold-out images, for validation only")
    ap.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    ap.add_argument("--models", default=os.path.join(REPO, "models"), help="model directory the route uses")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.crop % 12:
        sys.exit("--crop must be a multiple of 12 (both scales, 4:2:0)")

    train, val = split_train_val(list_train_images())
    images = [load_rgb(f) for f in (train if args.split == "train" else val)]
    orig, dec, quality, setting = route_pairs(args.nic, args.models, images, args.scale, args.codec, args.samples,
                                              args.crop, args.p_none, args.seed)
    n, c = args.samples, args.crop
    np.savez_compressed(args.out, orig=orig, dec=dec, quality=quality, setting=setting)
    print(f"wrote {args.out}: {n} samples of {c}x{c}")


if __name__ == "__main__":
    main()
