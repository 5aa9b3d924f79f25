#!/usr/bin/env python3
"""Write the residual codec of record of a layered training run: fp16 safetensors + JSON manifest.

  python3 training/layered/export.py --ckpt training/runs/layered/r1/best.pt --out models/layered/residual_n64m96

writes OUT.safetensors, a neural codec record in exactly the layout of
training/neural/export_record.py (its table builders are reused; the Gaussian scale table is the
base record's, so both codecs share their y tables' scales), and residual.json beside it:

  {"model": FILE, "sha256": HEX, "liff": {"model", "sha256"}, "base": {"model", "sha256"},
   "step": N, "hold_out": {the run's validation at that step}}

libnic loads the residual codec and the base layer's record that residual.json names (the base
from models/neural) and verifies their sha256: the manifest records the LIFF model and the base
record the residual codec was trained with.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
from training.files import layered_base_record, sha256  # noqa: E402
from training.liff.measure import load_model as load_liff  # noqa: E402
from training.neural import export_record as R  # noqa: E402
from training.neural.encoder_optimisation import load_record  # noqa: E402
from training.neural.model import describe, inference_state_dict, load_inference_state_dict  # noqa: E402


def manifest_entry(path):
    """{"model", "sha256"} of the file that the manifest JSON at `path` names."""
    with open(path) as f:
        m = json.load(f)
    return {"model": m["model"], "sha256": m["sha256"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="best.pt or last.pt of training/layered/train.py")
    p.add_argument("--out", required=True, help="output path without suffix (or ending in .safetensors)")
    p.add_argument("--record", default=layered_base_record(os.path.join(REPO, "models")),
                   help="the base record the run was trained with (architecture, gain ladder, scale table), a "
                        "file of models/neural (default: the base models/layered/residual.json names now)")
    p.add_argument("--liff", default=os.path.join(REPO, "models/liff/liff_rgb_c16.safetensors"))
    a = p.parse_args()

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    if ck.get("fusion") is not None:
        sys.exit("the checkpoint conditions the reconstruction on the prediction (--fusion), which libnic does not run")
    if ck.get("condition") is not None:
        sys.exit("the checkpoint conditions the residual's transforms on the prediction (--condition), "
                 "which libnic does not run")
    if ck.get("lower_prior") is not None:
        sys.exit("the checkpoint's entropy model reads the layer below (--lower-prior), which libnic does not run")
    shipped = load_liff(model=a.liff).state_dict()
    if any(not torch.equal(shipped[k], v) for k, v in ck["liff"].items()):
        sys.exit("the checkpoint's LIFF model differs from --liff (trained with --liff-lr): export that one first")
    model = load_record(a.record)
    model.load_state_dict(ck["residual"])
    model.eval()

    out = a.out[:-len(".safetensors")] if a.out.endswith(".safetensors") else a.out
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    tensors = {k: v.to(torch.float16).contiguous() for k, v in inference_state_dict(model).items()}
    load_inference_state_dict(model, tensors)   # the tables of the fp16 prior that is shipped
    model.eval()
    zc, zo, zm = R.pack(R.z_tables(model))
    tensors.update({"entropy.z.cdf": zc, "entropy.z.cdf_offsets": zo, "entropy.z.symbol_min": zm})
    with safe_open(a.record, "pt") as f:
        scale_table = f.get_tensor("entropy.y.scale_table").to(torch.float64).numpy()
        base_entropy = json.loads(f.metadata()["architecture"])["entropy"]
    yc, yo, ym = R.pack(R.gaussian_tables(scale_table))
    tensors.update({"entropy.y.scale_table": torch.from_numpy(scale_table.astype(np.float32)),
                    "entropy.y.cdf": yc, "entropy.y.cdf_offsets": yo, "entropy.y.symbol_min": ym})
    arch = describe(model)
    arch["entropy"] = base_entropy
    arch["role"] = "residual codec of layered coding: codes version_k - LIFF(recon_(k-1)), added before clamping"
    save_file(tensors, out + ".safetensors",
              metadata={"format": "libnic-neural-codec-1", "architecture": json.dumps(arch)})

    def entry(path, manifest):
        e = manifest_entry(manifest)
        if e["sha256"] != sha256(path):
            sys.exit(f"{path} is not the model {manifest} names")
        return e

    def base_entry(path):
        if os.path.dirname(os.path.abspath(path)) != os.path.join(REPO, "models", "neural"):
            sys.exit(f"{path}: the base record must be a file of models/neural, where libnic loads it from")
        return {"model": os.path.basename(path), "sha256": sha256(path)}

    val = ck.get("val") or {}
    side = {
        "model": os.path.basename(out) + ".safetensors", "sha256": sha256(out + ".safetensors"),
        "bytes": os.path.getsize(out + ".safetensors"),
        "liff": entry(a.liff, os.path.join(REPO, "models/liff/liff.json")),
        "base": base_entry(a.record),
        "step": ck["state"]["step"], "train_minutes": round(ck["state"]["elapsed"] / 60, 1),
        "hold_out": {
            "measure": "training/layered/rd.py measure (fp32 weights): top layer, BD-rate % against simulcast "
                       "and against single-layer coding, levels 0, 3, 6, 9, 384x384 central crops",
            **{name: {"bd_vs_simulcast": round(v["bd_vs_simulcast"], 2), "bd_vs_single": round(v["bd_vs_single"], 2)}
               for name, v in val.items()}},
    }
    with open(os.path.join(folder, "residual.json"), "w") as f:
        json.dump(R.portable(side), f, indent=1)
        f.write("\n")
    print(f"wrote {out}.safetensors ({side['bytes']} bytes, step {side['step']}) and residual.json")


if __name__ == "__main__":
    main()
