#!/usr/bin/env python3
"""Rate-distortion evaluation of the neural image codec against the usual codecs,
and the successive-compression test, on ../shared/data/eval/kodak.

Codecs, all run here through their command-line tools, every file decoded back to 8-bit RGB:
  nic    `nic bench codec IMAGE --quality Q --json` (in-process encode + decode of the .nic file;
         bytes = the whole .nic file, header and checksum included); qualities 1 15 29 43 58 72 86 100
         (the model's trained gain levels); also "nic refine 0" (the encoder without its
         refinement pass)
  jpeg   libjpeg-turbo cjpeg -quality Q (4:2:0, optimised Huffman tables), djpeg
  webp   cwebp -q Q -m 6 (lossy, 4:2:0), dwebp
  avif   avifenc (libaom) -y 444 --min Q --max Q -s 6 -a tune=psnr, avifdec
  jxl    cjxl -d D -e 7, djxl
  x265   ffmpeg libx265 intra (keyint=1), yuv444p, preset medium, CRF C; bytes = raw Annex-B .hevc

Metrics: RGB PSNR over the three channels; bpp = file bits / pixels. Each quality point is the
mean bpp and mean PSNR over the images. BD-rate (Bjontegaard, cubic in log rate over the
overlapping PSNR range) of nic vs every other codec and of every codec vs JPEG.

Successive compression: an image is encoded, decoded, and the decoded 8-bit image
encoded again, 50 times at one fixed quality; PSNR against the original at every generation, for
nic with and without encoder refinement, the feature-identity model if given, and JPEG.

  python3 bench/eval_neural.py [--models DIR] [--fid-models DIR] [--limit N] [--generations 50]
                               [--baselines-from docs/results/neural-kodak.json] [--no-refine-0]

--baselines-from takes the other codecs' points from an earlier result of the same images instead of
coding them again (their tools and settings are fixed here, so only the codec under test changes);
the result names the file it took them from. --no-refine-0 leaves out the "nic refine 0" variant.

writes docs/results/neural-kodak.{json,md,png}. Timing (encode/decode ms of 768x512 images on
`--threads` threads) comes from the same `nic bench codec` runs: run it on an idle machine.
Progress goes to stderr.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)
from rdcurves import bd_rate  # noqa: E402
from training.metrics import psnr as psnr_of  # noqa: E402


def check_model_dir(path, flag):
    """Fail before the long run, not after it: nic needs settings.json and neural/codec.json."""
    for need in ("settings.json", os.path.join("neural", "codec.json")):
        if not os.path.exists(os.path.join(path, need)):
            raise SystemExit(f"{flag} {path}: no {need} (a model directory: a copy of models/ with its own neural/)")


def neural_codec_key(models):
    """What `nic encode` codes with in `models`: the record's sha256, and each quality range's model
    of neural/codec.json (`ranges`) as "+FROM:SHA256"; the key under which points are kept."""
    with open(os.path.join(models, "neural", "codec.json")) as f:
        manifest = json.load(f)
    return manifest["sha256"] + "".join(f"+{r['from_quality']}:{r['sha256']}" for r in manifest.get("ranges", []))


def nic_qualities(models):
    """The qualities of the model's trained gain levels: level l is exactly quality 1 + 99 l / (L - 1)."""
    with open(os.path.join(models, "neural", "codec.json")) as f:
        record = json.load(f)["record"]
    with open(os.path.join(models, "neural", record)) as f:
        levels = json.load(f)["architecture"]["levels"]
    return [round(1 + 99 * l / (levels - 1)) for l in range(levels)]


TOOLS = {"jpeg": ("cjpeg", "djpeg"), "webp": ("cwebp", "dwebp"), "avif": ("avifenc", "avifdec"),
         "jxl": ("cjxl", "djxl"), "x265": ("ffmpeg",)}


def check_tools(nic, codecs, successive):
    """Fail before the long run, not after it: every tool the run will call must be installed."""
    need = [t for c in codecs for t in TOOLS[c]] + (list(TOOLS["jpeg"]) if successive else [])
    missing = sorted({t for t in need if shutil.which(t) is None})
    if not os.access(nic, os.X_OK):
        missing.insert(0, nic)
    if missing:
        raise SystemExit("missing tools: " + ", ".join(missing) + " (Debian: webp libavif-bin libjxl-tools "
                         "libjpeg-turbo-progs ffmpeg; nic: make build)")


LADDERS = {
    "jpeg": [5, 10, 20, 30, 45, 60, 75, 90, 95],
    "webp": [5, 15, 30, 45, 60, 75, 85, 95],
    "avif": [56, 50, 44, 38, 32, 26, 20, 14],          # aom quantizer, high = small
    "jxl": [8.0, 5.0, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5],    # butteraugli distance
    "x265": [44, 40, 36, 32, 28, 24, 20, 16],
}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def psnr(a, b):
    """RGB PSNR of two 8-bit pictures."""
    return psnr_of(a.astype(np.float64), b.astype(np.float64), 255)


def code_with(codec, q, src, tmp):
    """Encodes PNG/PPM `src` with `codec` at setting `q`; returns (bytes, decoded RGB array)."""
    f = os.path.join(tmp, "coded")
    out = os.path.join(tmp, "decoded.png")
    if codec == "jpeg":
        ppm = os.path.join(tmp, "in.ppm")
        Image.open(src).convert("RGB").save(ppm)
        run(["cjpeg", "-quality", str(q), "-optimize", "-outfile", f, ppm])
        run(["djpeg", "-ppm", "-outfile", out, f])
    elif codec == "webp":
        run(["cwebp", "-quiet", "-q", str(q), "-m", "6", src, "-o", f])
        run(["dwebp", "-quiet", f, "-o", out])
    elif codec == "avif":
        f += ".avif"
        run(["avifenc", "-y", "444", "--min", str(q), "--max", str(q), "-s", "6", "-j", "1",
             "-a", "tune=psnr", src, f])
        run(["avifdec", f, out])
    elif codec == "jxl":
        f += ".jxl"
        run(["cjxl", src, f, "-d", str(q), "-e", "7", "--num_threads=0"])
        run(["djxl", f, out, "--num_threads=0"])
    elif codec == "x265":
        f += ".hevc"
        run(["ffmpeg", "-v", "error", "-y", "-i", src, "-c:v", "libx265", "-preset", "medium", "-crf", str(q),
             "-pix_fmt", "yuv444p", "-x265-params", "keyint=1:info=0:log-level=error", "-f", "hevc", f])
        run(["ffmpeg", "-v", "error", "-y", "-i", f, "-pix_fmt", "rgb24", out])
    else:
        raise ValueError(codec)
    return os.path.getsize(f), rgb(out)


def nic_point(nic, models, image, q, threads, refine=None, extra=(), warmup=True):
    """`nic bench codec` of one image at one quality; `extra`: more encoder options; `warmup`:
    one untimed encode first (turn it off for searches that take seconds to minutes)."""
    cmd = [nic, "bench", "codec", image, "--quality", str(q), "--repeats", "1", "--threads", str(threads), "--json"]
    cmd += [] if warmup else ["--no-warmup"]
    if refine is not None:
        cmd += ["--refine", str(refine)]
    cmd += list(extra)
    if models:
        cmd += ["--models", models]
    return json.loads(run(cmd).stdout.decode().strip().splitlines()[-1])


def mean_curve(points):
    """points: {q: [(bpp, psnr)]} -> [(q, mean bpp, mean psnr)] in ladder order."""
    return [(q, float(np.mean([p[0] for p in v])), float(np.mean([p[1] for p in v]))) for q, v in points.items()]


def successive(code, original, generations):
    """PSNR vs `original` after each generation of decode -> re-encode with `code(src_png)`."""
    curve = []
    with tempfile.TemporaryDirectory() as tmp:
        current = os.path.join(tmp, "gen.png")
        Image.fromarray(original).save(current)
        for _ in range(generations):
            decoded = code(current, tmp)
            curve.append(round(psnr(original, decoded), 3))
            Image.fromarray(decoded).save(current)
    return curve


def nic_generation(nic, models, q, refine=None, extra=(), threads=1):
    def code(src, tmp):
        f, out = os.path.join(tmp, "g.nic"), os.path.join(tmp, "g_out.png")
        model_arg = ["--models", models] if models else []
        refine_arg = [] if refine is None else ["--refine", str(refine)]
        run([nic, "encode", src, f, "--quality", str(q), "--threads", str(threads)] + model_arg + refine_arg + list(extra))
        run([nic, "decode", f, out, "--threads", str(threads)] + model_arg)
        return rgb(out)
    return code


def load_baselines(path, images, codecs):
    """The mean curves of `codecs` from an earlier result, {codec: [(q, bpp, psnr)]}, and the date they
    were coded. Refuses a result of other images or other settings, which would make the comparison
    meaningless."""
    with open(path) as f:
        earlier = json.load(f)
    names = [os.path.basename(i) for i in images]
    if earlier.get("images") != names:
        raise SystemExit(f"--baselines-from {path}: measured on other images ({len(earlier.get('images', []))} "
                         f"there, {len(names)} here)")
    out = {}
    for c in codecs:
        pts = earlier.get("curves", {}).get(c)
        if pts is None:
            raise SystemExit(f"--baselines-from {path}: no {c} curve")
        if [p["q"] for p in pts] != LADDERS[c]:
            raise SystemExit(f"--baselines-from {path}: {c} was measured at other settings")
        out[c] = [(p["q"], p["bpp"], p["psnr"]) for p in pts]
    # the date the points were coded: an earlier result may itself have taken them from another
    return out, (earlier.get("baselines_from") or {}).get("measured") or earlier.get("date")


def plot(path, curves, succ, title):
    """Rate-distortion curves (left) and mean PSNR per re-compression generation (right)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    for name, pts in curves.items():
        ax.plot([p[1] for p in pts], [p[2] for p in pts], marker="o", ms=3, label=name)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("RGB PSNR (dB)")
    ax.set_xlim(0, 2.0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    for name, per_image in succ.items():
        mean = np.mean(np.array(list(per_image.values())), axis=0)
        bx.plot(np.arange(1, len(mean) + 1), mean, label=name)
    bx.set_xlabel("generation")
    bx.set_ylabel("RGB PSNR vs. original (dB)")
    bx.grid(alpha=0.3)
    bx.legend()
    bx.set_title("successive compression")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"))
    p.add_argument("--models", default=os.path.join(REPO, "models"), help="model directory of the codec under test")
    p.add_argument("--fid-models", help="model directory (a copy of models/ whose neural/ holds the record) "
                                         "of the feature-identity model (successive test)")
    p.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "eval", "kodak"))
    p.add_argument("--limit", type=int, default=0, help="first N images only (smoke runs)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--codecs", default="jpeg,webp,avif,jxl,x265")
    p.add_argument("--generations", type=int, default=50)
    p.add_argument("--successive-images", type=int, default=4)
    p.add_argument("--successive-quality", type=int, default=58)
    p.add_argument("--jpeg-successive-quality", type=int, default=75)
    p.add_argument("--out", default=os.path.join(REPO, "docs", "results", "neural-kodak"))
    p.add_argument("--baselines-from", metavar="JSON",
                   help="an earlier result of this script on the same images: take the --codecs points from it")
    p.add_argument("--no-refine-0", action="store_true", help="leave out the \"nic refine 0\" variant")
    a = p.parse_args()
    check_model_dir(a.models, "--models")
    if a.fid_models:
        check_model_dir(a.fid_models, "--fid-models")

    images = sorted(os.path.join(a.data, f) for f in os.listdir(a.data) if f.endswith(".png"))
    if a.limit:
        images = images[:a.limit]
    codecs = [c for c in a.codecs.split(",") if c]
    baselines, baselines_date = load_baselines(a.baselines_from, images, codecs) if a.baselines_from else ({}, None)
    check_tools(a.nic, [c for c in codecs if c not in baselines], a.generations > 0 and a.successive_images > 0)
    # nic variants: the default encoder and the plain analysis (no refinement)
    variants = {"nic": (a.models, None)} if a.no_refine_0 else {"nic": (a.models, None), "nic refine 0": (a.models, 0)}
    nic_qs = nic_qualities(a.models)
    points = {name: {q: [] for q in nic_qs} for name in variants}
    points.update({c: {q: [] for q in LADDERS[c]} for c in codecs if c not in baselines})
    timing = {"encode_ms": [], "decode_ms": []}
    for i, image in enumerate(images):
        for name, (models, refine) in variants.items():
            for q in nic_qs:
                r = nic_point(a.nic, models, image, q, a.threads, refine)
                points[name][q].append((r["bpp"], r["psnr"]))
                if name == "nic" and r["width"] * r["height"] == 768 * 512:
                    timing["encode_ms"].append(r["encode_ms"])
                    timing["decode_ms"].append(r["decode_ms"])
        original = rgb(image)
        pixels = original.shape[0] * original.shape[1]
        with tempfile.TemporaryDirectory() as tmp:
            for c in codecs:
                if c in baselines:
                    continue
                for q in LADDERS[c]:
                    size, decoded = code_with(c, q, image, tmp)
                    points[c][q].append((size * 8 / pixels, psnr(original, decoded)))
        print(f"[{i + 1}/{len(images)}] {os.path.basename(image)}", file=sys.stderr, flush=True)

    curves = {name: mean_curve(v) for name, v in points.items()}
    curves.update(baselines)
    bd = {}
    for name, pts in curves.items():
        if name == "nic":
            continue
        bd[f"nic vs {name}"] = bd_rate([p[1] for p in pts], [p[2] for p in pts],
                                       [p[1] for p in curves["nic"]], [p[2] for p in curves["nic"]], "cubic")
    if "jpeg" in curves:
        for name, pts in curves.items():
            if name != "jpeg":
                bd[f"{name} vs jpeg"] = bd_rate([p[1] for p in curves["jpeg"]], [p[2] for p in curves["jpeg"]],
                                                [p[1] for p in pts], [p[2] for p in pts], "cubic")

    succ = {}
    for image in images[:a.successive_images]:
        original = rgb(image)
        name = os.path.basename(image)
        print(f"successive compression: {name}", file=sys.stderr, flush=True)
        succ.setdefault("nic", {})[name] = successive(nic_generation(a.nic, a.models, a.successive_quality),
                                                      original, a.generations)
        if "nic refine 0" in variants:
            succ.setdefault("nic refine 0", {})[name] = successive(
                nic_generation(a.nic, a.models, a.successive_quality, refine=0), original, a.generations)
        if a.fid_models:
            succ.setdefault("nic-fid", {})[name] = successive(
                nic_generation(a.nic, a.fid_models, a.successive_quality), original, a.generations)
        succ.setdefault("jpeg", {})[name] = successive(
            lambda src, tmp: code_with("jpeg", a.jpeg_successive_quality, src, tmp)[1], original, a.generations)
    succ_summary = {k: {"generation_1": float(np.mean([c[0] for c in v.values()])),
                        f"generation_{a.generations}": float(np.mean([c[-1] for c in v.values()]))}
                    for k, v in succ.items()}

    record = json.load(open(os.path.join(a.models, "neural", "codec.json")))
    sidecar = json.load(open(os.path.join(a.models, "neural", record["record"])))
    result = {
        "date": datetime.date.today().isoformat(),
        "command": "python3 bench/eval_neural.py " + " ".join(sys.argv[1:]),
        "images": [os.path.basename(i) for i in images],
        "baselines_from": ({"file": os.path.relpath(a.baselines_from, REPO), "codecs": sorted(baselines),
                            "measured": baselines_date} if baselines else None),
        "model": {"file": record["model"], "sha256": record["sha256"], "step": sidecar.get("step"),
                  "train_hours": sidecar.get("train_hours"),
                  **({"ranges": record["ranges"]} if "ranges" in record else {})},
        "curves": {k: [{"q": q, "bpp": round(b, 5), "psnr": round(s, 3)} for q, b, s in v] for k, v in curves.items()},
        "bd_rate_percent": {k: (round(v, 2) if v is not None else None) for k, v in bd.items()},
        "timing_768x512": {"threads": a.threads, "images": len(timing["encode_ms"]),
                           "encode_ms_median": round(float(np.median(timing["encode_ms"])), 1) if timing["encode_ms"] else None,
                           "decode_ms_median": round(float(np.median(timing["decode_ms"])), 1) if timing["decode_ms"] else None},
        "successive": {"nic_quality": a.successive_quality, "jpeg_quality": a.jpeg_successive_quality,
                       "generations": a.generations, "curves": succ, "summary": succ_summary},
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    plot(a.out + ".png", curves, succ, f"Kodak ({len(images)} images), nic model step {sidecar.get('step')}")
    write_markdown(a.out + ".md", result)
    print(json.dumps({"bd_rate_percent": result["bd_rate_percent"], "timing": result["timing_768x512"],
                      "successive": succ_summary}))


def write_markdown(path, r):
    lines = [f"# Neural image codec on Kodak ({len(r['images'])} images)", "",
             f"Measured {r['date']} with `{r['command']}`; model `{r['model']['file']}` "
             f"(step {r['model']['step']}, {r['model']['train_hours']} training hours).", ""]
    if r.get("baselines_from"):
        lines += [f"The points of {', '.join(r['baselines_from']['codecs'])} were coded on "
                  f"{r['baselines_from']['measured']} (the same images, tools and settings) and taken from the "
                  f"result then in `{r['baselines_from']['file']}`, not coded again.", ""]
    lines += [
             "## BD-rate (RGB PSNR; negative = fewer bits for the first codec)", "",
             "| pair | BD-rate |", "|---|---|"]
    for k, v in r["bd_rate_percent"].items():
        lines.append(f"| {k} | {'n/a (no PSNR overlap)' if v is None else f'{v:+.1f}%'} |")
    lines += ["", "## Mean rate and PSNR per setting", ""]
    for name, pts in r["curves"].items():
        lines.append(f"- **{name}**: " + ", ".join(f"{p['q']}: {p['bpp']:.3f} bpp / {p['psnr']:.2f} dB" for p in pts))
    t = r["timing_768x512"]
    lines += ["", "## Speed", "",
              f"768x512 images, {t['threads']} threads, in-process (`nic bench codec`, model loading excluded): "
              f"encode median {t['encode_ms_median']} ms, decode median {t['decode_ms_median']} ms "
              f"over {t['images']} runs.", "",
              "## Successive compression", "",
              f"Re-encoding the decoded image {r['successive']['generations']} times (nic quality "
              f"{r['successive']['nic_quality']}, JPEG quality {r['successive']['jpeg_quality']}); mean RGB PSNR vs. "
              "the original:", "", "| codec | generation 1 | last generation |", "|---|---|---|"]
    for k, v in r["successive"]["summary"].items():
        vals = list(v.values())
        lines.append(f"| {k} | {vals[0]:.2f} dB | {vals[1]:.2f} dB |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
