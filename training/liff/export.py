#!/usr/bin/env python3
"""Export a LIFF training run as the model of record: models/liff/<name>.safetensors + models/liff/liff.json.

  python3 training/liff/export.py training/runs/liff/c16 [--checkpoint best.pt] [--name liff_rgb_c16]

The safetensors file holds the state_dict (float32; names = state_dict keys, as the Swift engine reads
them) and, in its metadata, the architecture (model.py `describe`: the feature convolutions, the two
filter MLPs, the unfold and the bicubic base). liff.json names the file and its sha256 (libnic
verifies both before loading: ModelStore.liffNetwork) and records how it was made: the training
command and config, steps, minutes and the hold-out PSNR of the checkpoint.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.files import save_json, sha256  # noqa: E402
from training.liff.model import LIFF  # noqa: E402


def load(run, checkpoint):
    ck = torch.load(os.path.join(run, checkpoint), weights_only=False)
    model = LIFF(**ck["config"])
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--checkpoint", default="best.pt")
    p.add_argument("--name", default="liff_rgb_c16")
    p.add_argument("--out", default=os.path.join(REPO, "models", "liff"))
    a = p.parse_args()
    model, ck = load(a.run, a.checkpoint)
    os.makedirs(a.out, exist_ok=True)
    arch = model.describe()
    path = os.path.join(a.out, a.name + ".safetensors")
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={"architecture": json.dumps(arch), "format": "libnic-liff-1"})
    with open(os.path.join(a.run, "config.json")) as f:
        cfg = json.load(f)
    record = {"model": os.path.basename(path), "sha256": sha256(path), "bytes": os.path.getsize(path),
              "dtype": "float32", "parameters": sum(t.numel() for t in tensors.values()), "architecture": arch,
              "training": {"command": cfg["command"], "checkpoint": a.checkpoint, "steps": ck["state"]["step"],
                           "minutes": round(ck["state"]["elapsed"] / 60, 1),
                           "config": {k: v for k, v in cfg.items() if k not in ("command", "run")}},
              "holdout_psnr_rgb": ck["val"]}
    save_json(os.path.join(a.out, "liff.json"), record)
    print(path, record["bytes"], "bytes,", record["parameters"], "parameters")


if __name__ == "__main__":
    main()
