#!/usr/bin/env python3
"""Write a wider copy of a checkpoint that computes what the narrower one does (model.grow).

    python3 training/neural/grow.py --from training/runs/neural/<run>/ckpt_latest.pt --M 192 \\
        --out training/runs/neural/<run>_m192/grown.pt

The output holds the model, the step, the history and the arguments with the new N and M (no
optimizer state): `export_record.py --ckpt` exports it, `train.py --init-from` starts from it.
`train.py --init-from SMALL --N N2 --M M2` grows by itself; this script is for exporting or
inspecting a grown model without training it. It also validates both models on the hold-out
(--validate LEVELS) to show that reconstruction and rate are unchanged.

    python3 training/neural/grow.py --from training/runs/neural/<grown run>/ckpt_latest.pt --usage 96

reports instead whether a grown model's new latent channels (index >= 96) are in use yet: on the
hold-out at --usage-levels, their share of the y bits, the fraction of their symbols that are not
0, and their mean |y| against the old channels' (gained domain).
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from model import from_args, grow  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="src", required=True, help="a .pt checkpoint written by train.py")
    p.add_argument("--N", type=int, default=None, help="new hidden / hyper-latent width (default: unchanged)")
    p.add_argument("--M", type=int, default=None, help="new latent width (default: unchanged)")
    p.add_argument("--Na", type=int, default=None, help="new hidden width of the analysis (default: max(new N, old))")
    p.add_argument("--seed", type=int, default=0, help="seed of the new units' random weights")
    p.add_argument("--out", help="the grown checkpoint (.pt)")
    p.add_argument("--usage", type=int, default=0, metavar="OLD_M",
                   help="report the use of the channels >= OLD_M of --from instead of growing")
    p.add_argument("--usage-levels", default="6,9")
    p.add_argument("--validate", default="", help="hold-out levels to validate both models at, e.g. '6,9'")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    ck = torch.load(a.src, map_location="cpu", weights_only=False)
    args = dict(ck["args"])
    src = from_args(args)
    src.load_state_dict(ck["model"])
    if a.usage:
        usage(src, args, a.usage, [int(v) for v in a.usage_levels.split(",")], ck["step"])
        return
    if not a.out:
        p.error("--out is required (or --usage)")
    n2, m2 = a.N or src.N, a.M or src.M
    dst = grow(src, n2, m2, seed=a.seed, Na2=a.Na or None)
    args.update(N=n2, M=m2, Na=dst.Na, grow_seed=a.seed)
    history = ck.get("history", []) + [{"grow": {"from": [src.N, src.M, src.Na], "to": [n2, m2, dst.Na],
                                                 "seed": a.seed}}]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save({"model": dst.state_dict(), "step": ck["step"], "train_seconds": ck.get("train_seconds", 0.0),
                "history": history, "args": args}, a.out)
    print(f"wrote {a.out}: N={src.N}, M={src.M}, Na={src.Na} -> N={n2}, M={m2}, Na={dst.Na}, step {ck['step']}")
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


@torch.no_grad()
def usage(model, args, old_m, levels, step):
    import train as T
    from model import gaussian_likelihood
    model.eval()
    ns = argparse.Namespace(data=args.get("data", data.DEFAULT_DATA), cache=args.get("cache", data.DEFAULT_CACHE),
                            val_max_side=768)
    _, val_names = data.split(data.list_images(ns.data))
    val = T.load_val(ns, val_names)
    for lv in levels:
        bits_all = bits_new = nonzero = count = y_new = y_old = 0.0
        level = torch.full((1,), float(lv))
        for _, x in val:
            yg, z_hat = model.gained_latents(model.g_a(T.pad64(x)), level)
            means, scales = model.hyper_params(z_hat, level)
            sym = torch.round(yg - means)
            bits = -torch.log2(gaussian_likelihood(sym + means, means, scales))[0]
            bits_all += float(bits.sum())
            bits_new += float(bits[old_m:].sum())
            nonzero += float((sym[0, old_m:] != 0).sum())
            count += sym[0, old_m:].numel()
            y_new += float(yg[0, old_m:].abs().mean()) / len(val)
            y_old += float(yg[0, :old_m].abs().mean()) / len(val)
        print(f"step {step} level {lv}: channels >= {old_m}: {bits_new / bits_all:.3g} of the y bits, "
              f"{nonzero / max(count, 1):.3g} of their symbols non-zero, mean |y| {y_new:.4f} "
              f"(channels < {old_m}: {y_old:.4f})")


if __name__ == "__main__":
    main()
