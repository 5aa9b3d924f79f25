"""Picture-quality measures shared by every training package (no torch: the Python tests import
this module).

PSNR is 10·log10(peak² / MSE) over every sample of the picture (RGB PSNR for RGB pictures).
Identical pictures (MSE 0) get the value at MSE = 1e-12·peak², 120 dB, instead of infinity.
"""

import math

MSE_FLOOR = 1e-12   # relative to peak²


def psnr_of_mse(mse, peak=1.0):
    """PSNR (dB) of a mean squared error of samples in [0, peak]."""
    return 10 * math.log10(peak * peak / max(float(mse), MSE_FLOOR * peak * peak))


def psnr(a, b, peak=1.0):
    """PSNR (dB) of a against b: numpy arrays or torch tensors of samples in [0, peak], of a
    floating type (the difference of two 8-bit arrays would wrap)."""
    return psnr_of_mse(((a - b) ** 2).mean(), peak)
