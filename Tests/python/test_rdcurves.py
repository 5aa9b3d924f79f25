"""Bjontegaard deltas (bench/rdcurves.py): both interpolations on curves with known answers."""

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import rdcurves  # noqa: E402

RATES = [100.0, 200.0, 400.0, 800.0]
PSNRS = [32.0, 35.5, 38.2, 40.1]
# A route whose quality saturates (an up-scaler's ceiling): each doubling buys less.
FLAT_RATES = [30.0, 60.0, 120.0, 240.0]
FLAT_PSNRS = [37.0, 39.4, 40.4, 40.8]


@pytest.mark.parametrize("interpolation", rdcurves.INTERPOLATIONS)
def test_identical_curves_differ_by_nothing(interpolation):
    assert rdcurves.bd_rate(RATES, PSNRS, RATES, PSNRS, interpolation) == pytest.approx(0.0, abs=1e-9)
    assert rdcurves.bd_psnr(RATES, PSNRS, RATES, PSNRS, interpolation) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("interpolation", rdcurves.INTERPOLATIONS)
def test_a_constant_rate_factor_is_the_bd_rate(interpolation):
    cheaper = [0.8 * r for r in RATES]
    assert rdcurves.bd_rate(RATES, PSNRS, cheaper, PSNRS, interpolation) == pytest.approx(-20.0)
    assert rdcurves.bd_rate(cheaper, PSNRS, RATES, PSNRS, interpolation) == pytest.approx(25.0)


@pytest.mark.parametrize("interpolation", rdcurves.INTERPOLATIONS)
def test_a_constant_psnr_gain_is_the_bd_psnr(interpolation):
    better = [p + 0.7 for p in PSNRS]
    assert rdcurves.bd_psnr(RATES, PSNRS, RATES, better, interpolation) == pytest.approx(0.7)


@pytest.mark.parametrize("interpolation", rdcurves.INTERPOLATIONS)
def test_point_order_does_not_matter(interpolation):
    other = [p + 0.3 * i for i, p in enumerate(PSNRS)]
    forward = rdcurves.bd_rate(RATES, PSNRS, RATES, other, interpolation)
    backward = rdcurves.bd_rate(RATES[::-1], PSNRS[::-1], RATES[::-1], other[::-1], interpolation)
    assert forward == pytest.approx(backward)


def test_pchip_integral_is_exact_on_a_line():
    x, y = np.array([30.0, 31.0, 34.0, 40.0]), np.array([1.0, 1.5, 3.0, 6.0])   # y = 0.5 x - 14
    assert rdcurves._pchip_integral(x, y, 30.5, 39.0) == pytest.approx(0.25 * (39.0**2 - 30.5**2) - 14 * 8.5)


def test_pchip_follows_a_saturating_curve_where_the_cubic_bends_back():
    """The cubic through the flattening curve's log rates falls between points (quality up, rate
    down), so it under-counts that route's rate; PCHIP stays monotone between the same points."""
    psnr, log_rate = np.array(FLAT_PSNRS), np.log(FLAT_RATES)
    grid = np.linspace(psnr[0], psnr[-1], 400)
    cubic = np.polyval(np.polyfit(psnr, log_rate, 3), grid)
    assert np.diff(cubic).min() < 0
    # The interpolant itself, as the slope of its running integral.
    running = [rdcurves._pchip_integral(psnr, log_rate, psnr[0], g) for g in grid]
    pchip = np.diff(running) / np.diff(grid)
    assert np.diff(pchip).min() > -1e-9


def test_no_overlap_and_too_few_points_give_none():
    assert rdcurves.bd_rate(RATES, PSNRS, RATES, [p + 20 for p in PSNRS], "pchip") is None
    assert rdcurves.bd_rate(RATES[:1], PSNRS[:1], RATES, PSNRS, "pchip") is None


def test_unknown_interpolation_is_an_error():
    with pytest.raises(ValueError, match="interpolation"):
        rdcurves.bd_rate(RATES, PSNRS, RATES, PSNRS, "akima")


def test_cubic_matches_the_closed_form_on_a_cubic_curve():
    # log rate exactly cubic in PSNR: the fit is exact, so BD-rate is exp of the mean log difference.
    p = np.linspace(30, 40, 4)
    r1 = np.exp(0.01 * (p - 35) ** 3 + 0.2 * p)
    r2 = r1 * math.exp(-0.1)
    assert rdcurves.bd_rate(r1, p, r2, p, "cubic") == pytest.approx((math.exp(-0.1) - 1) * 100)


def test_worst_psnr_gap_at_equal_rate():
    assert rdcurves.worst_psnr_gap(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-12)
    # 0.2 dB better everywhere, at the reference's own rates: the worst gap is +0.2.
    assert rdcurves.worst_psnr_gap(RATES, PSNRS, RATES, [p + 0.2 for p in PSNRS]) == pytest.approx(0.2)
    # One point 0.5 dB below the reference curve (at a rate between two of its points) decides.
    test_rates, test_psnrs = [100.0, 283.0, 800.0], [32.3, 0.0, 40.4]
    x, y = np.log(RATES), np.asarray(PSNRS)
    test_psnrs[1] = rdcurves._hermite_value(x, y, rdcurves._pchip_slopes(x, y), math.log(283.0)) - 0.5
    assert rdcurves.worst_psnr_gap(RATES, PSNRS, test_rates, test_psnrs) == pytest.approx(-0.5)
    # Rates that do not overlap: no answer.
    assert rdcurves.worst_psnr_gap(RATES, PSNRS, [1000.0, 2000.0], [41.0, 42.0]) is None
