#!/usr/bin/env python3
"""Write a wider copy of a checkpoint that computes what the narrower one does (model.grow).

    python3 training/neural/grow.py --from training/runs/neural/<run>/ckpt_latest.pt --M 192 \\
        --out training/runs/neural/<run>_m192/grown.pt

The output holds the model, the step, the history and the arguments with the new N and M (no
optimizer state): `export_record.py --ckpt` exports it, `train.py --init-from` starts from it.
`train.py --init-from SMALL --N N2 --M M2` grows by itself; this script is for exporting or
inspecting a grown model without training it. It also validates both models on the hold-out
(--validate LEVELS) to show that reconstruction and rate are unchanged.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from model import MeanScaleHyperprior, grow, ladder  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="src", required=True, help="a .pt checkpoint written by train.py")
    p.add_argument("--N", type=int, default=None, help="new hidden / hyper-latent width (default: unchanged)")
    p.add_argument("--M", type=int, default=None, help="new latent width (default: unchanged)")
    p.add_argument("--seed", type=int, default=0, help="seed of the new units' random weights")
    p.add_argument("--out", required=True)
    p.add_argument("--validate", default="", help="hold-out levels to validate both models at, e.g. '6,9'")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    ck = torch.load(a.src, map_location="cpu", weights_only=False)
    args = dict(ck["args"])
    src = MeanScaleHyperprior(args.get("N", 64), args.get("M", 96), ladder(args.get("levels_below", 0)))
    src.load_state_dict(ck["model"])
    n2, m2 = a.N or src.N, a.M or src.M
    dst = grow(src, n2, m2, seed=a.seed)
    args.update(N=n2, M=m2, grow_seed=a.seed)
    history = ck.get("history", []) + [{"grow": {"from": [src.N, src.M], "to": [n2, m2], "seed": a.seed}}]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save({"model": dst.state_dict(), "step": ck["step"], "train_seconds": ck.get("train_seconds", 0.0),
                "history": history, "args": args}, a.out)
    print(f"wrote {a.out}: N={src.N}, M={src.M} -> N={n2}, M={m2}, step {ck['step']}")
    if a.validate:
        import train as T
        ns = argparse.Namespace(data=args.get("data", data.DEFAULT_DATA), cache=args.get("cache", data.DEFAULT_CACHE),
                                val_max_side=768)
        _, val_names = data.split(data.list_images(ns.data))
        val = T.load_val(ns, val_names)
        levels = [int(v) for v in a.validate.split(",")]
        for name, m in (("source", src), ("grown", dst)):
            for lv, r in T.validate(m, val, levels).items():
                print(f"{name} level {lv}: {r['bpp']:.6f} bpp  {r['psnr']:.4f} dB")


if __name__ == "__main__":
    main()
