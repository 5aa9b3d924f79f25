#!/usr/bin/env python3
"""Layered (spatially scalable) neural coding measured with libnic itself: the top layer of a
layered file against simulcast and against single-layer coding, with the same encoder, and
against x265 simulcast as the conventional reference; decode time per layer.

For every image, layer configuration and quality:
  layered     `nic encode IMAGE F.nic --scales S --quality Q` (the default encoder, effort 0);
              bytes = the whole file (every layer); each layer decoded by `nic decode F.nic
              OUT.png --layer K` (timed, wall clock of the process); PSNR of the top layer
  single      `nic encode IMAGE` at the same quality, decoded by `nic decode` (timed)
  simulcast   every size of the layered file (read with `nic info --json`) coded alone at the
              same quality, bytes summed; the smaller versions are PIL's antialiased bicubic
              down-scales of the image; the top layer's PSNR is the single-layer one
  x265        every size coded alone by x265 intra (bench/eval_neural.py's settings, yuv444p),
              at each CRF of --x265-crfs, bytes summed; PSNR of the top size

Metrics: RGB PSNR of the top layer against the image; bpp = bits of all layers / top pixels;
each point the mean bpp and mean PSNR over the images. BD-rate (PCHIP, bench/rdcurves.py) of
the layered curve against each reference, on the mean curves and per image. Decode times: the
median over the images (768x512 ones when there are any) of each layer's decode and of the
single-layer file's, all including the process start and model loading, so that the ratios are
what they compare.

  python3 bench/eval_layered.py --data ../shared/data/eval/kodak --out docs/results/layered-kodak
  python3 bench/eval_layered.py --holdout-whole --out docs/results/layered-holdout
        [--configs "1.5;2;1.5,1.78"] [--qualities 1,34,67,100] [--x265-crfs 44,40,36,32,28]
        [--limit N] [--threads 2] [--points POINTS.jsonl] [--models DIR] [--nic PATH]

`--holdout-whole` codes the neural codec's hold-out photos whole (952 to 1388 pixels wide; the
residual codec's training validated on their central crops). `--points FILE` keeps every
measured point as a line of JSON and takes points already there instead of coding them again
(a resumable run). Progress goes to stderr.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
from eval_neural import check_model_dir, code_with, neural_codec_key, psnr, rgb, run  # noqa: E402
from rdcurves import bd_rate  # noqa: E402


def timed(cmd):
    t = time.perf_counter()
    run(cmd)
    return round((time.perf_counter() - t) * 1000, 1)


def config_name(scales):
    return "x" + ",x".join(f"{s:g}" for s in scales)


def holdout_whole(folder):
    """The neural codec's hold-out photos (training/neural/data.py's split), whole, as PNG."""
    sys.path.insert(0, REPO)
    from training.neural import data
    _, val = data.split(data.list_images(data.DEFAULT_DATA))
    paths = []
    for rel in val:
        path = os.path.join(folder, rel.replace("/", "_").rsplit(".", 1)[0] + ".png")
        Image.fromarray(data.load(data.DEFAULT_DATA, rel)).save(path)
        paths.append(path)
    return paths


class Points:
    """The --points file: measured points by (models' keys, kind, image, configuration, setting, threads)."""

    def __init__(self, path, models):
        base = neural_codec_key(models)
        with open(os.path.join(models, "layered", "residual.json")) as f:
            residual = json.load(f)["sha256"]
        self.models, self.path, self.points = [base, residual], path, {}
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        self.points[json.dumps(r["key"])] = r["value"]

    def get(self, key, measure, *args):
        """The point of `key`, or measure(*args) kept as it."""
        k = self.models + key
        value = self.points.get(json.dumps(k))
        if value is None:
            value = measure(*args)
            self.points[json.dumps(k)] = value
            if self.path:
                with open(self.path, "a") as f:
                    f.write(json.dumps({"key": k, "value": value}) + "\n")
        return value


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"))
    p.add_argument("--data", help="folder of .png images (the evaluation set)")
    p.add_argument("--holdout-whole", action="store_true", help="the neural codec's hold-out photos, whole")
    p.add_argument("--configs", default="1.5;2;1.5,1.78",
                   help="layer configurations separated by ';', each the factors smallest first (nic --scales)")
    p.add_argument("--qualities", default="1,34,67,100")
    p.add_argument("--x265-crfs", default="44,40,36,32,28")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--points", help="JSON-lines file of measured points, read and extended (resumable runs)")
    p.add_argument("--out", help="write OUT.json and OUT.md")
    a = p.parse_args()
    check_model_dir(a.models, "--models")
    if not os.access(a.nic, os.X_OK):
        raise SystemExit(f"{a.nic}: not found (make build)")
    configs = [[float(s) for s in c.split(",")] for c in a.configs.split(";")]
    qualities = [int(q) for q in a.qualities.split(",")]
    crfs = [int(c) for c in a.x265_crfs.split(",")]
    store = Points(a.points, a.models)
    nic_args = ["--models", a.models, "--threads", str(a.threads)]

    with tempfile.TemporaryDirectory() as tmp:
        if a.holdout_whole:
            images = holdout_whole(tmp)
        elif a.data:
            images = sorted(os.path.join(a.data, f) for f in os.listdir(a.data) if f.endswith(".png"))
        else:
            raise SystemExit("give --data FOLDER or --holdout-whole")
        if a.limit:
            images = images[:a.limit]
        sizes = [Image.open(i).size for i in images]
        timed_images = [i for i, s in enumerate(sizes) if s in ((768, 512), (512, 768))] or list(range(len(images)))

        def version(image, w, h):
            """The image at w x h (itself at its own size), as a PNG path."""
            im = Image.open(image).convert("RGB")
            if im.size == (w, h):
                return image
            path = os.path.join(tmp, f"v_{w}x{h}.png")
            im.resize((w, h), Image.BICUBIC, reducing_gap=None).save(path)
            return path

        def nic_single(image, w, h, q, decode):
            src = version(image, w, h)
            f, out = os.path.join(tmp, "s.nic"), os.path.join(tmp, "s.png")
            r = {"encode_ms": timed([a.nic, "encode", src, f, "--quality", str(q)] + nic_args),
                 "bytes": os.path.getsize(f)}
            if decode:
                r["decode_ms"] = timed([a.nic, "decode", f, out] + nic_args)
                r["psnr"] = round(psnr(rgb(src), rgb(out)), 4)
            return r

        def nic_layered(image, scales, q):
            f, out = os.path.join(tmp, "l.nic"), os.path.join(tmp, "l.png")
            scale_arg = ",".join(f"{s:g}" for s in scales)
            r = {"encode_ms": timed([a.nic, "encode", image, f, "--scales", scale_arg, "--quality", str(q)] + nic_args),
                 "bytes": os.path.getsize(f)}
            info = json.loads(run([a.nic, "info", f, "--json"]).stdout)
            r["layers"] = [{"width": L["width"], "height": L["height"], "bytes": L["bytes"]} for L in info["layers"]]
            for k in range(len(r["layers"])):
                r["layers"][k]["decode_ms"] = timed([a.nic, "decode", f, out, "--layer", str(k)] + nic_args)
            r["psnr"] = round(psnr(rgb(image), rgb(out)), 4)   # the last decode: the top layer
            return r

        def x265(image, w, h, crf):
            src = version(image, w, h)
            size, decoded = code_with("x265", crf, src, tmp)
            return {"bytes": size, "psnr": round(psnr(rgb(src), decoded), 4)}

        rows = []
        for i, image in enumerate(images):
            name = os.path.basename(image)
            w, h = sizes[i]
            for scales in configs:
                cfg = config_name(scales)
                for q in qualities:
                    lay = store.get(["layered", name, cfg, q, a.threads], nic_layered, image, scales, q)
                    single = store.get(["single", name, f"{w}x{h}", q, a.threads], nic_single, image, w, h, q, True)
                    lower = [store.get(["single", name, f"{L['width']}x{L['height']}", q, a.threads],
                                       nic_single, image, L["width"], L["height"], q, False)
                             for L in lay["layers"][:-1]]
                    rows.append({"image": name, "config": cfg, "q": q, "pixels": w * h, "layered": lay,
                                 "single": single, "simulcast_bytes": single["bytes"] + sum(s["bytes"] for s in lower)})
                    print(f"[{i + 1}/{len(images)}] {name} {cfg} q{q}: layered {lay['bytes']} B {lay['psnr']:.2f} dB, "
                          f"simulcast {rows[-1]['simulcast_bytes']} B, single {single['bytes']} B {single['psnr']:.2f} dB",
                          file=sys.stderr, flush=True)
                for crf in crfs:
                    vs = [store.get(["x265", name, f"{L['width']}x{L['height']}", crf],
                                    x265, image, L["width"], L["height"], crf) for L in lay["layers"]]
                    rows.append({"image": name, "config": cfg, "crf": crf, "pixels": w * h,
                                 "x265_simulcast_bytes": sum(v["bytes"] for v in vs), "psnr": vs[-1]["psnr"]})

    result = summarise(rows, images, configs, qualities, crfs, timed_images)
    result.update({"date": datetime.date.today().isoformat(),
                   "command": "python3 bench/eval_layered.py " + " ".join(sys.argv[1:]),
                   "threads": a.threads, "models_sha256": {"base": store.models[0], "residual": store.models[1]}})
    for cfg, s in result["configs"].items():
        print(f"{cfg}: layered vs simulcast {s['bd_rate_percent']['simulcast']}%, vs single {s['bd_rate_percent']['single']}%, "
              f"vs x265 simulcast {s['bd_rate_percent']['x265_simulcast']}%")
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".json", "w") as f:
            json.dump(result | {"rows": rows}, f, indent=1)
        write_markdown(a.out + ".md", result)


def curve(points):
    """[(bpp, psnr)] per image at one setting -> (mean bpp, mean psnr)."""
    return float(np.mean([b for b, _ in points])), float(np.mean([s for _, s in points]))


def bd(ref, test):
    r = bd_rate([b for b, _ in ref], [s for _, s in ref], [b for b, _ in test], [s for _, s in test])
    return None if r is None else round(r, 2)


REFERENCES = ("simulcast", "single", "x265_simulcast")

# (bits per top-layer pixel, top-layer PSNR) of a nic row, by curve: the simulcast's top layer is
# the single-layer file.
NIC_POINT = {
    "layered": lambda r: (8 * r["layered"]["bytes"] / r["pixels"], r["layered"]["psnr"]),
    "simulcast": lambda r: (8 * r["simulcast_bytes"] / r["pixels"], r["single"]["psnr"]),
    "single": lambda r: (8 * r["single"]["bytes"] / r["pixels"], r["single"]["psnr"]),
}


def route_curves(nic, hevc, qualities, crfs, image=None):
    """The mean curves of every route over the rows of one configuration (of one image, if given)."""
    nic = [r for r in nic if image is None or r["image"] == image]
    hevc = [r for r in hevc if image is None or r["image"] == image]
    curves = {k: [curve([of(r) for r in nic if r["q"] == q]) for q in qualities] for k, of in NIC_POINT.items()}
    curves["x265_simulcast"] = [curve([(8 * r["x265_simulcast_bytes"] / r["pixels"], r["psnr"])
                                       for r in hevc if r["crf"] == c]) for c in crfs]
    return curves


def summarise(rows, images, configs, qualities, crfs, timed_images):
    names = [os.path.basename(i) for i in images]
    timed_names = {names[i] for i in timed_images}
    out = {"images": names, "qualities": qualities, "x265_crfs": crfs, "configs": {}}
    for scales in configs:
        cfg = config_name(scales)
        nic = [r for r in rows if r["config"] == cfg and "q" in r]
        hevc = [r for r in rows if r["config"] == cfg and "crf" in r]
        curves = route_curves(nic, hevc, qualities, crfs)
        per_image = {}
        for n in names:
            c = route_curves(nic, hevc, qualities, crfs, n)
            per_image[n] = {k: bd(c[k], c["layered"]) for k in REFERENCES}
        layers = len(scales) + 1
        timing = [r for r in nic if r["image"] in timed_names]
        out["configs"][cfg] = {
            "layers": layers,
            "curves": {k: [{"bpp": round(b, 5), "psnr": round(s, 3)} for b, s in c] for k, c in curves.items()},
            "bd_rate_percent": {k: bd(curves[k], curves["layered"]) for k in REFERENCES},
            "bd_rate_percent_per_image": per_image,
            "decode_ms_median": {
                "layers": [round(float(np.median([r["layered"]["layers"][k]["decode_ms"] for r in timing])), 1)
                           for k in range(layers)],
                "single": round(float(np.median([r["single"]["decode_ms"] for r in timing])), 1)},
            "encode_ms_median": {"layered": round(float(np.median([r["layered"]["encode_ms"] for r in timing])), 1),
                                 "single": round(float(np.median([r["single"]["encode_ms"] for r in timing])), 1)},
        }
    return out


def write_markdown(path, r):
    pct = lambda v: "—" if v is None else f"{v:+.2f}%"  # noqa: E731
    lines = [f"# Layered neural coding ({r['date']})", "",
             f"`{r['command']}`", "",
             f"{len(r['images'])} images; qualities {', '.join(map(str, r['qualities']))}; x265 CRF "
             f"{', '.join(map(str, r['x265_crfs']))}; nic threads {r['threads']}; base record sha256 "
             f"`{r['models_sha256']['base'][:12]}`, residual `{r['models_sha256']['residual'][:12]}`. Method: the "
             "docstring of bench/eval_layered.py. BD-rate of the layered file's top layer (PCHIP, RGB PSNR, rate of "
             "every layer) against each reference; negative = the layered file is smaller.", "",
             "| layers | vs simulcast | vs single layer | vs x265 simulcast | worst image vs simulcast / single |",
             "|---|---|---|---|---|"]
    for cfg, s in r["configs"].items():
        b, per = s["bd_rate_percent"], s["bd_rate_percent_per_image"].values()
        worst_sim = max((v["simulcast"] for v in per if v["simulcast"] is not None), default=None)
        worst_single = max((v["single"] for v in per if v["single"] is not None), default=None)
        lines.append(f"| {cfg} | {pct(b['simulcast'])} | {pct(b['single'])} | {pct(b['x265_simulcast'])} | "
                     f"{pct(worst_sim)} / {pct(worst_single)} |")
    lines += ["", "Mean points (bpp / dB), by quality or CRF:", "",
              "| layers | curve | points |", "|---|---|---|"]
    for cfg, s in r["configs"].items():
        for k, c in s["curves"].items():
            lines.append(f"| {cfg} | {k} | " + ", ".join(f"{p['bpp']:.4f} / {p['psnr']:.2f}" for p in c) + " |")
    lines += ["", "Decode and encode time (ms, median over the timed images; each a whole `nic` process, model "
              "loading included):", "",
              "| layers | decode per layer, smallest first | single-layer decode | encode layered / single |",
              "|---|---|---|---|"]
    for cfg, s in r["configs"].items():
        d, e = s["decode_ms_median"], s["encode_ms_median"]
        lines.append(f"| {cfg} | {' / '.join(f'{t:.0f}' for t in d['layers'])} | {d['single']:.0f} | "
                     f"{e['layered']:.0f} / {e['single']:.0f} |")
    lines += ["", "BD-rate per image (vs simulcast / vs single layer / vs x265 simulcast):", "",
              "| image | " + " | ".join(r["configs"]) + " |", "|---|" + "---|" * len(r["configs"])]
    for n in r["images"]:
        cells = []
        for s in r["configs"].values():
            v = s["bd_rate_percent_per_image"][n]
            cells.append(f"{pct(v['simulcast'])} / {pct(v['single'])} / {pct(v['x265_simulcast'])}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
