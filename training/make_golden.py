#!/usr/bin/env python3
"""Write golden fixtures for the Swift inference engine (NICCore) parity tests.

Every fixture is one small safetensors file holding float32 NCHW tensors
`input` and `output` (plus `input2` for "add", and `output_gradient` and
`input_gradient` for "input_gradient"), the layer's parameters under the names
listed below, and string metadata:

  op      which operation produced `output` from `input`
  params  a JSON object with the operation's settings

The Swift tests load a file, rebuild the operation from `op`/`params` and the
parameter tensors, run it on `input` and compare with `output` (a small
absolute tolerance is needed: float32 sums are not associative).

Everything is deterministic: torch.manual_seed(0), plus a per-case generator
seeded from the case name, so adding a case does not change the others.
Regenerate with `python3 training/make_golden.py` (see training/README.md).
"""

import argparse
import json
import math
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "neural"))
from model import GDN as TrainedGDN  # noqa: E402

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "Tests", "NICCoreTests", "Fixtures")

DTYPE = torch.float32


# --------------------------------------------------------------------------
# Random helpers (all take an explicit generator)
# --------------------------------------------------------------------------

def uniform(gen, shape, lo=-1.0, hi=1.0):
    return torch.rand(shape, generator=gen, dtype=DTYPE) * (hi - lo) + lo


def kaiming(gen, shape, fan_in):
    """Kaiming-normal-like weights: std = sqrt(2 / fan_in)."""
    return torch.randn(shape, generator=gen, dtype=DTYPE) * math.sqrt(2.0 / fan_in)


def small_bias(gen, n, fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    return uniform(gen, (n,), -bound, bound)


# --------------------------------------------------------------------------
# GDN, written out explicitly
# --------------------------------------------------------------------------

def gdn(x, beta, gamma, inverse):
    """y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)   (GDN)
       y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)   (IGDN)"""
    # norm[n, i, h, w] = beta[i] + sum_j gamma[i, j] * x[n, j, h, w]^2
    norm = torch.einsum("ij,njhw->nihw", gamma, x * x) + beta.view(1, -1, 1, 1)
    root = torch.sqrt(norm)
    return x * root if inverse else x / root


class GDN(nn.Module):
    def __init__(self, channels, inverse=False):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels, dtype=DTYPE))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels, dtype=DTYPE))

    def forward(self, x):
        return gdn(x, self.beta, self.gamma, self.inverse)


def gdn_params(gen, c):
    beta = 1.0 + 0.1 * torch.rand((c,), generator=gen, dtype=DTYPE)
    gamma = 0.1 * torch.eye(c, dtype=DTYPE) + 0.02 * torch.rand((c, c), generator=gen, dtype=DTYPE)
    return beta, gamma


# --------------------------------------------------------------------------
# The 4-layer network (tensor names = its state_dict keys)
# --------------------------------------------------------------------------

class Net4(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.gdn = GDN(16)
        self.deconv = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.prelu = nn.PReLU(8)
        self.conv4 = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        y = self.gdn(self.conv2(y))
        y = self.prelu(self.deconv(y))
        return x + self.conv4(y)


NET4_DESCRIPTION = {
    "description": (
        "output = input + conv4(prelu(deconv(gdn(conv2(relu(conv1(input)))))))"),
    "layers": [
        "conv1: Conv2d(3, 8, kernel 3, stride 1, padding 1, bias) then ReLU",
        "conv2: Conv2d(8, 16, kernel 3, stride 2, padding 1, bias) then GDN(16) "
        "(gdn.beta [16], gdn.gamma [16,16], not inverse)",
        "deconv: ConvTranspose2d(16, 8, kernel 4, stride 2, padding 1, "
        "output_padding 0, bias; weight layout in,out,kH,kW) then PReLU(8) (prelu.weight [8])",
        "conv4: Conv2d(8, 3, kernel 3, stride 1, padding 1, bias)",
        "residual: output = input + conv4 output",
    ],
    "input_shape": [1, 3, 16, 20],
}


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append((fn.__name__, fn))
    return fn


def conv_case(gen, n, cin, cout, h, w, k, stride, padding, bias=True):
    x = uniform(gen, (n, cin, h, w))
    weight = kaiming(gen, (cout, cin, k, k), cin * k * k)
    tensors = {"input": x, "weight": weight}
    b = None
    if bias:
        b = small_bias(gen, cout, cin * k * k)
        tensors["bias"] = b
    tensors["output"] = F.conv2d(x, weight, b, stride=stride, padding=padding)
    params = {"in_channels": cin, "out_channels": cout, "kernel": k,
              "stride": stride, "padding": padding, "dilation": 1, "groups": 1,
              "bias": bias, "weight_layout": "OIHW"}
    return "conv2d", params, tensors


def convt_case(gen, cin, cout, h, w, k, stride, padding, output_padding, bias=True):
    x = uniform(gen, (1, cin, h, w))
    # Effective fan-in of a transposed convolution: each output sees about
    # cin * k * k / stride^2 inputs.
    fan_in = max(1, cin * k * k // (stride * stride))
    weight = kaiming(gen, (cin, cout, k, k), fan_in)
    tensors = {"input": x, "weight": weight}
    b = None
    if bias:
        b = small_bias(gen, cout, fan_in)
        tensors["bias"] = b
    tensors["output"] = F.conv_transpose2d(x, weight, b, stride=stride, padding=padding,
                                           output_padding=output_padding)
    params = {"in_channels": cin, "out_channels": cout, "kernel": k,
              "stride": stride, "padding": padding, "output_padding": output_padding,
              "dilation": 1, "groups": 1, "bias": bias,
              "weight_layout": "in,out,kH,kW (PyTorch ConvTranspose2d)"}
    return "conv_transpose2d", params, tensors


@case
def conv_k1_s1(gen):
    return conv_case(gen, 1, 4, 6, 9, 11, k=1, stride=1, padding=0)


@case
def conv_k3_s1_p1(gen):
    return conv_case(gen, 1, 5, 7, 10, 13, k=3, stride=1, padding=1)


@case
def conv_k5_s1_p2(gen):
    return conv_case(gen, 1, 4, 6, 9, 11, k=5, stride=1, padding=2)


@case
def conv_k3_s2_p1(gen):
    return conv_case(gen, 1, 4, 6, 11, 9, k=3, stride=2, padding=1)


@case
def conv_k5_s2_p2(gen):
    return conv_case(gen, 1, 4, 5, 11, 9, k=5, stride=2, padding=2)


@case
def conv_k3_s1_p0_nobias(gen):
    return conv_case(gen, 1, 4, 6, 9, 11, k=3, stride=1, padding=0, bias=False)


@case
def conv_k3_s1_p1_batch2(gen):
    return conv_case(gen, 2, 4, 6, 9, 11, k=3, stride=1, padding=1)


@case
def convT_k4_s2_p1(gen):
    return convt_case(gen, 6, 4, 5, 7, k=4, stride=2, padding=1, output_padding=0)


@case
def convT_k5_s2_p2_op1(gen):
    return convt_case(gen, 5, 3, 5, 7, k=5, stride=2, padding=2, output_padding=1)


@case
def convT_k3_s1_p1(gen):
    return convt_case(gen, 4, 4, 6, 9, k=3, stride=1, padding=1, output_padding=0)


@case
def pixel_shuffle_2(gen):
    x = uniform(gen, (1, 8, 5, 7))
    return "pixel_shuffle", {"factor": 2}, {"input": x, "output": F.pixel_shuffle(x, 2)}


@case
def pixel_shuffle_3(gen):
    x = uniform(gen, (1, 18, 4, 5))
    return "pixel_shuffle", {"factor": 3}, {"input": x, "output": F.pixel_shuffle(x, 3)}


@case
def pixel_unshuffle_2(gen):
    x = uniform(gen, (1, 3, 10, 12))
    return "pixel_unshuffle", {"factor": 2}, {"input": x, "output": F.pixel_unshuffle(x, 2)}


@case
def relu(gen):
    x = uniform(gen, (1, 4, 9, 11))
    return "relu", {}, {"input": x, "output": F.relu(x)}


@case
def leaky_relu(gen):
    x = uniform(gen, (1, 4, 9, 11))
    return ("leaky_relu", {"negative_slope": 0.1},
            {"input": x, "output": F.leaky_relu(x, 0.1)})


@case
def prelu(gen):
    x = uniform(gen, (1, 4, 9, 11))
    weight = uniform(gen, (4,), -0.3, 0.5)
    return ("prelu", {"channels": 4},
            {"input": x, "weight": weight, "output": F.prelu(x, weight)})


@case
def gdn_case(gen):
    x = uniform(gen, (1, 6, 9, 11))
    beta, gamma = gdn_params(gen, 6)
    return ("gdn", {"inverse": False, "channels": 6},
            {"input": x, "beta": beta, "gamma": gamma, "output": gdn(x, beta, gamma, False)})


@case
def igdn_case(gen):
    x = uniform(gen, (1, 6, 9, 11))
    beta, gamma = gdn_params(gen, 6)
    return ("gdn", {"inverse": True, "channels": 6},
            {"input": x, "beta": beta, "gamma": gamma, "output": gdn(x, beta, gamma, True)})


def resize_case(gen, shape, size, mode, antialias):
    x = uniform(gen, shape)
    y = F.interpolate(x, size=tuple(size), mode=mode, align_corners=False,
                      antialias=antialias)
    params = {"mode": mode, "size": list(size), "align_corners": False,
              "antialias": antialias}
    if mode == "bicubic":
        # What PyTorch actually does (checked against a plain reimplementation):
        # without antialias, Keys cubic a = -0.75 on the 4 nearest samples with
        # indices clamped to the border (values may overshoot [-1, 1]); with
        # antialias, a = -0.5, the kernel is stretched by max(scale, 1) and the
        # weights are normalised to sum to 1 (PIL-style).
        params["cubic_coeff_a"] = -0.5 if antialias else -0.75
    params["note"] = ("sample centres: src = (dst + 0.5) * in/out - 0.5 "
                      "(half-pixel, align_corners false)")
    return "resize", params, {"input": x, "output": y}


@case
def resize_bicubic_up2(gen):
    return resize_case(gen, (1, 3, 7, 9), (14, 18), "bicubic", False)


@case
def resize_bicubic_up_frac(gen):
    return resize_case(gen, (1, 3, 7, 9), (16, 12), "bicubic", False)


@case
def resize_bicubic_down2(gen):
    return resize_case(gen, (1, 3, 12, 16), (6, 8), "bicubic", False)


@case
def resize_bilinear_up2(gen):
    return resize_case(gen, (1, 3, 7, 9), (14, 18), "bilinear", False)


@case
def resize_bilinear_frac(gen):
    return resize_case(gen, (1, 3, 7, 9), (13, 5), "bilinear", False)


@case
def resize_bicubic_aa_down(gen):
    return resize_case(gen, (1, 1, 24, 30), (10, 13), "bicubic", True)


@case
def resize_bilinear_aa_down(gen):
    return resize_case(gen, (1, 2, 24, 30), (9, 11), "bilinear", True)


@case
def add(gen):
    a = uniform(gen, (1, 4, 9, 11))
    b = uniform(gen, (1, 4, 9, 11))
    return "add", {}, {"input": a, "input2": b, "output": a + b}


@case
def net4(gen):
    net = Net4()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("gdn."):
                continue
            if name == "prelu.weight":
                p.copy_(uniform(gen, p.shape, 0.05, 0.4))
            elif name.endswith(".weight"):
                if name.startswith("deconv"):
                    cin, _, k, _ = p.shape
                    fan_in = cin * k * k // 4
                else:
                    fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(kaiming(gen, p.shape, fan_in))
            else:
                p.copy_(uniform(gen, p.shape, -0.1, 0.1))
        beta, gamma = gdn_params(gen, 16)
        net.gdn.beta.copy_(beta)
        net.gdn.gamma.copy_(gamma)
        x = uniform(gen, (1, 3, 16, 20))
        y = net(x)
    tensors = {k: v.detach() for k, v in net.state_dict().items()}
    tensors["input"] = x
    tensors["output"] = y
    return "net4", NET4_DESCRIPTION, tensors


# --------------------------------------------------------------------------
# Input gradients of small stacks shaped like the codec's transforms
# --------------------------------------------------------------------------

def gradient_case(gen, specs, input_shape):
    """The gradient of sum(output * output_gradient) with respect to the input of a stack of
    layers with fixed weights (PyTorch autograd).

    `specs` lists the layers: ("conv2d", cin, cout, k, stride, padding),
    ("conv_transpose2d", cin, cout, k, stride, padding, output_padding), ("gdn", channels, inverse)
    (the GDN of training/neural/model.py), ("leaky_relu", slope) or ("residual", [specs]), x + the
    inner stack of x. Layer i's tensors are `<i>.weight` and `<i>.bias` (ConvTranspose2d weights
    in,out,kH,kW) or `<i>.beta` and `<i>.gamma` (the effective values the model computes with), a
    residual's inner layer j's `<i>.<j>.*`; params["layers"] describes them."""
    net, layers, tensors = gradient_stack(gen, specs, "")
    x = uniform(gen, input_shape, -2.0, 2.0)
    with torch.enable_grad():
        leaf = x.clone().requires_grad_(True)
        y = net(leaf)
        g = uniform(gen, tuple(y.shape))
        (grad,) = torch.autograd.grad((y * g).sum(), leaf)
    tensors.update(input=x, output=y.detach(), output_gradient=g, input_gradient=grad)
    return "input_gradient", {"layers": layers}, tensors


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def gradient_stack(gen, specs, prefix):
    """(module, layer descriptions, tensors) of gradient_case's `specs`, tensor names after `prefix`."""
    modules, layers, tensors = [], [], {}
    for i, spec in enumerate(specs):
        kind, name = spec[0], f"{prefix}{i}"
        if kind == "residual":
            body, inner, inner_tensors = gradient_stack(gen, spec[1], name + ".")
            m = Residual(body)
            tensors.update(inner_tensors)
            layers.append({"type": kind, "layers": inner})
        elif kind == "leaky_relu":
            m = nn.LeakyReLU(spec[1])
            layers.append({"type": kind, "negative_slope": spec[1]})
        elif kind == "gdn":
            _, c, inverse = spec
            m = TrainedGDN(c, inverse=inverse)
            beta = 0.5 + 0.5 * torch.rand((c,), generator=gen, dtype=DTYPE)
            # Off-diagonal terms as large as a trained model's, and not symmetric.
            gamma = 0.1 * torch.eye(c, dtype=DTYPE) + 0.1 * torch.rand((c, c), generator=gen, dtype=DTYPE)
            m.set_effective(beta, gamma)
            tensors[f"{name}.beta"] = m.beta().detach()
            tensors[f"{name}.gamma"] = m.gamma().detach()
            layers.append({"type": kind, "channels": c, "inverse": inverse})
        else:
            if kind == "conv2d":
                _, cin, cout, k, stride, padding = spec
                m = nn.Conv2d(cin, cout, k, stride=stride, padding=padding)
                fan_in = cin * k * k
                layers.append({"type": kind, "in_channels": cin, "out_channels": cout, "kernel": k,
                               "stride": stride, "padding": padding})
            else:
                _, cin, cout, k, stride, padding, output_padding = spec
                m = nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=padding, output_padding=output_padding)
                fan_in = max(1, cin * k * k // (stride * stride))
                layers.append({"type": kind, "in_channels": cin, "out_channels": cout, "kernel": k,
                               "stride": stride, "padding": padding, "output_padding": output_padding})
            m.weight.copy_(kaiming(gen, m.weight.shape, fan_in))
            m.bias.copy_(small_bias(gen, m.bias.shape[0], fan_in))
            tensors[f"{name}.weight"] = m.weight.detach()
            tensors[f"{name}.bias"] = m.bias.detach()
        modules.append(m)
    return nn.Sequential(*modules), layers, tensors


@case
def gradient_synthesis(gen):
    return gradient_case(gen, [("conv_transpose2d", 6, 5, 5, 2, 2, 1), ("gdn", 5, True),
                               ("conv_transpose2d", 5, 3, 5, 2, 2, 1)], (1, 6, 5, 7))


@case
def gradient_synthesis_residual(gen):
    return gradient_case(gen, [("conv_transpose2d", 6, 5, 5, 2, 2, 1), ("gdn", 5, True),
                               ("residual", [("conv2d", 5, 5, 3, 1, 1), ("leaky_relu", 0.01), ("conv2d", 5, 5, 3, 1, 1)]),
                               ("conv_transpose2d", 5, 3, 5, 2, 2, 1)], (1, 6, 5, 7))


@case
def gradient_analysis(gen):
    return gradient_case(gen, [("conv2d", 3, 6, 5, 2, 2), ("gdn", 6, False),
                               ("conv2d", 6, 5, 3, 1, 1)], (1, 3, 19, 27))


def canonicalize_header(path):
    """Rewrite the JSON header of a safetensors file with sorted keys.

    The safetensors writer emits `__metadata__` in hash-map order, which
    changes from run to run; sorting makes regenerated files byte-identical
    (no churn in git). Same content, so the header keeps its length and
    every data offset stays valid."""
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = f.read(n)
        obj = json.loads(header.decode("utf-8"))
        canon = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")
        if len(canon) > n:
            raise RuntimeError(f"{path}: canonical header longer than the original")
        canon += b" " * (n - len(canon))
        f.seek(8)
        f.write(canon)


# Cases whose Python function name differs from the file name.
FILE_NAMES = {"gdn_case": "gdn", "igdn_case": "igdn"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT,
                    help="output folder (default: Tests/NICCoreTests/Fixtures in the repository)")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    torch.set_num_threads(1)  # bitwise-reproducible reductions
    os.makedirs(args.out, exist_ok=True)

    total = 0
    with torch.no_grad():
        for fname, fn in CASES:
            name = FILE_NAMES.get(fname, fname)
            gen = torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))
            op, params, tensors = fn(gen)
            for key, t in tensors.items():
                assert t.dtype == torch.float32, (name, key, t.dtype)
                assert torch.isfinite(t).all(), (name, key)
            tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
            metadata = {"op": op, "params": json.dumps(params, sort_keys=True),
                        "generator": "training/make_golden.py",
                        "torch_version": torch.__version__}
            path = os.path.join(args.out, name + ".safetensors")
            save_file(tensors, path, metadata=metadata)
            canonicalize_header(path)
            size = os.path.getsize(path)
            total += size
            shapes = " ".join(f"{k}{list(v.shape)}" for k, v in sorted(tensors.items()))
            print(f"{path}  {size:7d} bytes  {op}  {shapes}")
    print(f"total: {len(CASES)} files, {total} bytes")
    if total >= 1 << 20:
        print("error: fixtures exceed 1 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
