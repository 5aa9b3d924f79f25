"""Quality metrics of the AI-codec validation: PSNR (training/metrics.py's) and the BD-rates of
validated routes.

No torch: the Python tests import this module. BD-rate itself is bench/rdcurves.py's (the one
implementation in the repository); the training validation keeps Bjontegaard's cubic fit
(VALIDATION_INTERPOLATION), which every `validation.bd_rate_percent` in models/settings.json used.
"""

from bench.rdcurves import bd_rate
from training.metrics import psnr  # noqa: F401  (the validation's PSNR)

VALIDATION_INTERPOLATION = "cubic"


def route_bd_rates(routes, qualities):
    """BD-rates (percent, 2 decimals) of the tested routes ("ai", "generic") against the anchors
    ("bicubic", "full") present in `routes` ({route: {str(quality): {"bpp", "psnr_rgb", "psnr_y"}}},
    as validate.evaluate reports them) over the codec qualities `qualities`. A pair whose PSNR
    ranges do not overlap gets None."""
    out = {}

    def curve(route, key):
        d = routes[route]
        return [d[str(q)]["bpp"] for q in qualities], [d[str(q)][key] for q in qualities]

    for test in [r for r in ("ai", "generic") if r in routes]:
        for anchor in [r for r in ("bicubic", "full") if r in routes]:
            for key in ("psnr_rgb", "psnr_y"):
                r1, p1 = curve(anchor, key)
                r2, p2 = curve(test, key)
                bd = bd_rate(r1, p1, r2, p2, VALIDATION_INTERPOLATION)
                out[f"{test}_vs_{anchor}_{key}"] = None if bd is None else round(bd, 2)
    return out
