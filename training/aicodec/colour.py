"""Colour and sample conversions of the AI-codec networks.

Luma (Y) is BT.601 full range as in JPEG/JFIF; images are float32 tensors 0..255 (rgb_to_ycc,
ycc_to_rgb), luma planes float32 in [0, 1] inside the networks, uint8 outside them.
"""

import numpy as np
import torch


def rgb_to_ycc(x):
    """x: (..., 3, H, W) float RGB 0..255 -> Y, Cb, Cr 0..255 (Cb/Cr centred on 128)."""
    r, g, b = x.unbind(-3)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    return torch.stack([y, cb, cr], dim=-3)


def ycc_to_rgb(x):
    y, cb, cr = x.unbind(-3)
    cb = cb - 128.0
    cr = cr - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return torch.stack([r, g, b], dim=-3)


def luma_np(rgb_u8):
    """HxWx3 uint8 -> HxW float32 luma 0..1."""
    f = rgb_u8.astype(np.float32)
    return (0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]) / 255.0


def to_u8(t01):
    """(H, W) or (1,1,H,W) tensor in [0,1] -> HxW uint8."""
    a = t01.detach().reshape(t01.shape[-2], t01.shape[-1]).clamp(0, 1).mul(255).round()
    return a.to(torch.uint8).numpy()
