#!/usr/bin/env python3
"""What 8-bit inference of the chroma networks costs in quality: the AI route of stills through
libnic (the `nic` tool) with each chroma network in float32 and in int8, on crops of the 8-image
hold-out of the training images (data.split_train_val, the hold-out chroma_data.py --split val
draws the chroma networks' validation crops from; never calibrated or trained on).

Per chroma network with an int8 entry in settings.json: random crops of the hold-out images go
through the codec the network was trained behind, at qualities drawn from the quality ranges of
the settings that name it (calibrate_int8.chroma_networks, as calibrated), by chroma_data.ai_route
(`nic ai-encode` / `ai-decode` for JPEG and WebP; `nic downscale`, x265 intra, `nic upscale` for
x265). Each small image is decoded twice with the same --precision request (default auto): with a
view of the model directory whose chroma entries have no int8 ranges (the chroma network in
float32) and with the model directory as it is (int8 where the CPU has VNNI); the up network runs
alike in both. Reported per network: the mean RGB PSNR of each against the original crop, their
difference (the loss) and the mean PSNR of int8 against fp32, also per quality band.

--drop-over DB removes the int8 entries (and ranges files) of the networks that lose more than DB
from settings.json, so that they keep float32.

  python3 training/aicodec/check_chroma_int8.py [--nic .build/release/nic] [--models models] [--samples 48]
                                                [--only x2c_jpeg_chroma.safetensors] [--drop-over 0.05]
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.calibrate_int8 import chroma_networks  # noqa: E402
from training.aicodec.chroma_data import ai_route, model_view, random_crop, save_png  # noqa: E402
from training.aicodec.data import list_train_images, load_rgb, split_train_val  # noqa: E402
from training.metrics import psnr as psnr_of  # noqa: E402


def psnr(a, b):
    """PSNR of two 8-bit pictures."""
    return psnr_of(a.astype(np.float64), b.astype(np.float64), 255)


def without_chroma_int8(manifest):
    for s in manifest["settings"]:
        for entry in s.get("chroma", []):
            entry.pop("int8", None)


def bands(codec):
    return [(5, 30), (31, 60), (61, 95)] if codec in ("jpeg", "webp") else [(17, 30), (31, 42), (43, 51)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    p.add_argument("--samples", type=int, default=48, help="hold-out crops per network and codec")
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="only these chroma weights files (comma-separated)")
    p.add_argument("--drop-over", type=float, help="remove the int8 entries of networks losing more dB than this")
    p.add_argument("--json", help="write the figures here")
    a = p.parse_args()
    manifest_path = os.path.join(a.models, "settings.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    with_ranges = {e["weights"] for s in manifest["settings"] for e in s.get("chroma", []) if "int8" in e}
    only = set(a.only.split(",")) if a.only else None
    _, val = split_train_val(list_train_images())
    images = [load_rgb(f) for f in val]
    areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
    report = {}
    with tempfile.TemporaryDirectory(prefix="nic_chroma_int8_") as work:
        fp32_view = model_view(a.models, os.path.join(work, "fp32"), without_chroma_int8)
        crop_png = os.path.join(work, "crop.png")
        for weights, (scale, codecs) in chroma_networks(manifest["settings"]).items():
            if weights not in with_ranges or (only is not None and weights not in only):
                continue
            rows = []
            for k, (codec, (lo, hi)) in enumerate(sorted(codecs.items())):
                rng = np.random.default_rng(a.seed + k)
                for _ in range(a.samples):
                    crop, q = random_crop(rng, images, areas, a.crop), int(rng.integers(lo, hi + 1))
                    save_png(crop, crop_png)
                    (fp32, int8), sid = ai_route(a.nic, crop_png, work, scale, codec, q, decoders=[fp32_view, a.models])
                    rows.append((codec, q, sid, psnr(fp32, crop), psnr(int8, crop), psnr(int8, fp32)))
            figures = {"n": len(rows), "fp32_db": float(np.mean([r[3] for r in rows])),
                       "int8_db": float(np.mean([r[4] for r in rows])),
                       "int8_vs_fp32_db": float(np.mean([r[5] for r in rows])),
                       "settings": sorted({r[2] for r in rows})}
            figures["loss_db"] = figures["fp32_db"] - figures["int8_db"]
            figures["bands"] = {f"{codec} {lo}-{hi}": {"n": len(sel), "loss_db": float(np.mean([r[3] - r[4] for r in sel]))}
                                for codec in codecs for lo, hi in bands(codec)
                                for sel in [[r for r in rows if r[0] == codec and lo <= r[1] <= hi]] if sel}
            report[weights] = figures
            print(f"{weights}: n {figures['n']}, fp32 {figures['fp32_db']:.3f} dB, int8 {figures['int8_db']:.3f} dB, "
                  f"loss {figures['loss_db']:.4f} dB, int8 vs fp32 {figures['int8_vs_fp32_db']:.2f} dB; "
                  + ", ".join(f"{b} {v['loss_db']:.4f} (n {v['n']})" for b, v in figures["bands"].items()), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    if a.drop_over is not None:
        dropped = {w for w, r in report.items() if r["loss_db"] > a.drop_over}
        for s in manifest["settings"]:
            for entry in s.get("chroma", []):
                if entry["weights"] in dropped:
                    ranges = entry.pop("int8")["ranges"]
                    if os.path.exists(os.path.join(a.models, ranges)):
                        os.remove(os.path.join(a.models, ranges))
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        print("kept in fp32: " + (", ".join(sorted(dropped)) or "none"), file=sys.stderr)


if __name__ == "__main__":
    main()
