"""Synthetic graphics crops: the sharp, man-made content (screen text, bars, line art, gratings,
flat shapes with hard edges) that photos lack and that drives a network's hidden activations far
beyond what photos do. Each crop is luma in [0, 1]: a flat or ramped background with a few random
primitives drawn over it, anti-aliased over about one pixel, plus a little noise.

The primitives are deliberately not those of libnic's test image (no zone plate, no window grid),
which stays a check on content the training never saw.
"""

import numpy as np
import torch


def _coverage(distance):
    """Anti-aliased coverage of a shape from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _paint(canvas, cover, level):
    canvas += cover * (level - canvas)


def _rectangle(canvas, yy, xx, rng):
    s = canvas.shape[0]
    h, w = rng.uniform(2, s * 0.6, size=2)
    cy, cx = rng.uniform(0, s, size=2)
    d = np.maximum(np.abs(yy - cy) - h / 2, np.abs(xx - cx) - w / 2)
    _paint(canvas, _coverage(d), rng.uniform(0, 1))


def _line(canvas, yy, xx, rng):
    s = canvas.shape[0]
    angle = rng.uniform(0, np.pi)
    cy, cx = rng.uniform(0, s, size=2)
    width = rng.choice([1.0, 1.5, 2.0, 3.0, 5.0])
    d = np.abs((yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle)) - width / 2
    _paint(canvas, _coverage(d), rng.uniform(0, 1))


def _grating(canvas, yy, xx, rng):
    """A patch of a sinusoidal or square-wave grating, from coarse to near the pixel frequency."""
    s = canvas.shape[0]
    freq = rng.uniform(0.02, 0.45)    # cycles per pixel
    angle = rng.uniform(0, np.pi)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.cos(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    if rng.random() < 0.5:
        wave = np.clip(wave * 4, -1, 1)   # bars, edges softened over about a pixel
    lo, hi = np.sort(rng.uniform(0, 1, size=2))
    h, w = rng.uniform(s * 0.2, s * 0.8, size=2)
    cy, cx = rng.uniform(0, s, size=2)
    d = np.maximum(np.abs(yy - cy) - h / 2, np.abs(xx - cx) - w / 2)
    _paint(canvas, _coverage(d), lo + (hi - lo) * (wave + 1) / 2)


def _text(canvas, yy, xx, rng):
    """Rows of glyph-like marks: short strokes of 1-3 pixels on a line grid, as small print."""
    s = canvas.shape[0]
    size = rng.uniform(6, 16)         # glyph height in pixels
    stroke = rng.choice([1.0, 1.5, 2.0, 3.0])
    ink, paper = (0.05, 0.95) if rng.random() < 0.7 else (0.95, 0.05)
    ink, paper = ink + rng.uniform(-0.05, 0.05), paper + rng.uniform(-0.05, 0.05)
    top, left = rng.uniform(0, s * 0.5, size=2)
    rows, cols = int(rng.integers(1, 6)), int(rng.integers(3, 16))
    region = (yy >= top) & (yy < top + rows * size * 1.5) & (xx >= left) & (xx < left + cols * size * 0.7)
    canvas[region] = paper
    cover = np.zeros_like(canvas)
    for r in range(rows):
        for c in range(cols):
            gy, gx = top + r * size * 1.5, left + c * size * 0.7
            for _ in range(int(rng.integers(1, 4))):
                if rng.random() < 0.5:    # a vertical stroke
                    x0 = gx + rng.uniform(0, size * 0.5)
                    d = np.maximum(np.abs(xx - x0) - stroke / 2, np.abs(yy - gy - size / 2) - size / 2)
                else:                     # a horizontal stroke
                    y0 = gy + rng.uniform(0, size)
                    d = np.maximum(np.abs(yy - y0) - stroke / 2, np.abs(xx - gx - size * 0.25) - size * 0.25)
                cover = np.maximum(cover, _coverage(d))
    _paint(canvas, cover, ink)


PRIMITIVES = (_rectangle, _line, _grating, _text)


def graphics_luma(n, size, rng):
    """n synthetic graphics crops, luma [n, 1, size, size] in [0, 1] (float32), from a numpy
    Generator `rng` (so a run is repeatable from its seed)."""
    yy, xx = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        a, b = rng.uniform(0, 1, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / size
        canvas = a + (b - a) * (rng.uniform(0, 1) < 0.5) * (ramp - ramp.min()) / max(1e-9, np.ptp(ramp))
        for _ in range(int(rng.integers(2, 7))):
            PRIMITIVES[int(rng.integers(len(PRIMITIVES)))](canvas, yy, xx, rng)
        canvas += rng.normal(0, rng.uniform(0, 0.01), size=canvas.shape)
        out[i, 0] = np.clip(canvas, 0, 1)
    return torch.from_numpy(out)
