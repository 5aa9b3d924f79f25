"""Bjontegaard deltas of two rate-distortion curves, shared by the bench scripts."""
import math

import numpy as np


def bd_rate(ref_bpp, ref_psnr, test_bpp, test_psnr):
    """Bjontegaard delta rate (percent) of test vs ref; None when the PSNR ranges do not overlap."""
    p1, p2 = np.asarray(ref_psnr, float), np.asarray(test_psnr, float)
    r1, r2 = np.log(np.asarray(ref_bpp, float)), np.log(np.asarray(test_bpp, float))
    deg = min(3, len(p1) - 1, len(p2) - 1)
    lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    if deg < 1 or hi <= lo:
        return None
    c = 0.5 * (lo + hi)        # centre the abscissa: better conditioned cubic fits
    i1 = np.polyint(np.polyfit(p1 - c, r1, deg))
    i2 = np.polyint(np.polyfit(p2 - c, r2, deg))
    a1 = np.polyval(i1, hi - c) - np.polyval(i1, lo - c)
    a2 = np.polyval(i2, hi - c) - np.polyval(i2, lo - c)
    return float((math.exp((a2 - a1) / (hi - lo)) - 1.0) * 100.0)


def bd_psnr(ref_bpp, ref_psnr, test_bpp, test_psnr):
    """Bjontegaard delta PSNR (dB) of test vs ref over the overlapping log-rate range."""
    r1, r2 = np.log(np.asarray(ref_bpp, float)), np.log(np.asarray(test_bpp, float))
    p1, p2 = np.asarray(ref_psnr, float), np.asarray(test_psnr, float)
    deg = min(3, len(p1) - 1, len(p2) - 1)
    lo, hi = max(r1.min(), r2.min()), min(r1.max(), r2.max())
    if deg < 1 or hi <= lo:
        return None
    c = 0.5 * (lo + hi)
    i1 = np.polyint(np.polyfit(r1 - c, p1, deg))
    i2 = np.polyint(np.polyfit(r2 - c, p2, deg))
    a1 = np.polyval(i1, hi - c) - np.polyval(i1, lo - c)
    a2 = np.polyval(i2, hi - c) - np.polyval(i2, lo - c)
    return float((a2 - a1) / (hi - lo))
