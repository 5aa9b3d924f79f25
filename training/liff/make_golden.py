#!/usr/bin/env python3
"""Golden fixture of the LIFF up-scaler for the Swift parity test (LIFFUpscalerTests).

  python3 training/liff/make_golden.py [--out Tests/NICCoreTests/Fixtures/liff_tiny.safetensors]

A tiny LIFF (model.py; 4 feature channels, seeded random weights, last layers scaled up so that the
filter part is not negligible) stored as a model file (tensors = state_dict keys, metadata
"architecture"), plus a pseudo-random 9x7 RGB input `input` (1, 3, 7, 9) and its outputs
`output_HxW` (float, before rounding) at sizes with different factors per axis, odd sizes and
the extremes x1 and x4. Swift must match within 1e-4.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.liff.model import LIFF  # noqa: E402

SIZES = [(17, 13), (28, 9), (10, 31), (7, 36)]   # (H, W) from 7x9: per-axis factors 1 ... 4


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "Tests", "NICCoreTests", "Fixtures", "liff_tiny.safetensors"))
    a = p.parse_args()
    torch.manual_seed(7)
    model = LIFF(channels=4, width=8, depth=3, hidden=16).eval()
    with torch.no_grad():
        model.mlp_x[4].weight.mul_(4)
        model.mlp_y[4].weight.mul_(4)
    g = torch.Generator().manual_seed(3)
    x = torch.round(torch.rand(1, 3, 7, 9, generator=g) * 255) / 255
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors["input"] = x
    with torch.no_grad():
        for h, w in SIZES:
            out = model(x, h, w)
            base = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
            print(f"{h}x{w}: residual mean abs {(out - base).abs().mean():.3f}")
            tensors[f"output_{h}x{w}"] = out.contiguous()
    save_file(tensors, a.out, metadata={"architecture": json.dumps(model.describe()),
                                        "sizes": json.dumps(SIZES)})
    print(a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
    main()
