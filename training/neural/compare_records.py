#!/usr/bin/env python3
"""Neural codec records compared by the training code's own measure on a folder of images: the
rate from the model's likelihoods of the rounded latents and the RGB PSNR of the 8-bit output
(train.validate), per gain level, and the BD-rate of every record against the first.

  python3 training/neural/compare_records.py --data ../shared/data/eval/kodak \\
      --records OLD.safetensors models/neural/n64m96_104k.safetensors [--levels 0,2,4,6,8,9]

A model-only check (no encoder search, no entropy coder): what the real codec does with a record
is measured by bench/eval_neural.py. Whole images, padded to a multiple of 64 inside the model.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(1, REPO)
from bench.rdcurves import bd_rate  # noqa: E402
from training.neural.encoder_optimisation import load_record  # noqa: E402
from train import validate  # noqa: E402


def load_images(folder, limit):
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if limit:
        names = names[:limit]
    if not names:
        raise SystemExit(f"--data {folder}: no .png images")
    return [(n, torch.from_numpy(np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")).copy())
             .permute(2, 0, 1)[None].float() / 255.0) for n in names]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", nargs="+", required=True, help="record .safetensors files; the first is the reference")
    p.add_argument("--data", required=True, help="a folder of .png images")
    p.add_argument("--levels", default="0,2,4,6,8,9")
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    images = load_images(a.data, a.limit)
    levels = [int(v) for v in a.levels.split(",")]
    curves = {}
    with torch.no_grad():
        for path in a.records:
            r = validate(load_record(path), images, levels)
            curves[path] = [(r[str(lv)]["bpp"], r[str(lv)]["psnr"]) for lv in levels]
            print(json.dumps({"record": os.path.basename(path), "levels": {
                lv: {"bpp": round(b, 4), "psnr": round(q, 3)} for lv, (b, q) in zip(levels, curves[path])}}),
                flush=True)
    ref = curves[a.records[0]]
    for path in a.records[1:]:
        c = curves[path]
        bd = bd_rate([b for b, _ in ref], [q for _, q in ref], [b for b, _ in c], [q for _, q in c], "pchip")
        print(json.dumps({"bd_rate_percent": round(bd, 2), "record": os.path.basename(path),
                          "against": os.path.basename(a.records[0]), "images": len(images)}), flush=True)


if __name__ == "__main__":
    main()
