#!/usr/bin/env python3
"""libnic's layered coder against the PyTorch model (model.py) on one picture, same weights.

  python3 training/layered/compare_swift.py PICTURE --scales 1.5,1.78 --level 6 [--nic .build/release/nic]

Codes PICTURE with `nic encode --scales` at the quality of the level (plain rounding, no search),
decodes every layer with `nic decode --layer K`, and prints per layer the bits and PSNR of both
against PyTorch's versions, and the PSNR between the two decoded pictures. Swift's bits are whole
layer streams (36 bytes of header and CRC each); it codes a colour correction in the base layer,
which PyTorch has not.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
from training.layered.model import LayeredCodec  # noqa: E402
from training.layered.rd import psnr, versions_of  # noqa: E402
from training.liff.measure import load_model as load_liff  # noqa: E402
from training.neural.encoder_optimisation import load_record  # noqa: E402

PLAIN = ["--refine", "0", "--dsq", "0", "--consistency", "0", "--fixed-point", "0"]


def tensor(path):
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).unsqueeze(0).float() / 255


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("picture")
    p.add_argument("--scales", required=True, help="factors between layers, smallest first, e.g. 1.5,1.78")
    p.add_argument("--level", type=int, default=6, help="a gain level; the quality is the level's own")
    p.add_argument("--nic", default=os.path.join(REPO, ".build/release/nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    a = p.parse_args()
    torch.set_num_threads(1)
    manifest = json.load(open(os.path.join(a.models, "layered/residual.json")))
    codec = LayeredCodec(load_record(os.path.join(a.models, "neural", manifest["base"]["model"])),
                         load_liff(model=os.path.join(a.models, "liff", manifest["liff"]["model"])),
                         load_record(os.path.join(a.models, "layered", manifest["model"])))
    codec.eval()
    levels = codec.base.levels
    if (99 * a.level) % (levels - 1):
        sys.exit(f"level {a.level} of {levels} is not an integer quality")
    quality = 1 + 99 * a.level // (levels - 1)
    factors = [float(f) for f in a.scales.split(",")]
    versions = versions_of(tensor(a.picture), factors)
    layers = codec.code(versions, a.level)
    with tempfile.TemporaryDirectory() as tmp:
        nic = os.path.join(tmp, "p.nic")
        run = dict(check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.nic, "encode", a.picture, nic, "--scales", a.scales, "--quality", str(quality),
                        "--models", a.models, *PLAIN], **run)
        info = json.loads(subprocess.check_output([a.nic, "info", nic, "--json"]))
        print(f"level {a.level} = quality {quality}")
        for k, ((bits, rec), v) in enumerate(zip(layers, versions)):
            out = os.path.join(tmp, f"{k}.png")
            subprocess.run([a.nic, "decode", nic, out, "--layer", str(k), "--models", a.models], **run)
            swift = tensor(out)
            h, w = v.shape[-2:]
            print(f"layer {k} {w}x{h}: PyTorch {bits:.0f} bits {psnr(rec, v):.3f} dB, "
                  f"libnic {info['layers'][k]['bytes'] * 8} bits {psnr(swift, v):.3f} dB, "
                  f"libnic vs PyTorch {psnr(swift, rec):.2f} dB")


if __name__ == "__main__":
    main()
