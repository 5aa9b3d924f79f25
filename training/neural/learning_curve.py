#!/usr/bin/env python3
"""The neural codec's learning curve on the training hold-out, against WebP on the same crops,
and a projection of the training time at which the model reaches WebP.

  python3 training/neural/learning_curve.py --run base_n64m96 [--out docs/results/neural-learning-curve]

Reads training/runs/neural/<run>/val.jsonl (hold-out validation logged during training: mean
bpp and RGB PSNR of the 6 hold-out images, centre crops <= 768 px, at gain levels 0, 4, 7), codes
the same crops with cwebp at a ladder of qualities, and reports per validation point the PSNR
gap to WebP at the model's rate (WebP's mean curve interpolated in log rate). The projection fits
gap = a + b * log2(step) to the last `--fit-points` validations of each level and solves for
gap = 0; steps convert to hours at the run's recent steps per hour. It is an extrapolation of a
log-linear trend, reported as such. It also compares the training loss (from train.jsonl) with
the hold-out loss at every validation, to see whether the model starts to fit the training photos.
Hold-out images only: no evaluation set is touched.

Writes OUT.json, OUT.md and OUT.png.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import data  # noqa: E402
sys.path.insert(1, data.PROJECT)   # the repository root, for the `training` package
from training.metrics import psnr  # noqa: E402

WEBP_QUALITIES = [2, 5, 10, 20, 30, 45, 60, 75, 85, 92, 97]


def holdout_crops(max_side=768):
    _, names = data.split(data.list_images(data.DEFAULT_DATA))
    crops = []
    for n in names:
        im = data.load(data.DEFAULT_DATA, n, data.DEFAULT_CACHE)
        h, w = im.shape[:2]
        ch, cw = min(h, max_side), min(w, max_side)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        crops.append(np.ascontiguousarray(im[y0:y0 + ch, x0:x0 + cw]))
    return names, crops


def webp_curve(crops):
    """Mean (bpp, RGB PSNR) over the crops per cwebp quality."""
    pts = []
    with tempfile.TemporaryDirectory() as tmp:
        src, coded, out = (os.path.join(tmp, n) for n in ("in.png", "c.webp", "out.png"))
        for q in WEBP_QUALITIES:
            bpps, psnrs = [], []
            for im in crops:
                Image.fromarray(im).save(src)
                subprocess.run(["cwebp", "-quiet", "-q", str(q), "-m", "6", src, "-o", coded], check=True)
                subprocess.run(["dwebp", "-quiet", coded, "-o", out], check=True)
                dec = np.asarray(Image.open(out).convert("RGB")).astype(np.float64)
                bpps.append(os.path.getsize(coded) * 8 / (im.shape[0] * im.shape[1]))
                psnrs.append(psnr(dec, im.astype(np.float64), 255))
            pts.append((q, float(np.mean(bpps)), float(np.mean(psnrs))))
    return pts


def psnr_at(curve, bpp):
    """WebP's PSNR at `bpp`, linear in log rate between its points (None outside its range)."""
    r = np.log([p[1] for p in curve])
    if not r.min() <= np.log(bpp) <= r.max():
        return None
    return float(np.interp(np.log(bpp), r, [p[2] for p in curve]))


def generalisation_gap(curve, log, lambdas, window=2000):
    """Per validation point and level: the rate-distortion loss bpp + λ·255²·MSE on the training
    crops (mean of the training log over the `window` steps before it: noisy-latent bpp) and on
    the hold-out (rounded latents), and their difference. The difference carries a constant
    offset (noise vs rounding, crops vs whole images); a difference that grows while training
    goes on says the model fits the training photos rather than photos in general."""
    rows = []
    for v in curve:
        recent = [r for r in log if v["step"] - window < r["step"] <= v["step"]]
        if not recent:
            continue
        row = {"step": v["step"], "levels": {}}
        for level, h in v["levels"].items():
            lam = lambdas[int(level)]
            entries = [r["levels"][level] for r in recent if level in r.get("levels", {})]
            n = sum(e["n"] for e in entries)
            if not n:
                continue
            train_bpp = sum(e["bpp"] * e["n"] for e in entries) / n
            train_mse = sum(10 ** (-e["psnr"] / 10) * e["n"] for e in entries) / n
            train_loss = train_bpp + lam * 255 ** 2 * train_mse
            holdout_loss = h["bpp"] + lam * 255 ** 2 * 10 ** (-h["psnr"] / 10)
            row["levels"][level] = {"train_loss": round(train_loss, 4), "holdout_loss": round(holdout_loss, 4),
                                    "difference": round(holdout_loss - train_loss, 4)}
        rows.append(row)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="base_n64m96")
    p.add_argument("--out", default=os.path.join(REPO, "docs", "results", "neural-learning-curve"))
    p.add_argument("--fit-points", type=int, default=6)
    p.add_argument("--max-step", type=int, default=0, help="only validations up to this step (the record's), 0 = all")
    a = p.parse_args()
    run_dir = os.path.join(REPO, "training", "runs", "neural", a.run)
    with open(os.path.join(run_dir, "val.jsonl")) as f:
        # one validation per step: the last (a run resumed past a validation may repeat its step)
        curve = list({v["step"]: v for v in map(json.loads, filter(str.strip, f))}.values())
    with open(os.path.join(run_dir, "train.jsonl")) as f:
        log = [json.loads(line) for line in f if line.strip()]
    if a.max_step:
        curve = [v for v in curve if v["step"] <= a.max_step]
        log = [r for r in log if r["step"] <= a.max_step]
    recent = [r for r in log if r["step"] > log[-1]["step"] - 2000]
    steps_per_hour = (recent[-1]["step"] - recent[0]["step"]) / max(1e-9, recent[-1]["train_hours"] - recent[0]["train_hours"])

    names, crops = holdout_crops()
    webp = webp_curve(crops)
    points = []
    for v in curve:
        row = {"step": v["step"], "train_hours": round(v["train_hours"], 3), "levels": {}}
        for level, r in v["levels"].items():
            w = psnr_at(webp, r["bpp"])
            row["levels"][level] = {"bpp": round(r["bpp"], 4), "psnr": round(r["psnr"], 3),
                                    "webp_psnr": None if w is None else round(w, 3),
                                    "gap_db": None if w is None else round(w - r["psnr"], 3)}
        points.append(row)

    projection = {}
    for level in sorted({lv for row in points for lv in row["levels"]}, key=int):
        series = [(row["step"], row["levels"][level]["gap_db"]) for row in points
                  if level in row["levels"] and row["levels"][level]["gap_db"] is not None]
        series = series[-a.fit_points:]
        if len(series) < 3:
            continue
        b, c = np.polyfit(np.log2([s for s, _ in series]), [g for _, g in series], 1)
        entry = {"fit_points": len(series), "gap_now_db": series[-1][1], "db_per_doubling": round(-b, 3)}
        if b < 0 and -c / b <= math.log2(100 * series[-1][0]):
            step = 2 ** (-c / b)
            entry.update({"projected_step": int(step),
                          "projected_train_hours": round(log[-1]["train_hours"] + (step - log[-1]["step"]) / steps_per_hour, 1)})
        elif b < 0:
            entry["projection"] = "beyond 100× the steps so far"
        projection[level] = entry

    with open(os.path.join(run_dir, "config.json")) as f:
        lambdas = json.load(f)["lambdas"]
    gap = generalisation_gap(curve, log, lambdas)

    result = {"run": a.run, "max_step": a.max_step or None, "holdout": names,
              "webp": [{"q": q, "bpp": round(b, 4), "psnr": round(s, 3)} for q, b, s in webp],
              "steps_per_hour_recent": round(steps_per_hour, 1), "curve": points, "projection_to_webp": projection,
              "train_vs_holdout": gap}
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    write_markdown(a.out + ".md", result)
    plot(a.out + ".png", result)
    print(json.dumps({"projection_to_webp": projection, "steps_per_hour": result["steps_per_hour_recent"]}))


def write_markdown(path, r):
    levels = sorted({lv for row in r["curve"] for lv in row["levels"]}, key=int)
    lines = [f"# Neural codec learning curve ({r['run']})", "",
             "Hold-out of `../shared/data/train` (6 images, centre crops <= 768 px; never trained on). "
             "Model: validation logged during training (mean bpp, RGB PSNR). WebP: cwebp -m 6 on the same "
             "crops, PSNR interpolated at the model's rate. Gap = WebP − model (dB; positive = model worse).",
             "", "Command: `python3 training/neural/learning_curve.py --run " + r["run"]
             + (f" --max-step {r['max_step']}" if r.get("max_step") else "") + "`", "",
             "| step | hours | " + " | ".join(f"level {lv}: bpp / dB / gap" for lv in levels) + " |",
             "|---|---|" + "---|" * len(levels)]
    for row in r["curve"]:
        cells = []
        for lv in levels:
            e = row["levels"].get(lv)
            if e is None:  # not validated at this level then (the levels changed during the run)
                cells.append("—")
                continue
            gap = "n/a" if e["gap_db"] is None else f"{e['gap_db']:+.2f}"
            cells.append(f"{e['bpp']:.3f} / {e['psnr']:.2f} / {gap}")
        lines.append(f"| {row['step']} | {row['train_hours']} | " + " | ".join(cells) + " |")
    lines += ["", f"Recent training speed: {r['steps_per_hour_recent']} steps per hour.", "",
              "## Projection to WebP (log-linear fit of the gap against log2(step); an extrapolation)", "",
              "| level | gap now | dB per doubling of steps | projected step | projected training hours |",
              "|---|---|---|---|---|"]
    for lv, e in r["projection_to_webp"].items():
        lines.append(f"| {lv} | {e['gap_now_db']:+.2f} dB | {e['db_per_doubling']:.2f} | "
                     f"{e.get('projected_step', e.get('projection', 'not converging'))} | {e.get('projected_train_hours', '—')} |")
    if r.get("train_vs_holdout"):
        lines += ["", "## Training loss against hold-out loss (bpp + λ·255²·MSE; growing difference = fitting the "
                  "training photos)", "", "| step | level: train / hold-out / difference |", "|---|---|"]
        for row in r["train_vs_holdout"]:
            cells = [f"{lv}: {e['train_loss']:.3f} / {e['holdout_loss']:.3f} / {e['difference']:+.3f}"
                     for lv, e in sorted(row["levels"].items(), key=lambda kv: int(kv[0]))]
            lines.append(f"| {row['step']} | " + "; ".join(cells) + " |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(path, r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lv in sorted(r["curve"][-1]["levels"], key=int):
        xs = [row["step"] for row in r["curve"] if lv in row["levels"] and row["levels"][lv]["gap_db"] is not None]
        ys = [row["levels"][lv]["gap_db"] for row in r["curve"] if lv in row["levels"] and row["levels"][lv]["gap_db"] is not None]
        ax.plot(xs, ys, marker="o", ms=3, label=f"level {lv}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training step")
    ax.set_ylabel("PSNR gap to WebP at equal rate (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
