#!/usr/bin/env python3
"""Golden fixtures for every network of a model directory (Swift parity tests).

  python3 training/aicodec/make_model_golden.py [--models models] [--out Tests/NICCoreTests/Fixtures/models]

For each weights file named in settings.json, runs the PyTorch network (rebuilt from the
architecture in the file's metadata) on a fixed pseudo-random luma input whose size is on
the network's block grid (chroma networks: a (Y, Cb, Cr) input on a 12-pixel grid, chroma as
(C - 128) / 255), and writes OUT/<weights stem>.safetensors with tensors `input`,
`output` and metadata `weights_sha256`, so that a fixture always belongs to one exact file.
ScalerNetworkGoldenTests (Swift) requires max abs error <= 1e-4 for each shipped network.
"""

import argparse
import hashlib
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.nets import ScalerNet  # noqa: E402
from training.aicodec.train_chroma import ChromaNet  # noqa: E402
from training.files import sha256  # noqa: E402

# Input sizes on each network's block grid (the Swift test feeds the same tensor).
INPUT_SIZE = {("up", "2"): (23, 31), ("down", "2"): (46, 62), ("up", "1.5"): (22, 30), ("down", "1.5"): (33, 45),
              ("chroma", "2"): (24, 36), ("chroma", "1.5"): (24, 36)}


def load(path):
    with safe_open(path, "pt") as f:
        arch = json.loads(f.metadata()["architecture"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return arch, tensors


def rebuild(arch, tensors):
    if arch["kind"] == "chroma":
        convs = [l for l in arch["layers"] if l["op"] == "conv2d"]
        net = ChromaNet(width=convs[0]["out_channels"], depth=len(convs), slope=convs[0]["negative_slope"],
                        block=arch["layers"][0]["factor"])
        net.load_state_dict(tensors)
        return net.eval()
    width = arch["layers"][1 if arch["layers"][0]["op"] == "pixel_unshuffle" else 0]["out_channels"]
    net = ScalerNet(arch["kind"], arch["scale"], width=width, depth=sum(l["op"] == "conv2d" for l in arch["layers"]))
    net.load_state_dict(tensors)
    return net.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    p.add_argument("--out", default=os.path.join(REPO, "Tests", "NICCoreTests", "Fixtures", "models"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.models, "settings.json")) as f:
        manifest = json.load(f)
    files = sorted({n["weights"] for s in manifest["settings"] for n in (s.get("down"), s.get("up"), *s.get("chroma", [])) if n})
    for name in files:
        path = os.path.join(a.models, name)
        arch, tensors = load(path)
        net = rebuild(arch, tensors)
        g = torch.Generator().manual_seed(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
        h, w = INPUT_SIZE[(arch["kind"], arch["scale"])]
        x = torch.rand(1, 3 if arch["kind"] == "chroma" else 1, h, w, generator=g)
        if arch["kind"] == "chroma":
            x[:, 1:] -= 0.5
        with torch.no_grad():
            y = net(x)
        sha = sha256(path)
        out = os.path.join(a.out, os.path.splitext(name)[0] + ".safetensors")
        save_file({"input": x.contiguous(), "output": y.contiguous()}, out,
                  metadata={"weights": name, "weights_sha256": sha, "generator": "training/aicodec/make_model_golden.py"})
        print(f"{out}: {tuple(x.shape)} -> {tuple(y.shape)}")


if __name__ == "__main__":
    main()
