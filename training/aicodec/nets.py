"""The AI codec's scaling networks (ScalerNet) and their building blocks.

- Scale "2":   HR (2h, 2w)  <-> LR (h, w).
  Scale "1.5": HR (3h, 3w)  <-> LR (2h, 2w); 3x3 HR pixels map to 2x2 LR pixels (block mapping).
- Every network is `base + body`, base = bicubic resize (identity at scale "1") of the input to the output size
  (antialias=True for down-scaling, False for up-scaling; align_corners=False), body = optional
  PixelUnshuffle -> conv3x3 chain (LeakyReLU(0.1) after all but the last) -> optional PixelShuffle.
  Networks work on 1-channel luma in [0, 1].
"""

import json

import torch
import torch.nn as nn
import torch.nn.functional as F

# (unshuffle factor of the input, shuffle factor of the output) per (kind, scale)
SHUFFLE = {
    ("down", "2"): (2, 1),
    ("up", "2"): (1, 2),
    ("down", "1.5"): (3, 2),
    ("up", "1.5"): (2, 3),
    ("up", "1"): (2, 2),
}

DEFAULT_WIDTH = {
    ("down", "2"): 32,
    ("up", "2"): 16,
    ("down", "1.5"): 64,
    ("up", "1.5"): 32,
    ("up", "1"): 16,
}

# The exact scale factor (numerator, denominator) of each scale.
SCALE_RATIONAL = {"2": [2, 1], "1.5": [3, 2], "1": [1, 1]}


def out_size(kind, scale, h, w):
    if scale == "1":
        return (h, w)
    if scale == "2":
        return (h // 2, w // 2) if kind == "down" else (h * 2, w * 2)
    if scale == "1.5":
        return (h // 3 * 2, w // 3 * 2) if kind == "down" else (h // 2 * 3, w // 2 * 3)
    raise ValueError(scale)


def residual_convs(chans, slope):
    """3x3 convolutions chans[0] -> ... -> chans[-1] for a residual body: Kaiming-initialised for
    the leaky ReLUs between them, the last one zero, so that an untrained body adds nothing."""
    convs = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 1, bias=True) for a, b in zip(chans[:-1], chans[1:]))
    for c in convs[:-1]:
        nn.init.kaiming_normal_(c.weight, a=slope, nonlinearity="leaky_relu")
        nn.init.zeros_(c.bias)
    nn.init.zeros_(convs[-1].weight)
    nn.init.zeros_(convs[-1].bias)
    return convs


def run_convs(convs, h, slope):
    """The convolutions in turn, leaky ReLU between them (none after the last)."""
    for i, c in enumerate(convs):
        h = c(h)
        if i < len(convs) - 1:
            h = F.leaky_relu(h, slope)
    return h


class ScalerNet(nn.Module):
    """base (bicubic resize; identity at scale "1") + conv body with pixel (un)shuffle. Works on 1-channel luma in [0, 1]."""

    def __init__(self, kind, scale, width=None, depth=4, slope=0.1):
        super().__init__()
        assert (kind, scale) in SHUFFLE
        self.kind, self.scale, self.slope = kind, scale, slope
        self.r_in, self.r_out = SHUFFLE[(kind, scale)]
        self.width = width or DEFAULT_WIDTH[(kind, scale)]
        self.depth = depth
        chans = [self.r_in ** 2] + [self.width] * (depth - 1) + [self.r_out ** 2]
        self.convs = residual_convs(chans, slope)   # starts exactly at the bicubic route

    def base(self, x):
        if self.scale == "1":
            return x
        size = out_size(self.kind, self.scale, x.shape[-2], x.shape[-1])
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False,
                             antialias=(self.kind == "down"))

    def body(self, x):
        h = run_convs(self.convs, F.pixel_unshuffle(x, self.r_in) if self.r_in > 1 else x, self.slope)
        return F.pixel_shuffle(h, self.r_out) if self.r_out > 1 else h

    def forward(self, x):
        return self.base(x) + self.body(x)

    # --- description for the Swift engine ---
    def macs_per_lr_pixel(self):
        """Multiply-accumulates of the conv body per low-resolution pixel (base resize not counted)."""
        # convs run on the grid of the unshuffled input
        per_grid_px = sum(c.in_channels * c.out_channels * 9 for c in self.convs)
        if self.kind == "up":
            lr_px_per_grid_px = self.r_in ** 2          # up: input is LR
        else:
            lr_px_per_grid_px = self.r_out ** 2         # down: output is LR
        return per_grid_px / lr_px_per_grid_px

    def describe(self):
        layers = []
        if self.r_in > 1:
            layers.append({"op": "pixel_unshuffle", "factor": self.r_in})
        for i, c in enumerate(self.convs):
            layers.append({
                "op": "conv2d", "in_channels": c.in_channels, "out_channels": c.out_channels,
                "kernel": 3, "stride": 1, "padding": 1, "bias": True,
                "weight": f"convs.{i}.weight", "bias_tensor": f"convs.{i}.bias",
                "activation": ("leaky_relu" if i < len(self.convs) - 1 else None),
                "negative_slope": (self.slope if i < len(self.convs) - 1 else None),
            })
        if self.r_out > 1:
            layers.append({"op": "pixel_shuffle", "factor": self.r_out})
        if self.scale == "1":
            base = {"op": "identity"}
        else:
            base = {"op": "resize", "mode": "bicubic", "align_corners": False,
                    "antialias": self.kind == "down",
                    "cubic_coeff_a": -0.5 if self.kind == "down" else -0.75,
                    "size": "output size (exact: x2 -> /2 or *2; x1.5 -> *2/3 or *3/2)"}
        return {
            "kind": self.kind, "scale": self.scale,
            "scale_rational": SCALE_RATIONAL[self.scale],
            "block_mapping": {"2": {"hr": [2, 2], "lr": [1, 1]}, "1.5": {"hr": [3, 3], "lr": [2, 2]},
                              "1": {"hr": [2, 2], "lr": [2, 2]}}[self.scale],
            "input": {"planes": "Y", "range": [0.0, 1.0], "colour": "BT.601 full range (JPEG), Y = 0.299R+0.587G+0.114B"},
            "layers": layers,
            "residual_base": base,
            "output": "residual_base(input) + layers(input); clamp to [0, 1] when converting to 8 bits",
            "macs_per_lr_pixel": self.macs_per_lr_pixel(),
            "parameters": sum(p.numel() for p in self.parameters()),
        }


def load_safetensors_net(path):
    """A shipped network (models/NAME_{down,up}.safetensors, written by export.py) as a ScalerNet."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        arch = json.loads(f.metadata()["architecture"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    convs = [k for k in state if k.endswith(".weight")]
    width = state[convs[0]].shape[0]
    scale = next(k for k, v in SCALE_RATIONAL.items() if v == list(arch["scale_rational"]))
    net = ScalerNet(arch["kind"], scale, width, len(convs))
    net.load_state_dict(state)
    return net


def grown(net, width=None, depth=None):
    """`net` with more hidden channels and/or layers, starting from the trained net's function.
    New channels get Kaiming inputs and zero outputs (exact). New layers are identities before
    the last conv: exact for positive activations, while negative ones pass the extra leaky ReLU
    at slope² (about 1e-5 MSE on training crops behind the x2 up net, 0.05 of its body's signal)."""
    width, depth = width or net.width, depth or net.depth
    assert width >= net.width and depth >= net.depth
    big = ScalerNet(net.kind, net.scale, width, depth, net.slope)
    old = list(net.convs)
    with torch.no_grad():
        for new, src in zip(big.convs[:len(old) - 1], old[:-1]):     # hidden layers kept in place
            new.weight[:, src.in_channels:] = 0
            new.weight[:src.out_channels, :src.in_channels] = src.weight
            new.bias[:src.out_channels] = src.bias
        for c in big.convs[len(old) - 1:depth - 1]:                  # inserted identity layers
            c.weight.zero_()
            c.bias.zero_()
            for ch in range(width):
                c.weight[ch, ch, 1, 1] = 1.0
        last, src = big.convs[-1], old[-1]
        last.weight.zero_()
        last.weight[:, :src.in_channels] = src.weight
        last.bias.copy_(src.bias)
    return big
