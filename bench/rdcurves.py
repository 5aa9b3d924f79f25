"""Bjontegaard deltas of two rate-distortion curves: the repository's one BD-rate implementation.

bench/ scripts import it as a sibling module (`from rdcurves import ...`); training/ imports it as
`bench.rdcurves` (its scripts put the repository root on the module path). numpy only.

Two interpolations of each curve (PCHIP by default; a caller that reports cubic figures names it):
- "cubic": one cubic polynomial through all points (Bjontegaard, VCEG-M33). It can bend back between
  points where a curve flattens (a route whose quality saturates), and then counts rate twice.
- "pchip": piecewise cubic Hermite interpolation with shape-preserving slopes (Fritsch-Carlson), as
  in the JCT-VC / JVET common test conditions' BD-rate sheet; monotone wherever the points are.
"""
import math

import numpy as np

INTERPOLATIONS = ("cubic", "pchip")


def bd_rate(ref_bpp, ref_psnr, test_bpp, test_psnr, interpolation="pchip"):
    """Bjontegaard delta rate (percent) of test vs ref: the mean rate difference at equal PSNR over
    the PSNR range both curves cover (negative: test needs fewer bits). None, never NaN and no
    exception, when the PSNR ranges do not overlap or a curve has fewer than two points."""
    mean_diff = _mean_difference(ref_psnr, np.log(np.asarray(ref_bpp, float)),
                                 test_psnr, np.log(np.asarray(test_bpp, float)), interpolation)
    return None if mean_diff is None else float((math.exp(mean_diff) - 1.0) * 100.0)


def bd_psnr(ref_bpp, ref_psnr, test_bpp, test_psnr, interpolation="pchip"):
    """Bjontegaard delta PSNR (dB) of test vs ref over the overlapping log-rate range; None as for
    bd_rate."""
    mean_diff = _mean_difference(np.log(np.asarray(ref_bpp, float)), ref_psnr,
                                 np.log(np.asarray(test_bpp, float)), test_psnr, interpolation)
    return None if mean_diff is None else float(mean_diff)


def worst_psnr_gap(ref_bpp, ref_psnr, test_bpp, test_psnr):
    """The lowest PSNR of test minus ref at equal rate (dB; negative: test below ref), at every
    point of either curve inside the rate range both cover, the other curve's PSNR interpolated
    by PCHIP over log rate. None when the rate ranges do not overlap or a curve has fewer than two
    points."""
    x1, y1 = _distinct_sorted(np.log(np.asarray(ref_bpp, float)), np.asarray(ref_psnr, float))
    x2, y2 = _distinct_sorted(np.log(np.asarray(test_bpp, float)), np.asarray(test_psnr, float))
    lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
    if min(len(x1), len(x2)) < 2 or hi < lo:
        return None
    d1, d2 = _pchip_slopes(x1, y1), _pchip_slopes(x2, y2)
    gaps = [_hermite_value(x2, y2, d2, x) - y for x, y in zip(x1, y1) if lo <= x <= hi]
    gaps += [y - _hermite_value(x1, y1, d1, x) for x, y in zip(x2, y2) if lo <= x <= hi]
    return float(min(gaps))


def _hermite_value(x, y, d, at):
    """The Hermite cubic through (x, y, d) at `at` (within [x[0], x[-1]])."""
    k = min(max(int(np.searchsorted(x, at, side="right")) - 1, 0), len(x) - 2)
    h = x[k + 1] - x[k]
    s = at - x[k]
    secant = (y[k + 1] - y[k]) / h
    c2 = (3 * secant - 2 * d[k] - d[k + 1]) / h
    c3 = (d[k] + d[k + 1] - 2 * secant) / (h * h)
    return float(y[k] + d[k] * s + c2 * s ** 2 + c3 * s ** 3)


def _mean_difference(x1, y1, x2, y2, interpolation):
    """Mean of y2(x) - y1(x) over the common x range of two interpolated curves, or None."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, not {interpolation!r}")
    x1, y1, x2, y2 = (np.asarray(v, float) for v in (x1, y1, x2, y2))
    lo, hi = max(x1.min(), x2.min()), min(x1.max(), x2.max())
    if min(len(x1), len(x2)) < 2 or hi <= lo:
        return None
    integral = _cubic_integral if interpolation == "cubic" else _pchip_integral
    return (integral(x2, y2, lo, hi) - integral(x1, y1, lo, hi)) / (hi - lo)


def _cubic_integral(x, y, lo, hi):
    deg = min(3, len(x) - 1)
    c = 0.5 * (lo + hi)        # centre the abscissa: better conditioned fits
    antiderivative = np.polyint(np.polyfit(x - c, y, deg))
    return np.polyval(antiderivative, hi - c) - np.polyval(antiderivative, lo - c)


def _pchip_integral(x, y, lo, hi):
    """Integral over [lo, hi] of the PCHIP interpolant of the points (x, y), in any order
    (at least two distinct x, which lo < hi inside the points' range guarantees)."""
    x, y = _distinct_sorted(x, y)
    slopes = _pchip_slopes(x, y)
    return _hermite_antiderivative(x, y, slopes, hi) - _hermite_antiderivative(x, y, slopes, lo)


def _distinct_sorted(x, y):
    """Points sorted by x; points with equal x merged into their mean y."""
    xs, inverse = np.unique(x, return_inverse=True)
    ys = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return xs, ys


def _pchip_slopes(x, y):
    h = np.diff(x)
    secant = np.diff(y) / h
    if len(x) == 2:
        return np.array([secant[0], secant[0]])
    d = np.zeros_like(y)
    for k in range(1, len(x) - 1):
        s0, s1 = secant[k - 1], secant[k]
        if s0 * s1 > 0:        # a weighted harmonic mean keeps the interpolant monotone
            w0, w1 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w0 + w1) / (w0 / s0 + w1 / s1)
    d[0] = _end_slope(h[0], h[1], secant[0], secant[1])
    d[-1] = _end_slope(h[-1], h[-2], secant[-1], secant[-2])
    return d


def _end_slope(h0, h1, s0, s1):
    """Three-point end slope, clipped so that the end segment does not overshoot."""
    d = ((2 * h0 + h1) * s0 - h0 * s1) / (h0 + h1)
    if np.sign(d) != np.sign(s0):
        return 0.0
    if np.sign(s0) != np.sign(s1) and abs(d) > abs(3 * s0):
        return 3 * s0
    return d


def _hermite_antiderivative(x, y, d, at):
    """Integral from x[0] to `at` (within [x[0], x[-1]]) of the Hermite cubic through (x, y, d)."""
    total = 0.0
    for k in range(len(x) - 1):
        if at <= x[k]:
            break
        h = x[k + 1] - x[k]
        s = min(at, x[k + 1]) - x[k]
        secant = (y[k + 1] - y[k]) / h
        c2 = (3 * secant - 2 * d[k] - d[k + 1]) / h
        c3 = (d[k] + d[k + 1] - 2 * secant) / (h * h)
        total += y[k] * s + d[k] * s ** 2 / 2 + c2 * s ** 3 / 3 + c3 * s ** 4 / 4
    return total
