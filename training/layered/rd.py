"""Rate-distortion of layered coding against its two references, in PyTorch (rate: the models'
likelihoods of the rounded symbols; PSNR: RGB, 8-bit):

- layered:      the top layer's PSNR against the bits of all layers (base + enhancement layers);
- simulcast:    every version coded on its own by the image codec, bits summed, the top one's PSNR;
- single layer: the top version alone coded by the image codec.

A configuration is the list of factors between neighbouring layers, smallest first; every
version is the bicubic antialiased down-scale of the picture, rounded to 8 bits.

  python3 training/layered/rd.py --ckpt training/runs/layered/r1/best.pt [--out measure.json]

measures a checkpoint of train.py (its fp32 residual codec and LIFF model) on train.py's hold-out
with the base record of --record (default: the record models/neural/codec.json names), at the
configurations and levels train.py validates with.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

if __name__ == "__main__":   # run as a script: the repository root, for the `training` package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bench.rdcurves import bd_rate  # noqa: E402
from training.layered.model import LayeredCodec, experiments, layer_sizes, round8  # noqa: E402
from training.metrics import psnr as psnr_of  # noqa: E402


def versions_of(picture, factors):
    """[(1, 3, h, w)] smallest first; the last one is the picture itself."""
    sizes = layer_sizes(picture.shape[-2:], factors)
    out = [round8(F.interpolate(picture, size=s, mode="bicubic", antialias=True, align_corners=False))
           for s in sizes[:-1]]
    return out + [picture]


def psnr(a, b):
    """RGB PSNR of two [0, 1] pictures, both rounded to 8 bits."""
    return psnr_of(torch.round(a * 255), torch.round(b * 255), 255)


@torch.no_grad()
def measure(codec, pictures, configs, levels, lower_offset=0.0):
    """{config name: {"levels", "layered", "simulcast", "single" (each: bpp and psnr lists, means
    over the pictures, bpp counted over the top layer's pixels), "bd_vs_simulcast",
    "bd_vs_single", "layer_psnr" (mean PSNR of every layer at each level)}}. `lower_offset`: the
    layers below the top one coded that many levels higher (LayeredCodec.code)."""
    codec.eval()
    results = {}
    for factors in configs:
        name = "x" + ",x".join(f"{f:g}" for f in factors)
        acc = {k: np.zeros((len(levels), 2)) for k in ("layered", "simulcast", "single")}
        layer_psnr = np.zeros((len(levels), len(factors) + 1))
        for picture in pictures:
            vs = versions_of(picture, factors)
            pixels = vs[-1].shape[-2] * vs[-1].shape[-1]
            for i, level in enumerate(levels):
                layers = codec.code(vs, level, lower_offset)
                acc["layered"][i] += (sum(b for b, _ in layers) / pixels, psnr(layers[-1][1], vs[-1]))
                layer_psnr[i] += [psnr(r, v) for (_, r), v in zip(layers, vs)]
                alone = [codec.code_base(v, level) for v in vs]
                acc["simulcast"][i] += (sum(b for b, _ in alone) / pixels, psnr(alone[-1][1], vs[-1]))
                acc["single"][i] += (alone[-1][0] / pixels, psnr(alone[-1][1], vs[-1]))
        n = len(pictures)
        curves = {k: {"bpp": (v[:, 0] / n).round(5).tolist(), "psnr": (v[:, 1] / n).round(3).tolist()}
                  for k, v in acc.items()}
        lay = curves["layered"]
        results[name] = {
            "levels": list(levels), **curves,
            "bd_vs_simulcast": bd_rate(curves["simulcast"]["bpp"], curves["simulcast"]["psnr"], lay["bpp"], lay["psnr"]),
            "bd_vs_single": bd_rate(curves["single"]["bpp"], curves["single"]["psnr"], lay["bpp"], lay["psnr"]),
            "layer_psnr": (layer_psnr / n).round(3).tolist(),
        }
    return results


def main():
    from training.files import layered_base_record
    from training.layered import train
    from training.liff.measure import load_model as load_liff
    from training.neural.encoder_optimisation import load_record

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="best.pt or last.pt of training/layered/train.py")
    p.add_argument("--record", default=layered_base_record(os.path.join(repo, "models")),
                   help="the base codec (default: the base models/layered/residual.json names)")
    p.add_argument("--liff", default=os.path.join(repo, "models/liff/liff_rgb_c16.safetensors"))
    p.add_argument("--crop", type=int, default=384)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="write the full measurement here (JSON)")
    p.add_argument("--lower-offset", type=float, default=0.0,
                   help="code the layers below the top one this many quality levels higher (0 = one level for all)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    residual = load_record(a.record)
    residual.load_state_dict(ck["residual"])
    modules = experiments(residual, ck.get("fusion_shape"), ck.get("condition_hidden"), ck.get("lower_prior_hidden"))
    for name, module in zip(("fusion", "condition", "lower_prior"), modules):
        if module is not None:
            module.load_state_dict(ck[name])
    codec = LayeredCodec(load_record(a.record), load_liff(model=a.liff), residual, *modules)
    codec.liff.load_state_dict(ck["liff"])
    _, pictures = train.hold_out(a.crop)
    val = measure(codec, pictures, train.VAL_CONFIGS, train.VAL_LEVELS, a.lower_offset)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(val, f, indent=1)
    print(f"step {ck['state']['step']}, base {os.path.basename(a.record)}, lower layers {a.lower_offset:+g} levels")
    for name, v in val.items():
        print(f"{name}: {v['bd_vs_simulcast']:+.2f}% vs simulcast, {v['bd_vs_single']:+.2f}% vs single layer; "
              f"layered bpp {v['layered']['bpp']} dB {v['layered']['psnr']}; "
              f"single bpp {v['single']['bpp']} dB {v['single']['psnr']}")


if __name__ == "__main__":
    main()
