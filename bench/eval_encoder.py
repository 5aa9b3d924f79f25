#!/usr/bin/env python3
"""Encoder-side optimisation of the neural codec, measured with libnic itself: every variant
codes the same images with the same model, and its rate-distortion curve is compared with the
default encoder's (BD-rate, PCHIP, RGB PSNR, bytes of the whole .nic file).

Variants are named `r<refine passes>s<latent steps>` with an optional `z<step size>`, e.g.
`r1s0` (the encoder of `nic encode` without options), `r0s100`, `r0s100z0.03`; or `e<N>` for
`--effort N`; either followed by `x<steps>` (substitution of the input, `--substitute`) with an
optional `k<step size>` (`--substitute-step-size`) and `b<block>` (`--block`), then by
`d<states>` (dependent quantisation, `--dsq`) with an optional `l<lambda>` (`--dsq-lambda`),
then by `c<passes>` (`--consistency`) and `f<passes>` (`--fixed-point`), and last `g` (`--grid`,
the integer grid) or `n` (`--no-grid`, the means' grid), e.g. `r1s0d4l0.1`, `r0s0x50k0.003b64`,
`r1s0d8l0.05c4f2`, `e0d0g`, `e0n` (effort 0 on the means' grid). Each point is
`nic bench codec IMAGE --quality Q --repeats 1 --json` (in-process encode + decode); encode times
are the medians over the 768x512 images (or all images when none is), all variants timed in the
same run. Variants that search (effort 1 and above, latent steps, substitution) are timed without
the warm-up encode: their one-time costs are a negligible part of an encode of seconds to minutes.

  python3 bench/eval_encoder.py --holdout --variants r1s0,r0s0,r0s50,r0s100      # tuning
  python3 bench/eval_encoder.py --data ../shared/data/eval/kodak --variants ...   # report
        [--qualities 1,34,67,100] [--limit N] [--successive r1s0,e2 --generations 50]
        [--out docs/results/neural-encoder]

`--holdout` codes the training run's fixed hold-out (`training/neural/data.py`), centre crops of
at most 768 pixels: tune there, report on the evaluation set. Progress goes to stderr.

`--points FILE` keeps every measured point as a line of JSON (the models of
`MODELS/neural/codec.json` as `eval_neural.neural_codec_key` names them, the variant's options,
the image, the quality, the threads) and takes points already there instead of coding them
again, so that a long run (the slow efforts take minutes per encode) can be stopped and resumed,
or spread over several runs.
"""

import argparse
import datetime
import json
import os
import re
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from eval_neural import neural_codec_key, nic_generation, nic_point, rgb, successive  # noqa: E402
from rdcurves import bd_rate  # noqa: E402


def variant_args(name):
    """Command-line options of `nic bench codec` / `nic encode` for a variant name."""
    m = re.fullmatch(r"(?:e(\d+)|r(\d+)s(\d+)(?:z([0-9.]+))?)(?:x(\d+)(?:k([0-9.]+))?(?:b(\d+))?)?"
                     r"(?:d(\d+)(?:l([0-9.]+))?)?(?:c(\d+))?(?:f(\d+))?([gn])?", name)
    if not m:
        raise SystemExit(f"variant {name!r}: expected r<refine>s<steps>[z<step size>] or e<effort>, "
                         "then optionally x<steps>[k<step size>][b<block>], then d<states>[l<lambda>], then c<passes>, "
                         "then f<passes>, then g or n")
    effort, refine, steps, size, substitute, substitute_size, block, states, lam, consistency, fixed, grid = m.groups()
    args = ["--effort", effort] if effort else ["--refine", refine, "--steps", steps]
    args += ["--step-size", size] if size else []
    args += ["--substitute", substitute] if substitute else []
    args += ["--substitute-step-size", substitute_size] if substitute_size else []
    args += ["--block", block] if block else []
    args += ["--dsq", states] if states else []
    args += ["--dsq-lambda", lam] if lam else []
    args += ["--consistency", consistency] if consistency else []
    args += ["--fixed-point", fixed] if fixed else []
    return args + {"g": ["--grid"], "n": ["--no-grid"], None: []}[grid]


def searches(name):
    """Whether a variant searches (effort >= 1, latent steps or substitution): its encodes take
    seconds to minutes, and are timed without a warm-up."""
    args = variant_args(name)
    value = {k: v for k, v in zip(args, args[1:] + [""])}
    return (int(value.get("--effort", 0)) >= 1 or int(value.get("--steps", 0)) > 0
            or int(value.get("--substitute", 0)) > 0)


class PointStore:
    """The --points file: measured points by (models' key, options, image, quality, threads)."""

    def __init__(self, path, models):
        self.path = path
        self.model = neural_codec_key(models)
        self.points = {}
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        self.points[self.key(r["args"], r["image"], r["quality"], r["threads"], r["model"])] = r

    def key(self, args, image, quality, threads, model=None):
        return json.dumps([model or self.model, args, image, quality, threads])

    def get(self, args, image, quality, threads):
        return self.points.get(self.key(args, image, quality, threads))

    def add(self, args, image, quality, threads, r):
        rec = {"model": self.model, "args": args, "image": image, "quality": quality, "threads": threads,
               "bpp": r["bpp"], "psnr": r["psnr"], "encode_ms": r["encode_ms"]}
        self.points[self.key(args, image, quality, threads)] = rec
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(rec) + "\n")


def holdout_images(folder):
    sys.path.insert(0, os.path.join(REPO, "training", "neural"))
    from learning_curve import holdout_crops
    names, crops = holdout_crops()
    paths = []
    for n, c in zip(names, crops):
        path = os.path.join(folder, n.replace("/", "_").rsplit(".", 1)[0] + ".png")
        Image.fromarray(c).save(path)
        paths.append(path)
    return paths


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    p.add_argument("--data", help="folder of .png images (the evaluation set)")
    p.add_argument("--holdout", action="store_true", help="the training run's hold-out crops instead of --data")
    p.add_argument("--variants", default="r1s0,r0s0,r0s50,r0s100")
    p.add_argument("--reference", default="r1s0", help="the variant the others are compared with")
    p.add_argument("--qualities", default="1,34,67,100")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--successive", default="", help="variants to re-encode --generations times")
    p.add_argument("--successive-images", type=int, default=2)
    p.add_argument("--successive-qualities", default="20,58,90")
    p.add_argument("--generations", type=int, default=50)
    p.add_argument("--out", help="write OUT.json and OUT.md")
    p.add_argument("--points", help="JSON-lines file of measured points, read and extended (resumable runs)")
    a = p.parse_args()
    variants = a.variants.split(",")
    if a.reference not in variants:
        variants.insert(0, a.reference)
    qualities = [int(q) for q in a.qualities.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if a.holdout:
            images = holdout_images(tmp)
        elif a.data:
            images = sorted(os.path.join(a.data, f) for f in os.listdir(a.data) if f.endswith(".png"))
        else:
            raise SystemExit("give --data FOLDER or --holdout")
        if a.limit:
            images = images[:a.limit]
        points = {v: {q: [] for q in qualities} for v in variants}     # per quality: (bpp, psnr) per image
        times = {v: [] for v in variants}
        sizes = [Image.open(i).size for i in images]
        timed = [i for i, s in enumerate(sizes) if s in ((768, 512), (512, 768))] or list(range(len(images)))
        store = PointStore(a.points, a.models)
        for i, image in enumerate(images):
            name = os.path.basename(image)
            for v in variants:
                args = variant_args(v)
                for q in qualities:
                    r = store.get(args, name, q, a.threads)
                    if r is None:
                        r = nic_point(a.nic, a.models, image, q, a.threads, extra=args, warmup=not searches(v))
                        store.add(args, name, q, a.threads, r)
                    points[v][q].append((r["bpp"], r["psnr"]))
                    if i in timed:
                        times[v].append(r["encode_ms"])
                    print(f"[{i + 1}/{len(images)}] {name} {v} q{q}: "
                          f"{r['bpp']:.4f} bpp {r['psnr']:.2f} dB {r['encode_ms']:.0f} ms", file=sys.stderr, flush=True)
        curves = {v: [(q, float(np.mean([b for b, _ in points[v][q]])), float(np.mean([s for _, s in points[v][q]])))
                      for q in qualities] for v in variants}
        ref = curves[a.reference]
        result = {
            "date": datetime.date.today().isoformat(),
            "command": "python3 bench/eval_encoder.py " + " ".join(sys.argv[1:]),
            "images": [os.path.basename(i) for i in images], "qualities": qualities, "threads": a.threads,
            "reference": a.reference,
            "curves": {v: [{"q": q, "bpp": round(b, 5), "psnr": round(s, 3)} for q, b, s in c] for v, c in curves.items()},
            "bd_rate_percent": {v: bd_rate([b for _, b, _ in ref], [s for _, _, s in ref],
                                           [b for _, b, _ in c], [s for _, _, s in c]) for v, c in curves.items()},
            "encode_ms_median": {v: round(float(np.median(t)), 1) for v, t in times.items()},
        }
        for v, bd in result["bd_rate_percent"].items():
            result["bd_rate_percent"][v] = None if bd is None else round(bd, 2)
        result["bd_rate_percent_per_image"] = {
            os.path.basename(image): {v: per_image_bd_rate(points, a.reference, v, qualities, i) for v in variants}
            for i, image in enumerate(images)}
        succ = {}
        for v in [s for s in a.successive.split(",") if s]:
            for q in [int(s) for s in a.successive_qualities.split(",")]:
                for image in images[:a.successive_images]:
                    curve = successive(nic_generation(a.nic, a.models, q, extra=variant_args(v)), rgb(image), a.generations)
                    succ.setdefault(v, {}).setdefault(str(q), {})[os.path.basename(image)] = curve
                    print(f"successive {v} q{q} {os.path.basename(image)}: {curve[0]:.2f} -> {curve[-1]:.2f} dB",
                          file=sys.stderr, flush=True)
        if succ:
            result["successive"] = {
                "generations": a.generations,
                "loss_db": {v: {q: round(float(np.mean([c[0] - c[-1] for c in per.values()])), 3) for q, per in qs.items()}
                            for v, qs in succ.items()},
                "curves": succ}
    base = result["encode_ms_median"][a.reference]
    for v in variants:
        print(f"{v:14s} BD-rate vs {a.reference}: {result['bd_rate_percent'][v]}%  "
              f"encode {result['encode_ms_median'][v]:.0f} ms ({result['encode_ms_median'][v] / base:.1f}x)")
    if "successive" in result:
        print("successive loss (dB, generation 1 -> last):", json.dumps(result["successive"]["loss_db"]))
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".json", "w") as f:
            json.dump(result, f, indent=1)
        write_markdown(a.out + ".md", result)


def per_image_bd_rate(points, reference, variant, qualities, i):
    """BD-rate (%, 2 decimals; None without overlap) of `variant` against `reference` on image i alone."""
    ref = [points[reference][q][i] for q in qualities]
    cur = [points[variant][q][i] for q in qualities]
    bd = bd_rate([b for b, _ in ref], [s for _, s in ref], [b for b, _ in cur], [s for _, s in cur])
    return None if bd is None else round(bd, 2)


def write_markdown(path, r):
    lines = [f"# Neural codec encoder variants ({r['date']})", "",
             f"`{r['command']}`", "",
             f"{len(r['images'])} images, qualities {', '.join(map(str, r['qualities']))}, {r['threads']} threads; "
             f"BD-rate (PCHIP, RGB PSNR) against `{r['reference']}`; encode time: median over the timed images.", "",
             "| variant | BD-rate | encode ms | " + " | ".join(f"q{q} bpp / dB" for q in r["qualities"]) + " |",
             "|---|---|---|" + "---|" * len(r["qualities"])]
    for v, c in r["curves"].items():
        bd = r["bd_rate_percent"][v]
        lines.append(f"| `{v}` | {'—' if bd is None else f'{bd:+.2f}%'} | {r['encode_ms_median'][v]:.0f} | "
                     + " | ".join(f"{p['bpp']:.3f} / {p['psnr']:.2f}" for p in c) + " |")
    per = r.get("bd_rate_percent_per_image", {})
    if len(per) > 1:
        shown = [v for v in r["curves"] if v != r["reference"]]
        lines += ["", f"BD-rate against `{r['reference']}` per image:", "",
                  "| image | " + " | ".join(f"`{v}`" for v in shown) + " |", "|---|" + "---|" * len(shown)]
        for image, bds in per.items():
            lines.append(f"| {image} | " + " | ".join("—" if bds[v] is None else f"{bds[v]:+.2f}%" for v in shown) + " |")
        worst = [max((b[v] for b in per.values() if b[v] is not None), default=None) for v in shown]
        lines += ["| worst | " + " | ".join("—" if w is None else f"{w:+.2f}%" for w in worst) + " |"]
    if "successive" in r:
        s = r["successive"]
        lines += ["", f"Successive compression: PSNR lost from generation 1 to {s['generations']} (mean over images):", "",
                  "| variant | " + " | ".join(f"q{q}" for q in next(iter(s["loss_db"].values()))) + " |",
                  "|---|" + "---|" * len(next(iter(s["loss_db"].values())))]
        for v, qs in s["loss_db"].items():
            lines.append(f"| `{v}` | " + " | ".join(f"{d:.2f} dB" for d in qs.values()) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
