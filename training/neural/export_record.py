#!/usr/bin/env python3
"""Write the checkpoint of record of a neural-codec run: fp16 safetensors + JSON sidecar.

  python3 training/neural/export_record.py --run base_n64m96 --out models/neural/nic_ms64_96
  python3 training/neural/export_record.py --ckpt training/runs/neural/x/ckpt_step50000.pt --out /tmp/rec

writes OUT.safetensors and OUT.json (OUT may also be given with the .safetensors suffix); with
--default also codec.json beside them, which makes this record the model `nic encode/decode` and
nic_image_encode/decode load (libnic verifies the sha256 it holds).

OUT.safetensors (metadata: format, architecture JSON)
  weights, float16, inference form (see model.py): g_a.* g_s.* h_a.* h_s.* (conv weight/bias,
  GDN beta/gamma), gain.{y,y_inv,z,z_inv} [levels, C]; entropy_bottleneck.* (float16, training only:
  lets train.py --init-from continue from the record).
  entropy tables (integer, computed once here so every machine codes with identical tables):
    entropy.z.cdf          int32, flat: per z channel c, the 16-bit CDF of its symbols
    entropy.z.cdf_offsets  int32 [N+1]: channel c's CDF is cdf[offsets[c]:offsets[c+1]]
    entropy.z.symbol_min   int32 [N]: value of the channel's first symbol
    entropy.y.scale_table  float32 [S]: Gaussian scales; table i models round(y - mean) ~ N(0, scale_table[i])
    entropy.y.cdf, entropy.y.cdf_offsets [S+1], entropy.y.symbol_min [S]: the same layout, per table
  Every CDF has n+2 entries for n in-range symbols plus one escape symbol (index n): cdf[0] = 0,
  cdf[n+1] = 65536, every frequency >= 1. Symbol value v maps to index v - symbol_min when
  0 <= v - symbol_min < n, otherwise the coder writes the escape symbol and codes v in bypass.

OUT.json: step, train hours, the commands that produced the weights, config, architecture,
  validation on the hold-out (fresh, all levels, unless --no-validate) and the learning curve
  (val.jsonl), tensor list, sha256 and size of the safetensors file.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def portable(obj):
    """The sidecar with absolute paths made relative to the repository (../shared/... beside it),
    so that a committed record names no machine-specific folder."""
    if isinstance(obj, dict):
        return {k: portable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [portable(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/") and os.path.isabs(obj):
        return os.path.relpath(obj, REPO)
    return obj
sys.path.insert(0, HERE)
sys.path.insert(1, REPO)   # the repository root, for the `training` package (training.files)
import data  # noqa: E402
import checkpoint  # noqa: E402
from model import describe, from_args, from_record, inference_state_dict  # noqa: E402
import train as T  # noqa: E402
from training.files import save_json, sha256  # noqa: E402

PRECISION = 16
TAIL_MASS = 1e-9


def quantise_pmf(p, precision=PRECISION):
    """Probabilities (last one = escape) -> int CDF of length len(p)+1 summing to 2^precision,
    every frequency >= 1. Deterministic (float64 numpy, ties by index)."""
    total = 1 << precision
    p = np.maximum(np.asarray(p, dtype=np.float64), 0.0)
    p = p / p.sum()
    f = np.maximum(1, np.round(p * total)).astype(np.int64)
    diff = total - int(f.sum())
    order = np.argsort(-f, kind="stable")
    i = 0
    while diff != 0:                       # take from / give to the largest frequencies
        j = order[i % len(f)]
        if diff > 0:
            f[j] += 1
            diff -= 1
        elif f[j] > 1:
            f[j] -= 1
            diff += 1
        i += 1
    return np.concatenate([[0], np.cumsum(f)]).astype(np.int64)


def pack(tables):
    """[(symbol_min, cdf)] -> flat cdf, offsets, symbol_min (int32 tensors)."""
    offs, flat, mins = [0], [], []
    for smin, cdf in tables:
        flat.append(cdf)
        offs.append(offs[-1] + len(cdf))
        mins.append(smin)
    return (torch.from_numpy(np.concatenate(flat).astype(np.int32)),
            torch.from_numpy(np.array(offs, dtype=np.int32)),
            torch.from_numpy(np.array(mins, dtype=np.int32)))


def z_tables(model, radius=512):
    eb = model.entropy_bottleneck
    ks = np.arange(-radius, radius + 1)
    edges = torch.arange(-radius - 0.5, radius + 1.0, 1.0)      # k - 0.5 for k = -radius..radius+1
    cdf = eb.cdf_at(edges).numpy()                              # [C, 2R+2], float64
    tables = []
    for c in range(cdf.shape[0]):
        cc = cdf[c]
        pm = np.diff(cc)                                         # P(k) for k in ks
        lo = int(np.argmax(cc[1:] >= TAIL_MASS / 2))             # first k with cdf(k+0.5) >= tail/2
        hi = int(len(ks) - 1 - np.argmax((cc[:-1] <= 1 - TAIL_MASS / 2)[::-1]))
        hi = max(hi, lo)
        p = pm[lo:hi + 1]
        esc = max(0.0, 1.0 - float(p.sum()))
        tables.append((int(ks[lo]), quantise_pmf(np.append(p, esc))))
    return tables


def gaussian_tables(scale_table):
    tables = []
    mult = -float(torch.distributions.Normal(0, 1).icdf(torch.tensor(TAIL_MASS / 2, dtype=torch.float64)))
    phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))
    for s in scale_table:
        t = int(math.ceil(s * mult))
        p = np.array([phi((k + 0.5) / s) - phi((k - 0.5) / s) for k in range(-t, t + 1)])
        esc = max(0.0, 1.0 - float(p.sum()))
        tables.append((-t, quantise_pmf(np.append(p, esc))))
    return tables


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--run", help="run name under training/runs/neural/ (uses ckpt_latest.pt)")
    g.add_argument("--ckpt", help="a checkpoint .pt written by train.py or finetune_decoder.py, or a committed "
                                  "checkpoint .safetensors (checkpoint.py)")
    p.add_argument("--out", required=True, help="output path without suffix (or ending in .safetensors)")
    p.add_argument("--no-validate", action="store_true", help="skip the fresh hold-out validation")
    p.add_argument("--val-max-side", type=int, default=768)
    p.add_argument("--scales", type=int, default=64, help="Gaussian scale-table size")
    p.add_argument("--scale-max", type=float, default=256.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--encoder-from", metavar="RECORD",
                   help="ship the checkpoint's decoder with the encoder (g_a, h_a, the encoder's gains) of this "
                        "record, whose entropy model and hyper-synthesis must be the checkpoint's")
    p.add_argument("--default", action="store_true",
                   help="also point codec.json beside OUT at this record (the model `nic encode` uses), "
                        "for every quality; with --from-quality for the qualities from Q up")
    p.add_argument("--from-quality", type=int, default=None,
                   help="with --default: make this record the model of codec.json's quality range from Q "
                        "(2...100) up to the next range's, keeping the record and the other ranges")
    a = p.parse_args(argv)
    if a.from_quality is not None and not (a.default and 2 <= a.from_quality <= 100):
        p.error("--from-quality needs --default and a quality in 2...100")
    torch.set_num_threads(a.threads)

    ckpt_path = a.ckpt or os.path.join(T.RUNS, a.run, "ckpt_latest.pt")
    run_dir = os.path.dirname(os.path.abspath(ckpt_path))
    if ckpt_path.endswith(".safetensors"):
        # a committed checkpoint: resumable (checkpoint.write) or a record (train.py --milestone-form record)
        if checkpoint.is_resumable(ckpt_path):
            model, meta = checkpoint.read_model(ckpt_path)
            args = meta["args"]
        else:
            model = from_record(ckpt_path)
            with open(checkpoint.sidecar(ckpt_path)) as f:
                meta = json.load(f)
            args = meta["config"]
        ck = {"step": meta["step"], "train_seconds": meta.get("train_hours", 0.0) * 3600,
              "history": meta.get("history", []), "curve": meta.get("learning_curve", [])}
    else:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        args = ck["args"]
        model = from_args(args)
        model.load_state_dict(ck["model"])
    if args.get("context"):
        raise SystemExit(f"{ckpt_path} has a {args['context']} context model, which the Swift engine does not decode")
    if a.encoder_from:
        model = checkpoint.with_encoder_of(model, a.encoder_from)
        args = dict(args, Na=model.Na)
    model.eval()

    out = a.out[:-len(".safetensors")] if a.out.endswith(".safetensors") else a.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tensors = {k: v.to(torch.float16).contiguous() for k, v in inference_state_dict(model).items()}
    # the tables are built from the fp16-rounded prior, i.e. exactly the model that is shipped
    from model import load_inference_state_dict
    load_inference_state_dict(model, tensors)
    model.eval()
    zc, zo, zm = pack(z_tables(model))
    tensors.update({"entropy.z.cdf": zc, "entropy.z.cdf_offsets": zo, "entropy.z.symbol_min": zm})
    scale_table = np.exp(np.linspace(math.log(0.11), math.log(a.scale_max), a.scales))
    yc, yo, ym = pack(gaussian_tables(scale_table))
    tensors.update({"entropy.y.scale_table": torch.from_numpy(scale_table.astype(np.float32)),
                    "entropy.y.cdf": yc, "entropy.y.cdf_offsets": yo, "entropy.y.symbol_min": ym})
    arch = describe(model)
    arch["entropy"] = {"precision_bits": PRECISION, "tail_mass": TAIL_MASS, "escape": "last symbol of every CDF",
                       "z_symbols": "round(z) on the integer grid (no median offset)",
                       "y_scale_table": f"exp(linspace(log 0.11, log {a.scale_max}, {a.scales}))"}
    # written beside it first and renamed at the end: an interrupted export leaves the old record whole
    tmp = out + ".safetensors.tmp"
    save_file(tensors, tmp, metadata={"format": "libnic-neural-codec-1", "architecture": json.dumps(arch)})

    side = {"format": "libnic-neural-codec-1", "file": os.path.basename(out) + ".safetensors",
            "sha256": sha256(tmp), "bytes": os.path.getsize(tmp),
            "step": ck["step"], "total_steps_planned": args["total_steps"],
            "train_hours": round(ck.get("train_seconds", 0.0) / 3600, 3),
            "fid_weight": args.get("fid_weight", 0.0), "history": ck.get("history", []),
            "config": args, "architecture": arch,
            **({"encoder_from": checkpoint.record_reference(a.encoder_from)} if a.encoder_from else {}),
            "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                        for k, v in tensors.items()}}
    vpath = os.path.join(run_dir, "val.jsonl")
    if "curve" in ck:
        side["learning_curve"] = ck["curve"]
    elif os.path.exists(vpath):
        with open(vpath) as f:
            # a snapshot's record carries the curve up to its own step, not what the run did later
            points = [json.loads(l) for l in f if l.strip()]
            side["learning_curve"] = [p for p in points if p["step"] <= ck["step"]]
    if not a.no_validate:
        ns = argparse.Namespace(data=args.get("data", data.DEFAULT_DATA), cache=args.get("cache", data.DEFAULT_CACHE),
                                val_max_side=a.val_max_side)
        _, val_names = data.split(data.list_images(ns.data))
        levels = list(range(model.levels))
        side["validation"] = {
            "data": f"hold-out of ../shared/data/train (never trained on), centre crops <= {a.val_max_side}px",
            "images": val_names, "weights": "float16 record",
            "measure": "bpp from the model likelihoods with rounded latents; RGB PSNR of the 8-bit output",
            "levels": T.validate(model, T.load_val(ns, val_names), levels)}
        for l, r in side["validation"]["levels"].items():
            print(f"level {l}: {r['bpp']:.4f} bpp  {r['psnr']:.2f} dB")
    os.replace(tmp, out + ".safetensors")
    save_json(out + ".json", portable(side))
    print(f"wrote {out}.safetensors ({side['bytes']} bytes) and {out}.json (step {ck['step']})")
    if a.default:
        manifest = os.path.join(os.path.dirname(os.path.abspath(out)), "codec.json")
        entry = {"model": side["file"], "sha256": side["sha256"], "record": os.path.basename(out) + ".json"}
        if a.from_quality is not None:
            with open(manifest) as f:
                codec = json.load(f)
            ranges = [r for r in codec.get("ranges", []) if r["from_quality"] != a.from_quality]
            codec["ranges"] = sorted(ranges + [{"from_quality": a.from_quality, **entry}], key=lambda r: r["from_quality"])
            entry = codec
        with open(manifest, "w") as f:
            json.dump(entry, f, indent=1)
        print(f"wrote {manifest}")


if __name__ == "__main__":
    main()
