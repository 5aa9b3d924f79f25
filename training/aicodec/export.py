#!/usr/bin/env python3
"""Export a trained run as safetensors (fp32, tensor names = state_dict keys) + a JSON sidecar.

  python3 training/aicodec/export.py training/runs/x2_joint --name x2_joint --out training/runs/export

writes OUT/NAME_down.safetensors (not for generic or restore runs), OUT/NAME_up.safetensors and OUT/NAME.json:
  networks.{down,up}: file, sha256, bytes, architecture (layer list for the Swift engine: op,
                      in/out channels, kernel, padding, activation, shuffle factors, residual base)
  training:           the command, config and steps of the run (and of the joint run it started from)
  validation:         hold-out PSNR with real JPEG (validate.py): AI (or generic) route vs bicubic route
                      vs full-resolution JPEG, per quality and as BD-rate (skip with --no-validate).
The architecture JSON is also stored in each safetensors file's metadata under "architecture".
A 1x restoration run (train_restore.py, mode "restore") has only its up net and no JPEG validation
(its measurements: eval_restore.py); its sidecar's crf_range is the bucket's CRFs it trained on.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.validate import load_nets, evaluate, table, DEFAULT_QUALITIES  # noqa: E402
from training.files import sha256  # noqa: E402


def write_net(net, path):
    arch = net.describe()
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, path, metadata={"architecture": json.dumps(arch), "format": "libnic-scaler-1"})
    return {"file": os.path.basename(path), "sha256": sha256(path), "bytes": os.path.getsize(path),
            "dtype": "float32", "architecture": arch}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--name", required=True)
    p.add_argument("--out", default="training/runs/export")
    p.add_argument("--qualities", default=",".join(map(str, DEFAULT_QUALITIES)))
    p.add_argument("--no-validate", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    down, up, cfg = load_nets(a.run)
    restore = cfg.get("mode") == "restore"
    generic = cfg.get("mode") == "generic"
    side = {"name": a.name, "scale": cfg["scale"], "mode": cfg.get("mode"),
            "quality_range": [cfg.get("qmin"), cfg.get("qmax")] if cfg.get("mode") == "finetune" else None,
            "networks": {}}
    if restore:
        side["crf_range"] = [cfg["crf_min"], cfg["crf_max"]]
    if down is not None and not generic:
        side["networks"]["down"] = write_net(down, os.path.join(a.out, f"{a.name}_down.safetensors"))
    side["networks"]["up"] = write_net(up, os.path.join(a.out, f"{a.name}_up.safetensors"))
    side["training"] = {"command": cfg.get("command"), "config": cfg}
    if cfg.get("init"):
        ic = os.path.join(cfg["init"], "config.json") if os.path.isdir(cfg["init"]) else None
        if ic and os.path.exists(ic):
            with open(ic) as f:
                side["training"]["init_config"] = json.load(f)
    if not a.no_validate and not restore:
        qs = [int(x) for x in a.qualities.split(",") if x]
        routes = ["generic" if generic else "ai", "bicubic", "full"]
        res = evaluate(down, up, cfg["scale"], qs, routes=routes, log=lambda s: print(s, file=sys.stderr))
        side["validation"] = {"data": "hold-out of ../shared/data/train (never trained on)",
                              "codec": "JPEG via PIL/libjpeg, 4:2:0, RGB; 'none' = 8-bit small image, no codec",
                              **res}
        print(table(res))
    with open(os.path.join(a.out, f"{a.name}.json"), "w") as f:
        json.dump(side, f, indent=1)
    print("wrote", os.path.join(a.out, a.name + ".json"))


if __name__ == "__main__":
    main()
