#!/usr/bin/env python3
"""PSNR of the LIFF up-scaler against bicubic, no codec in between.

  python3 training/liff/measure.py --set holdout [--run training/runs/liff/c16 | --model models/liff/liff_rgb_c16.safetensors]
  python3 training/liff/measure.py --set ../shared/data/eval/kodak --nic .build/release/nic

Each image (full size, W x H) is brought down by the factor (--factors; x:y for different factors
per axis) to round(W / fx) x round(H / fy) (bicubic antialiased, rounded to 8 bits: as in
training) and back up to W x H by
  - liff:        the model (PyTorch),
  - bicubic:     plain bicubic a = -0.75 (PyTorch; the LIFF base),
  - bicubic_nic: bicubic a = -0.5 with edge renormalisation (Pillow; the `nic --method bicubic` filter),
  - nic:         with --nic, the Swift inference: `nic upscale LR.png OUT.png --size WxH --method liff`.
PSNR over R, G and B of the 8-bit results (mean over images), and the gains over both bicubics.
--set holdout is the training hold-out (training/aicodec/data.py split_train_val).
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
from safetensors import safe_open

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.data import list_train_images, load_rgb, split_train_val  # noqa: E402
from training.liff.model import LIFF  # noqa: E402
from training.liff.train import downscale, lr_size, psnr_u8, to_tensor  # noqa: E402

FACTORS = "1.5,2,3.3"


def parse_factors(text):
    """"1.5,2,1.5:3" -> [(1.5, 1.5), (2, 2), (1.5, 3)]: (x factor, y factor) pairs."""
    pairs = []
    for item in text.split(","):
        fx, _, fy = item.partition(":")
        pairs.append((float(fx), float(fy or fx)))
    return pairs


def key(fx, fy):
    return f"x{fx:g}" if fx == fy else f"x{fx:g}:{fy:g}"


def load_model(run=None, model=None):
    if run:
        ck = torch.load(os.path.join(run, "best.pt"), weights_only=False)
        net = LIFF(**ck["config"])
        net.load_state_dict(ck["model"])
        return net.eval()
    with safe_open(model, "pt") as f:
        arch = json.loads(f.metadata()["architecture"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    convs = arch["layers"]
    net = LIFF(channels=convs[-1]["out"], width=convs[0]["out"], depth=len(convs), hidden=arch["filter_x"][0]["out"])
    net.load_state_dict(tensors)
    return net.eval()


def images(which):
    if which == "holdout":
        return split_train_val(list_train_images())[1]
    return sorted(os.path.join(which, n) for n in os.listdir(which) if n.lower().endswith((".png", ".jpg", ".webp")))


def u8(t):
    return (t.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()


@torch.no_grad()
def measure(net, files, factors, nic=None, threads=1):
    rows = {key(fx, fy): [] for fx, fy in factors}
    tmp = tempfile.mkdtemp()
    for path in files:
        hr = to_tensor(load_rgb(path))
        _, _, h, w = hr.shape
        for fx, fy in factors:
            lr = downscale(hr, lr_size(h, fy), lr_size(w, fx))
            base = F.interpolate(lr, size=(h, w), mode="bicubic", align_corners=False)
            liff = net(lr, h, w, base=base, row_chunk=32)
            pil = Image.fromarray(u8(lr)).resize((w, h), Image.BICUBIC)
            r = {"image": os.path.basename(path), "liff": psnr_u8(liff, hr), "bicubic": psnr_u8(base, hr),
                 "bicubic_nic": psnr_u8(to_tensor(np.array(pil)), hr)}
            if nic:
                src, out = os.path.join(tmp, "lr.png"), os.path.join(tmp, "out.png")
                Image.fromarray(u8(lr)).save(src)
                subprocess.run([nic, "upscale", src, out, "--size", f"{w}x{h}", "--method", "liff",
                                "--threads", str(threads)], check=True, capture_output=True)
                r["nic"] = psnr_u8(to_tensor(load_rgb(out)), hr)
            rows[key(fx, fy)].append(r)
    summary = {}
    for k, rs in rows.items():
        mean = {m: float(np.mean([r[m] for r in rs])) for m in rs[0] if m != "image"}
        mean["gain_over_bicubic"] = mean["liff"] - mean["bicubic"]
        mean["gain_over_bicubic_nic"] = mean["liff"] - mean["bicubic_nic"]
        summary[k] = {m: round(v, 3) for m, v in mean.items()}
    return summary, rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", required=True, help="holdout or a folder of images")
    p.add_argument("--run")
    p.add_argument("--model", default=os.path.join(REPO, "models", "liff", "liff_rgb_c16.safetensors"))
    p.add_argument("--nic", help="nic binary: also measure the Swift inference")
    p.add_argument("--factors", default=FACTORS, help="x factors, or x:y pairs (default %(default)s)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="write per-image results here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net = load_model(a.run, None if a.run else a.model)
    files = images(a.set)
    summary, rows = measure(net, files, parse_factors(a.factors), a.nic, a.threads)
    print(f"{a.set}: {len(files)} images")
    cols = ["liff", "bicubic", "bicubic_nic"] + (["nic"] if a.nic else []) + ["gain_over_bicubic", "gain_over_bicubic_nic"]
    print("| factor (x:y) | " + " | ".join(cols) + " |")
    for k, v in summary.items():
        print(f"| {k} | " + " | ".join(f"{v[c]:.2f}" for c in cols) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"set": a.set, "summary": summary, "images": rows}, f, indent=1)


if __name__ == "__main__":
    main()
