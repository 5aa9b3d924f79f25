"""LIFF: a local implicit filter function that up-scales an RGB picture by any factor in [1, 4].

    output(x, y) = bicubic(lr)(x, y) + sum_j  Wx[x, o, j] * Wy[y, o, j] * U[j, iy(y), ix(x)]

- features: a few 3x3 convolutions on the low-resolution picture (zero padding), `channels` maps;
- U: their 3x3 neighbourhood (edge pixels repeated), J = 9 * channels values per low-res pixel,
  taken at the output pixel's nearest low-res pixel ix = floor((x + 0.5) * w / W) (same for y);
- the filter, J weights per output channel o, comes from two small MLPs: Wx = mlp_x(2 rx, w/W, h/H)
  per output column and Wy = mlp_y(2 ry, h/H, w/W) per output row, where rx in [-0.5, 0.5) is the
  output pixel centre's offset from the centre of its nearest low-res pixel, in low-res pixels.

The filter depends only on the output pixel's column and row phase and on the scale, never on the
picture, and it is a product of a column part and a row part: inference evaluates mlp_x once per
output column and mlp_y once per output row (at most W + H evaluations, fewer when phases repeat),
never once per output pixel. Per output pixel the work is 2 * J multiply-adds per channel.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def nearest_grid(lr_size, out_size, device=None):
    """(index, offset) of every output position along one axis: the nearest low-res pixel
    floor((i + 0.5) * n / m) and the offset of the output centre from its centre, in [-0.5, 0.5),
    in low-res pixels. Integer arithmetic, identical to the Swift inference."""
    n, m = lr_size, out_size
    i = torch.arange(m, dtype=torch.int64, device=device)
    num = (2 * i + 1) * n                      # output centre * 2m, in low-res pixels
    index = num // (2 * m)
    offset = (num - (2 * index + 1) * m).to(torch.float32) / (2 * m)
    return index, offset


class LIFF(nn.Module):
    def __init__(self, channels=16, width=32, depth=4, hidden=64, out_channels=3):
        super().__init__()
        self.channels, self.width, self.depth, self.hidden, self.out_channels = channels, width, depth, hidden, out_channels
        convs, c_in = [], 3
        for k in range(depth):
            c_out = channels if k == depth - 1 else width
            convs.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            c_in = c_out
        self.features = nn.ModuleList(convs)
        self.taps = 9 * channels
        self.mlp_x = self._mlp(hidden, out_channels * self.taps)
        self.mlp_y = self._mlp(hidden, out_channels * self.taps)

    @staticmethod
    def _mlp(hidden, out):
        return nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def extract(self, lr):
        """(N, 3, h, w) in [0, 1] -> (N, channels, h, w)."""
        x = lr
        for k, conv in enumerate(self.features):
            x = conv(x)
            if k < self.depth - 1:
                x = F.relu(x)
        return x

    @staticmethod
    def unfold(feat):
        """(N, C, h, w) -> (N, 9C, h, w): the 3x3 neighbourhood, edge pixels repeated; channel
        index c * 9 + (dy + 1) * 3 + (dx + 1)."""
        n, c, h, w = feat.shape
        p = F.pad(feat, (1, 1, 1, 1), mode="replicate")
        return F.unfold(p, 3).view(n, c * 9, h, w)

    def axis_filters(self, lr_size, out_size, own_scale, other_scale, mlp):
        """(out_size, out_channels, J) filter part of every output column (or row), and the
        nearest low-res index of each."""
        index, offset = nearest_grid(lr_size, out_size)
        inp = torch.stack([2 * offset, torch.full_like(offset, own_scale), torch.full_like(offset, other_scale)], 1)
        return mlp(inp).view(out_size, self.out_channels, self.taps), index

    def filters(self, lr_h, lr_w, out_h, out_w):
        sx, sy = lr_w / out_w, lr_h / out_h
        wx, ix = self.axis_filters(lr_w, out_w, sx, sy, self.mlp_x)
        wy, iy = self.axis_filters(lr_h, out_h, sy, sx, self.mlp_y)
        return wx, ix, wy, iy

    def forward(self, lr, out_h, out_w, base=None, row_chunk=None):
        """(N, 3, h, w) -> (N, 3, out_h, out_w); base: the bicubic up-scale (computed when None)."""
        n, _, h, w = lr.shape
        if base is None:
            base = F.interpolate(lr, size=(out_h, out_w), mode="bicubic", align_corners=False)
        u = self.unfold(self.extract(lr)).permute(0, 2, 3, 1)   # (N, h, w, J)
        wx, ix, wy, iy = self.filters(h, w, out_h, out_w)
        u = u[:, :, ix]                                           # (N, h, W, J)
        rows = []
        step = row_chunk or out_h
        for y0 in range(0, out_h, step):
            y1 = min(out_h, y0 + step)
            uc = u[:, iy[y0:y1]]                                  # (N, R, W, J)
            # sum_j Wy[y, o, j] * Wx[x, o, j] * U[y, x, j], one output channel at a time
            rows.append(torch.stack([(uc * (wy[y0:y1, None, o] * wx[None, :, o])).sum(-1)
                                     for o in range(self.out_channels)], 1))
        return base + torch.cat(rows, 2)

    def config(self):
        return {"channels": self.channels, "width": self.width, "depth": self.depth, "hidden": self.hidden,
                "out_channels": self.out_channels}

    def describe(self):
        """The architecture for the Swift engine (stored in the safetensors metadata)."""
        layers = []
        for k, conv in enumerate(self.features):
            e = {"op": "conv2d", "name": f"features.{k}", "in": conv.in_channels, "out": conv.out_channels,
                 "kernel": 3, "padding": 1}
            if k < self.depth - 1:
                e["activation"] = "relu"
            layers.append(e)
        mlp = lambda name: [{"op": "linear", "name": f"{name}.{i}", "in": m.in_features, "out": m.out_features,
                             **({"activation": "relu"} if i < 4 else {})}
                            for i, m in enumerate(getattr(self, name)) if isinstance(m, nn.Linear)]
        return {"kind": "liff", "version": 1, "layers": layers, "unfold": 3, "unfold_padding": "replicate",
                "out_channels": self.out_channels,
                "filter_x": mlp("mlp_x"), "filter_y": mlp("mlp_y"),
                "filter_inputs": ["2*offset", "own_axis_lr_over_out", "other_axis_lr_over_out"],
                "filter_layout": "[out_channel][feature_channel][dy][dx]",
                "residual_base": {"kernel": "bicubic", "cubic_coeff_a": -0.75, "antialias": False},
                "scale_range": [1, 4]}
