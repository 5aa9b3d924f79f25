#!/usr/bin/env python3
"""Activation ranges for 8-bit inference of the shipped up networks.

For every chosen setting's up network, the training images (without the hold-out of
data.split_train_val) are brought to the small size the way the player receives them (luma through
the setting's down network, or antialiased bicubic for a generic setting, rounded to 8 bits), the
up network runs on them, and at the input of each convolution a high percentile of |x| over every
value is taken (from a histogram with log-spaced bins, 0.2% wide). The default, 100, is the largest
value seen: lower percentiles gain a little on photos but saturate on sharp synthetic content
(docs/decisions/int8-inference.md). libnic quantises each
convolution's input to signed 8 bits over -range...range with these ranges (per tensor) and the
weights per output channel from the float weights themselves.

Written as MODELS/<up weights stem>.int8.json next to the weights, and recorded with its sha256 in
the setting's "up" entry of settings.json ("int8": {"ranges": FILE, "sha256": HEX}).

--chroma calibrates the chosen settings' chroma networks instead (train_chroma.py), each once
however many settings name it: random crops of the training images go through the real AI route
(chroma_data.route_pairs: `nic` and the codec the network was trained behind, at qualities drawn
from the quality ranges of the settings that name it for that codec), and the network runs on the
decoder's output (AI luma, bicubic chroma) as libnic runs it. The ranges go to
MODELS/<chroma weights stem>.int8.json, recorded in every "chroma" entry naming those weights;
--only FILE,... restricts it to those weights files.

  python3 training/aicodec/calibrate_int8.py [--models models] [--settings realtime|all|4,7] [--percentile 100]
  python3 training/aicodec/calibrate_int8.py --chroma --settings all [--samples 64] [--only x2c_jpeg_chroma.safetensors]
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.colour import luma_np  # noqa: E402
from training.aicodec.data import crop_multiple, list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.nets import load_safetensors_net, out_size  # noqa: E402
from training.files import sha256  # noqa: E402

FORMAT = "libnic-int8-ranges"
BINS = 8192
LOG_LOW, LOG_HIGH = -6.0, 4.0   # |x| from 1e-6 to 1e4; smaller values count in the first bin


def histogram(x):
    """Counts of |x| in BINS log-spaced bins over 10^LOG_LOW...10^LOG_HIGH."""
    logs = torch.log10(x.abs().flatten().double().clamp_min(10 ** LOG_LOW))
    index = ((logs - LOG_LOW) / (LOG_HIGH - LOG_LOW) * BINS).long().clamp(0, BINS - 1)
    return torch.bincount(index, minlength=BINS)


def percentile(counts, p):
    """The upper edge of the bin in which the cumulative share of values reaches p percent."""
    cumulative = torch.cumsum(counts.double(), 0)
    b = int(torch.searchsorted(cumulative, cumulative[-1] * p / 100.0))
    return float(10 ** (LOG_LOW + (min(b, BINS - 1) + 1) * (LOG_HIGH - LOG_LOW) / BINS))


@torch.no_grad()
def small_of(y, down, scale):
    """Luma y (n, 1, h, w) in [0, 1], sides multiples of 6, brought to the small size by the down
    network (antialiased bicubic when `down` is None) and rounded to 8-bit levels."""
    size = out_size("down", scale, y.shape[-2], y.shape[-1])
    small = down(y) if down is not None else F.interpolate(y, size=size, mode="bicubic", align_corners=False, antialias=True)
    return (small.clamp(0, 1) * 255).round() / 255


def small_luma(rgb, down, scale):
    """The small image's luma in [0, 1] (8-bit levels) as the up network receives it."""
    return small_of(torch.from_numpy(luma_np(crop_multiple(rgb, 6)))[None, None], down, scale)


def conv_input_histograms(up, images):
    """One histogram of |x| per convolution input of `up` over all `images`."""
    return input_histograms(up.convs, up.body, images)


@torch.no_grad()
def input_histograms(convs, run, inputs):
    """One histogram of |x| per input of the modules `convs` while `run` runs on each of `inputs`."""
    counts = [torch.zeros(BINS, dtype=torch.long) for _ in convs]

    def count(i):
        def hook(_, args):
            counts[i].add_(histogram(args[0]))   # returns None: the input goes on unchanged
        return hook

    hooks = [c.register_forward_pre_hook(count(i)) for i, c in enumerate(convs)]
    try:
        for x in inputs:
            run(x)
    finally:
        for h in hooks:
            h.remove()
    return counts


def calibrated_ranges(up, images, p):
    """The p-th percentile of |x| at each convolution input of `up` over all `images`."""
    return [percentile(c, p) for c in conv_input_histograms(up, images)]


def ranges_record(network_file, network_sha256, p, images, command, ranges):
    """The ranges file's content (FORMAT) for the network `network_file`."""
    return {"format": FORMAT, "version": 1, "network": network_file, "network_sha256": network_sha256,
            "percentile": p, "images": images, "command": command,
            "conv_inputs": [float(np.float32(r)) for r in ranges]}


def setting_scale(setting):
    """The nets.py scale ("2" or "1.5") of a settings.json entry."""
    return "2" if setting["scale"] == [2, 1] else "1.5"


def chosen_settings(manifest, which):
    settings = manifest["settings"]
    if which == "all":
        return settings
    if which == "realtime":
        return [s for s in settings if s.get("realtime", s["kind"] == "joint")]
    ids = {int(v) for v in which.split(",")}
    return [s for s in settings if s["id"] in ids]


def chroma_networks(settings):
    """The chroma networks `settings` name: {weights file: (scale, {codec: (lowest, highest quality)})}, the
    qualities those of the settings that name the network for that codec, within the range
    chroma_data.py trains on (all of it where no setting gives one)."""
    from training.aicodec.chroma_data import QUALITY_RANGE
    networks = {}
    for s in settings:
        for entry in s.get("chroma", []):
            _, codecs = networks.setdefault(entry["weights"], (setting_scale(s), {}))
            for codec in entry["codecs"]:
                lo, hi = QUALITY_RANGE[codec]
                r = s.get("quality_ranges", {}).get(codec)
                r = (max(lo, math.ceil(r[0])), min(hi, math.floor(r[1]))) if r else (lo, hi)
                old = codecs.get(codec)
                codecs[codec] = (min(old[0], r[0]), max(old[1], r[1])) if old else r
    return networks


def calibrate_chroma(a, manifest, settings, command):
    """--chroma: ranges for the chroma networks of `settings`, recorded in `manifest`."""
    from training.aicodec.chroma_data import route_pairs
    from training.aicodec.train_chroma import load_chroma_net, to_ycc
    train, _ = split_train_val(list_train_images())
    rgbs = [load_rgb(f) for f in train]
    only = set(a.only.split(",")) if a.only else None
    for weights, (scale, codecs) in chroma_networks(settings).items():
        if only is not None and weights not in only:
            continue
        net = load_chroma_net(os.path.join(a.models, weights)).eval()
        inputs = []
        for k, (codec, qualities) in enumerate(sorted(codecs.items())):
            _, dec, _, _ = route_pairs(a.nic, a.models, rgbs, scale, codec, a.samples, a.crop, 0.0, a.seed + k,
                                       qualities, log=False)
            inputs += [to_ycc(dec[i:i + 16]) for i in range(0, len(dec), 16)]
        ranges = [percentile(c, a.percentile) for c in input_histograms(net.convs, net, inputs)]
        name = os.path.splitext(weights)[0] + ".int8.json"
        sha = next(e["sha256"] for s in settings for e in s.get("chroma", []) if e["weights"] == weights)
        record = ranges_record(weights, sha, a.percentile, len(rgbs), command, ranges)
        record["crops"] = {codec: {"samples": a.samples, "crop": a.crop, "qualities": list(q)} for codec, q in codecs.items()}
        with open(os.path.join(a.models, name), "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        entry = {"ranges": name, "sha256": sha256(os.path.join(a.models, name))}
        for s in manifest["settings"]:
            for e in s.get("chroma", []):
                if e["weights"] == weights:
                    e["int8"] = dict(entry)
        print(f"{weights}: {name}: " + ", ".join(f"{r:.4g}" for r in ranges), file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="models")
    p.add_argument("--settings", default="realtime", help="realtime (the player's settings), all, or a list of IDs")
    p.add_argument("--percentile", type=float, default=100.0)
    p.add_argument("--limit", type=int, default=0, help="at most this many training images (0: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chroma", action="store_true", help="calibrate the settings' chroma networks instead")
    p.add_argument("--only", help="--chroma: only these chroma weights files (comma-separated)")
    p.add_argument("--samples", type=int, default=64, help="--chroma: training crops per network and codec")
    p.add_argument("--crop", type=int, default=192, help="--chroma: crop size (a multiple of 12)")
    p.add_argument("--seed", type=int, default=1, help="--chroma: the crops' and qualities' random seed")
    p.add_argument("--nic", default=os.path.join(REPO, ".build", "release", "nic"), help="--chroma: the nic tool")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    manifest_path = os.path.join(a.models, "settings.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    if a.chroma:
        command = "python3 training/aicodec/calibrate_int8.py " + " ".join(sys.argv[1:])
        calibrate_chroma(a, manifest, chosen_settings(manifest, a.settings), command)
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        return
    train, _ = split_train_val(list_train_images())
    if a.limit:
        train = train[:a.limit]
    rgbs = [load_rgb(f) for f in train]
    command = "python3 training/aicodec/calibrate_int8.py " + " ".join(sys.argv[1:])
    smalls = {}   # per down network (or scale, for bicubic): the small images, computed once
    for s in chosen_settings(manifest, a.settings):
        scale = setting_scale(s)
        down_file = s["down"]["weights"] if s.get("down") else None
        key = down_file or "bicubic" + scale
        if key not in smalls:
            down = load_safetensors_net(os.path.join(a.models, down_file)).eval() if down_file else None
            smalls[key] = [small_luma(rgb, down, scale) for rgb in rgbs]
        up_file = s["up"]["weights"]
        up = load_safetensors_net(os.path.join(a.models, up_file)).eval()
        ranges = calibrated_ranges(up, smalls[key], a.percentile)
        name = os.path.splitext(up_file)[0] + ".int8.json"
        record = ranges_record(up_file, s["up"]["sha256"], a.percentile, len(rgbs), command, ranges)
        with open(os.path.join(a.models, name), "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        s["up"]["int8"] = {"ranges": name, "sha256": sha256(os.path.join(a.models, name))}
        print(f"setting {s['id']}: {name}: " + ", ".join(f"{r:.4g}" for r in ranges), file=sys.stderr)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
