#!/usr/bin/env python3
"""What 8-bit (or bfloat16) inference costs in quality: the shipped up networks through libnic (the
`nic` tool) in fp32 and in int8 (or bf16), on the 8-image hold-out of the training images (data.split_train_val; never
calibrated or trained on).

Per setting with int8 ranges: each hold-out image's luma (cropped to a multiple of 6) goes through
the setting's down network (antialiased bicubic for a generic setting) to an 8-bit small image with
no codec, the strictest case (the highest PSNR, where a small error shows most). `nic upscale
--setting ID --precision fp32|int8` brings it back to the original size; reported per setting,
as means over the images: luma PSNR of each precision against the original, their difference
(the loss), and the PSNR of int8 against fp32. With --crf N the small image goes through x265
intra at CRF N first (the HEVC settings' codec) instead of no codec; with --x264-crf N through
x264 (a P picture, real_codecs.x264_roundtrip_gray), with --jpeg Q through JPEG at quality Q
(the x1.5 stills' and x264 settings' codecs). A setting whose int8 entry names separate int8
weights (`"network"`) runs them in its int8 body: `nic` does, and so does --exact here.

--precision bf16 compares `nic upscale --precision bf16` with fp32 instead, for every chosen
setting (bf16 needs no ranges; it needs a CPU with AVX512_BF16); the columns are then bf16's.

--exact adds the int8 network computed here with exact integer sums (PyTorch; weights per output
channel, activations per tensor over the calibrated ranges, rounded and saturated as libnic does):
what oneDNN computes on CPUs with VNNI. Without VNNI its AVX2 kernel halves the 8-bit weights
(rounding them again) to keep its 16-bit pair sums from saturating, so `nic` there shows more loss.

--weights FILE evaluates another up network for one setting (quantisation-aware fine-tuned weights,
qat_int8.py) in place of the shipped one, with --ranges FILE (or the setting's shipped ranges), in
PyTorch only: fp32 and exact int8 against the original, their difference and int8 against fp32,
and int8 against fp32 (float outputs) on libnic's synthetic test image (192x128), the bound of
Int8InferenceTests.

  python3 training/aicodec/check_int8.py [--nic .build/release/nic] [--models models] [--settings realtime|all|4,7]
                                         [--crf N] [--exact] [--precision int8|bf16]
  python3 training/aicodec/check_int8.py --settings 4 --weights W.safetensors --ranges W.int8.json
  python3 training/aicodec/check_int8.py --settings 4 --int8-weights W.safetensors --ranges W.int8.json

--float-layers 1 (or 1,2) keeps those convolutions (indices from 0) out of int8 in the PyTorch int8
network, in bfloat16 (--float-precision fp32: float32), as libnic's mixed int8 body runs the ones a
ranges file lists as "float_convolutions" (the default here too).

--int8-weights FILE is the shipping case of separate int8 weights: fp32 from the setting's own up
network, exact int8 from FILE with --ranges, so the loss is against the setting's float output and
the test pattern compares the two networks as Int8InferenceTests does.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.calibrate_int8 import chosen_settings, setting_scale, small_luma  # noqa: E402
from training.aicodec.colour import luma_np  # noqa: E402
from training.aicodec.data import crop_multiple, list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.nets import load_safetensors_net  # noqa: E402
from training.aicodec.real_codecs import jpeg_roundtrip_gray, x264_roundtrip_gray, x265_intra_roundtrip_gray  # noqa: E402
from training.metrics import psnr as psnr_of  # noqa: E402


def psnr(a, b):
    """PSNR of two 8-bit pictures."""
    return psnr_of(a.astype(np.float64), b.astype(np.float64), 255)


def ste_round(t):
    """Rounding with the straight-through estimator: rounded values, the identity's gradient."""
    return t + (t.round() - t).detach()


def bf16(t):
    """t rounded to bfloat16 (8 bits of mantissa, round to nearest even), back in float32."""
    return t.to(torch.bfloat16).float()


def int8_forward(up, x, ranges, ste=False, float_layers=(), float_precision="bf16"):
    """`up` on x (1, 1, h, w) in [0, 1] with its body in 8-bit integers: each convolution's input
    rounded to integers of ranges[i] / 127 and saturated, weights rounded per output channel, sums exact,
    then scaled back with the bias and the activation in float.

    The convolutions in float_layers (indices from 0) stay out of int8, as libnic's mixed int8 body
    runs them (the int8 entry's "float_convolutions"): their input and weights rounded to bfloat16
    with float32 sums (float_precision "bf16", as oneDNN's bf16 kernels compute them) or float32
    throughout ("fp32"); their ranges go unused.

    ste=False: the sums in float64. ste=True (quantisation-aware training): the same values with
    float32 sums, exact too (every partial sum is an integer below 127 * 127 * 9 * 32 < 2^24 for
    up to 32 input channels), rounding with the straight-through estimator (saturated inputs pass
    no gradient) and the weight scales held constant in the backward pass."""
    h = F.pixel_unshuffle(x, up.r_in) if up.r_in > 1 else x
    for i, c in enumerate(up.convs):
        if i in float_layers:
            if float_precision == "bf16":
                h = F.conv2d(bf16(h), bf16(c.weight), padding=1) + c.bias[None, :, None, None]
            else:
                h = c(h)
            if i < len(up.convs) - 1:
                h = F.leaky_relu(h, up.slope)
            continue
        assert not ste or c.in_channels <= 32, "float32 sums are exact for up to 32 input channels"
        scale = ranges[i] / 127
        w_scale = c.weight.detach().abs().amax(dim=(1, 2, 3)).clamp_min(1e-38) / 127
        if ste:
            q = ste_round(h / scale).clamp(-127, 127)
            w = ste_round(c.weight / w_scale[:, None, None, None])
            total = F.conv2d(q, w, padding=1)
        else:
            q = (h / scale).round().clamp(-127, 127).double()
            w = (c.weight / w_scale[:, None, None, None]).round().double()
            total = F.conv2d(q, w, padding=1).float()
        h = total * (scale * w_scale)[None, :, None, None] + c.bias[None, :, None, None]
        if i < len(up.convs) - 1:
            h = F.leaky_relu(h, up.slope)
    return up.base(x) + (F.pixel_shuffle(h, up.r_out) if up.r_out > 1 else h)


@torch.no_grad()
def exact_int8(up, x, ranges, float_layers=(), float_precision="bf16"):
    """int8_forward with float64 sums, no gradient: what oneDNN computes on VNNI CPUs."""
    return int8_forward(up, x, ranges, float_layers=float_layers, float_precision=float_precision)


def test_pattern_luma(width=192, height=128):
    """Luma in [0, 1] of libnic's synthetic photo-like test image (TestPattern in NICCore: sky
    gradient and sun, a zone plate, a building with windows, grain), the image on which
    Int8InferenceTests bounds int8 against float32 (above 35 dB)."""
    v, u = np.meshgrid(np.arange(height) / height, np.arange(width) / width, indexing="ij")
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    sun = np.exp(-((u - 0.75) ** 2 + (v - 0.2) ** 2) * 60)
    rgb = np.stack([90 + 80 * v + 120 * sun, 130 + 60 * v + 100 * sun, 200 - 70 * v + 40 * sun], -1)
    zone = (u < 0.45) & (v > 0.55)
    rgb[zone] = (128 + 110 * np.cos((u * u + (1 - v) ** 2) * 900))[zone][:, None]
    building = (u > 0.5) & (u < 0.9) & (v > 0.45)
    rgb[building] = [60, 55, 65]
    rgb[building & ((x // 6) % 3 == 1) & ((y // 8) % 3 == 1)] = [230, 210, 120]
    noise = (((x * 73856093) ^ (y * 19349663)) & 15) - 7.5
    rgb = np.clip(np.floor(rgb + noise[..., None] * 0.6 + 0.5), 0, 255).astype(np.uint8)
    return torch.from_numpy(luma_np(rgb).astype(np.float32))[None, None]


def u8(t):
    return (t[0, 0].detach().clamp(0, 1) * 255).round().numpy()


def upscaled_luma(nic, models, setting, small_png, width, height, precision, threads, out_png):
    subprocess.run([nic, "upscale", small_png, out_png, "--setting", str(setting), "--size", f"{width}x{height}",
                    "--models", models, "--threads", str(threads), "--precision", precision],
                   check=True, stdout=subprocess.DEVNULL)
    with Image.open(out_png) as im:
        return (luma_np(np.asarray(im.convert("RGB"))) * 255).round()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    p.add_argument("--settings", default="realtime")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--crf", type=int, help="x265 intra CRF of the small image (default: no codec)")
    p.add_argument("--x264-crf", type=int, help="x264 CRF of the small image, coded as a P picture (default: no codec)")
    p.add_argument("--jpeg", type=int, help="JPEG quality of the small image (default: no codec)")
    p.add_argument("--exact", action="store_true", help="add the exact-integer int8 network (what VNNI CPUs compute)")
    p.add_argument("--precision", choices=("int8", "bf16"), default="int8", help="the precision compared with fp32")
    p.add_argument("--weights", help="evaluate this up network (a safetensors file) in place of the setting's, in "
                                     "PyTorch only: fp32 and exact int8 (`nic` runs only the shipped networks)")
    p.add_argument("--int8-weights", help="separate int8 weights (qat_int8.py) for one setting, in PyTorch only: fp32 from the "
                                          "setting's (or --weights') up network, exact int8 from these with --ranges")
    p.add_argument("--ranges", help="with --weights or --int8-weights: the int8 ranges file (default: the setting's shipped ranges)")
    p.add_argument("--float-layers", help="convolutions (indices from 0, e.g. 1 or 1,2) kept out of int8 in the PyTorch "
                                          "int8 network (default: the ranges file's \"float_convolutions\", else none)")
    p.add_argument("--float-precision", choices=("bf16", "fp32"), default="bf16",
                   help="what the convolutions kept out of int8 compute in, in PyTorch (libnic: bf16 on CPUs with AVX512_BF16)")
    p.add_argument("--json", help="also write the table as JSON here")
    a = p.parse_args()
    if a.exact and a.precision != "int8":
        p.error("--exact is for --precision int8")
    if (a.weights or a.int8_weights) and a.precision != "int8":
        p.error("--weights and --int8-weights are for --precision int8")
    if a.ranges and not (a.weights or a.int8_weights):
        p.error("--ranges goes with --weights or --int8-weights")
    pytorch = bool(a.weights or a.int8_weights)
    if a.float_layers is not None and not (a.exact or pytorch):
        p.error("--float-layers is for the PyTorch int8 network (--exact, --weights or --int8-weights)")
    if sum(c is not None for c in (a.crf, a.x264_crf, a.jpeg)) > 1:
        p.error("choose one codec: --crf, --x264-crf or --jpeg")
    q = a.precision
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.models, "settings.json")) as f:
        manifest = json.load(f)
    settings = chosen_settings(manifest, a.settings)
    if pytorch and len(settings) != 1:
        p.error("--weights and --int8-weights replace one setting's up network: give one setting ID")
    _, holdout = split_train_val(list_train_images())
    rgbs = [crop_multiple(load_rgb(f), 6) for f in holdout]
    rows = []
    if pytorch:
        print("setting  fp32 dB  exact int8 dB  loss dB  int8 vs fp32 dB  test pattern: int8 vs fp32 dB   (PyTorch, "
              + " / int8 ".join(os.path.basename(w) for w in (a.weights, a.int8_weights) if w) + ")")
    else:
        print(f"setting  fp32 dB  {q} dB  loss dB  {q} vs fp32 dB" + ("  exact int8:    loss dB  vs fp32 dB" if a.exact else ""))
    with tempfile.TemporaryDirectory() as tmp:
        for s in settings:
            ranges_file = a.ranges or (os.path.join(a.models, s["up"]["int8"]["ranges"]) if s["up"].get("int8") else None)
            if q == "int8" and ranges_file is None:
                if pytorch:
                    p.error(f"setting {s['id']} ships no int8 ranges: give --ranges")
                continue
            scale = setting_scale(s)
            down = load_safetensors_net(os.path.join(a.models, s["down"]["weights"])).eval() if s.get("down") else None
            up = load_safetensors_net(a.weights or os.path.join(a.models, s["up"]["weights"])).eval()
            shipped8 = None if a.weights else ((s["up"].get("int8") or {}).get("network") or {}).get("weights")
            if a.int8_weights or shipped8:   # separate int8 weights
                up8 = load_safetensors_net(a.int8_weights or os.path.join(a.models, shipped8)).eval()
            else:
                up8 = up
            if a.exact or pytorch:
                with open(ranges_file) as f:
                    record = json.load(f)
                ranges = record["conv_inputs"]
                kept = (sorted({int(v) for v in a.float_layers.split(",") if v}) if a.float_layers is not None
                        else record.get("float_convolutions", []))
                mixed = {"float_layers": kept, "float_precision": a.float_precision}
            fp32, other, between, exact, exact_between = [], [], [], [], []
            for i, rgb in enumerate(rgbs):
                original = (luma_np(rgb) * 255).round()
                small = (small_luma(rgb, down, scale)[0, 0].numpy() * 255).round().astype(np.uint8)
                if a.crf is not None:
                    (small,), _ = x265_intra_roundtrip_gray([small], a.crf)
                elif a.x264_crf is not None:
                    (small,), _ = x264_roundtrip_gray([small], a.x264_crf)
                elif a.jpeg is not None:
                    small, _ = jpeg_roundtrip_gray(small, a.jpeg)
                if not pytorch:
                    small_png = os.path.join(tmp, f"small{i}.png")
                    Image.fromarray(small, "L").save(small_png)
                    h, w = original.shape
                    out = {r: upscaled_luma(a.nic, a.models, s["id"], small_png, w, h, r, a.threads, os.path.join(tmp, f"{r}.png"))
                           for r in ("fp32", q)}
                    fp32.append(psnr(out["fp32"], original)); other.append(psnr(out[q], original))
                    between.append(psnr(out[q], out["fp32"]))
                if a.exact or pytorch:
                    x = torch.from_numpy(small.astype(np.float32) / 255)[None, None]
                    with torch.no_grad():
                        reference = u8(up(x))
                    integer = u8(exact_int8(up8, x, ranges, **mixed))
                    if pytorch:
                        fp32.append(psnr(reference, original)); other.append(psnr(integer, original))
                        between.append(psnr(integer, reference))
                    else:
                        exact.append(psnr(integer, original) - psnr(reference, original))
                        exact_between.append(psnr(integer, reference))
            row = {"setting": s["id"], "psnr_y_fp32": float(np.mean(fp32)), f"psnr_y_{q}": float(np.mean(other)),
                   "loss_db": float(np.mean(fp32) - np.mean(other)), f"psnr_y_{q}_vs_fp32": float(np.mean(between))}
            if pytorch:
                pattern = test_pattern_luma()
                with torch.no_grad():
                    between_db = psnr_of(exact_int8(up8, pattern, ranges, **mixed), up(pattern))
                row.update(weights=os.path.basename(a.weights or s["up"]["weights"]), ranges=os.path.basename(ranges_file),
                           computed="pytorch, exact int8", test_pattern_int8_vs_fp32=between_db)
                if kept:
                    row.update(float_layers=kept, float_precision=a.float_precision)
                if a.int8_weights:
                    row["int8_weights"] = os.path.basename(a.int8_weights)
                line = (f"{s['id']:7d}  {row['psnr_y_fp32']:7.3f}  {row['psnr_y_int8']:13.3f}  {row['loss_db']:7.4f}  "
                        f"{row['psnr_y_int8_vs_fp32']:7.2f}  {row['test_pattern_int8_vs_fp32']:7.2f}")
            else:
                line = (f"{s['id']:7d}  {row['psnr_y_fp32']:7.3f}  {row[f'psnr_y_{q}']:7.3f}  {row['loss_db']:7.4f}  "
                        f"{row[f'psnr_y_{q}_vs_fp32']:7.2f}")
            if a.exact and not pytorch:
                row["exact_loss_db"], row["exact_psnr_y_int8_vs_fp32"] = -float(np.mean(exact)), float(np.mean(exact_between))
                if kept:
                    row.update(float_layers=kept, float_precision=a.float_precision)
                line += f"  {'':13s}  {row['exact_loss_db']:7.4f}  {row['exact_psnr_y_int8_vs_fp32']:7.2f}"
            rows.append(row)
            print(line, flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"images": len(rgbs), "precision": q, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
