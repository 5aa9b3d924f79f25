#!/usr/bin/env python3
"""Builds the shipped model directory (models/) from finished training runs.

  python3 training/aicodec/make_settings.py [--runs training/runs] [--out models] [--no-validate]

The NN settings and their IDs are fixed here (IDs are carried in AI data, so they never change
meaning). A setting whose runs have not finished is left out and reported. For every setting the
weights go to OUT as fp32 safetensors (architecture in the metadata), and settings.json lists ID,
scale, bucket, the codec quality ranges it serves, files with sha256, the training commands and
the hold-out validation (real JPEG; ../shared/data/train hold-out, never trained on).
An up network's int8 ranges (calibrate_int8.py), and separate int8 weights with their ranges and
training command ("int8": {..., "network": ...}, "training": {"int8": ...}; qat_int8.py,
run_qat_int8.sh), stay in its entry while its weights do not change (with --keep-missing or
--reuse-validation, which read OUT/settings.json); new weights need a new calibration or
fine-tuning. So do a chroma network's int8 ranges (calibrate_int8.py --chroma) in its entry.
"""

import argparse
import copy
import json
import os
import shutil
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.export import write_net  # noqa: E402
from training.aicodec.nets import load_safetensors_net  # noqa: E402
from training.aicodec.validate import evaluate, load_nets  # noqa: E402
from training.files import sha256  # noqa: E402

# Codec-quality buckets: JPEG/WebP quality, x264/x265 CRF.
STILL = {
    "high": {"jpeg": [75, 100], "webp": [75, 100]},
    "mid": {"jpeg": [45, 74.99], "webp": [45, 74.99]},
    "low": {"jpeg": [1, 44.99], "webp": [1, 44.99]},
}
VIDEO = {
    "high": {"x264": [0, 23.99], "x265": [0, 25.99]},
    "mid": {"x264": [24, 31.99], "x265": [26, 33.99]},
    "low": {"x264": [32, 51], "x265": [34, 51]},
}
# x2 video: the low bucket's up net saw CRF up to 44 in training; above that the generic route
# (bicubic down + generic up net) measured better than the joint route on the hold-out (x265
# intra at CRF 47/51: +0.09/+0.04 dB over bicubic vs +0.02/-0.06 dB), so it takes CRF 45-51.
VIDEO_X2 = {**VIDEO, "low": {"x264": [32, 44.99], "x265": [34, 44.99]}}
STRONGEST_X2 = {"any": {"x264": [45, 51], "x265": [45, 51]}}


def only(codec, buckets):
    return {b: {codec: r[codec]} for b, r in buckets.items()}


# x264 keeps the JPEG-proxy down nets where they measured better on x264 (hold-out, x264 P pictures;
# see docs/models.md): x2 all buckets (7-9), x1.5 the high bucket (4); x265 takes the HEVC-proxy ones.
# WebP at x1.5 takes the HEVC-proxy pair (10-12): VP8 quantises like H.264/HEVC, and the JPEG-proxy
# down net's detail cost WebP so many bits that its route lost to bicubic (hold-out, BD-rate
# +11.2%; with 10-12 -8.3%, and -11.3% with their WebP chroma network).
X15_JPEG = {b: {"jpeg": r["jpeg"], **({"x264": VIDEO["high"]["x264"]} if b == "high" else {})} for b, r in STILL.items()}
X15_HEVC = {**VIDEO, "high": only("x265", VIDEO)["high"]}
X15_HEVC = {b: {**r, "webp": STILL[b]["webp"]} for b, r in X15_HEVC.items()}
VALIDATION_QUALITIES = {"high": [80, 90], "mid": [50, 70], "low": [20, 40], "any": [30, 60, 90]}
VALIDATION_CRFS = {"high": [20, 23], "mid": [26, 30], "low": [34, 40]}
VALIDATION_X265_CRFS = {"high": [17, 22], "mid": [27, 32], "low": [37, 42]}

# id, name, kind, scale, bucket, codec ranges, joint run (down net), up-net run.
# JPEG/WebP: x2 1-3 (a larger up net, 38k MACs per small-image pixel, on the JPEG-proxy down net),
# x1.5 4-6. x265 (stills and video): 10-12 (x1.5) and 13-15 (x2), joint runs through the HEVC proxy
# (flat quantisation, run_hevc.sh) with real-time up nets (5.3-5.5k MACs)
# fine-tuned on real x265 intra. The JPEG-proxy down nets added detail that costs x265 far more bits
# (x1.5: +70% at CRF 32); on the hold-out, x265 BD-rate vs bicubic went +19.5% -> -13.4% (x1.5) and
# -11.2% -> -17.8% (x2). On x264 (P pictures) the HEVC-proxy nets measured better only for x1.5 mid
# and low, so x264 keeps 4 (x1.5 high). x264 x2 (7-9): the x2 down net and mid up net fine-tuned on
# two-frame clips through an intra + P-picture proxy (run_video_temporal.sh), up nets then per bucket
# on real x264 P pictures; hold-out pan clips, BD-rate vs bicubic -4.4% -> -10.9%.
SETTINGS = [
    (1, "x2-high", "joint", "2", "high", STILL, "x2_joint", "x2s_high"),
    (2, "x2-mid", "joint", "2", "mid", STILL, "x2_joint", "x2s_mid"),
    (3, "x2-low", "joint", "2", "low", STILL, "x2_joint", "x2s_low"),
    (4, "x1.5-high", "joint", "1.5", "high", X15_JPEG, "x15r2_joint", "x15r2_high"),
    (5, "x1.5-mid", "joint", "1.5", "mid", X15_JPEG, "x15r2_joint", "x15r2_mid"),
    (6, "x1.5-low", "joint", "1.5", "low", X15_JPEG, "x15r2_joint", "x15r2_low"),
    (7, "x2-video-high", "joint", "2", "high", only("x264", VIDEO_X2), "x2t_joint", "x2t_high"),
    (8, "x2-video-mid", "joint", "2", "mid", only("x264", VIDEO_X2), "x2t_joint", "x2t_mid"),
    (9, "x2-video-low", "joint", "2", "low", only("x264", VIDEO_X2), "x2tL_joint", "x2tc2L_low"),
    (10, "x1.5-hevc-high", "joint", "1.5", "high", X15_HEVC, "x15h_joint", "x15h_high"),
    (11, "x1.5-hevc-mid", "joint", "1.5", "mid", X15_HEVC, "x15h_joint", "x15h_mid"),
    (12, "x1.5-hevc-low", "joint", "1.5", "low", X15_HEVC, "x15h_joint", "x15h_low"),
    (13, "x2-hevc-high", "joint", "2", "high", only("x265", VIDEO_X2), "x2h_joint", "x2h_high"),
    (14, "x2-hevc-mid", "joint", "2", "mid", only("x265", VIDEO_X2), "x2h_joint", "x2h_mid"),
    (15, "x2-hevc-low", "joint", "2", "low", only("x265", VIDEO_X2), "x2h_joint", "x2h_low"),
    (100, "x2-generic", "generic", "2", "any", STRONGEST_X2, None, "x2_generic_w32d6"),
]
# Luma-guided chroma networks (run_chroma.sh: train_chroma.py on pairs from chroma_data.py), run
# after the up net on rgb24 stills coded by the codecs they were trained behind:
# setting ID -> [(run name, codecs), ...]; training/runs/NAME holds NAME_chroma.safetensors and
# NAME_chroma.json (command, hold-out validation).
# The low buckets of JPEG x1.5 (6) and x265 x2 (15) have their own, continued on their qualities.
CHROMA = {**{sid: [("x2c_jpeg", ["jpeg"]), ("x2c_webp", ["webp"])] for sid in (1, 2, 3)},
          **{sid: [("x15c_jpeg", ["jpeg"]), ("x15c_webp", ["webp"])] for sid in (4, 5)},
          6: [("x15c_jpeg_low", ["jpeg"]), ("x15c_webp", ["webp"])],
          **{sid: [("x15c_x265", ["x265"]), ("x15c_webp", ["webp"])] for sid in (10, 11, 12)},
          **{sid: [("x2c_x265", ["x265"])] for sid in (13, 14)},
          15: [("x2c_x265_low", ["x265"])]}
# An up net of at most this many MACs per small-image pixel keeps up with 1080p playback on two
# cores (docs/results/bench-upscale.md); larger ones serve stills only ("realtime": false).
# Measured: 5.3k MACs (settings 7-9) 40 frames/s; a 9.9k-MAC net ran at 0.62x their frame rate
# (about 25 frames/s by that ratio), and a fixed + per-MAC fit of the two puts 30 frames/s near 7.9k.
REALTIME_MAX_UP_MACS = 7500


def is_realtime(up):
    return up.macs_per_lr_pixel() <= REALTIME_MAX_UP_MACS
RATIONAL = {"2": [2, 1], "1.5": [3, 2]}
# The codec of each setting's hold-out validation (the rest: JPEG).
VALIDATION_CODEC = {7: "x264", 8: "x264", 9: "x264", **{sid: "x265" for sid in range(10, 16)}}


def finished(runs, name):
    return name is not None and os.path.exists(os.path.join(runs, name, "final.pt"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="training/runs")
    p.add_argument("--out", default="models")
    p.add_argument("--no-validate", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep-missing", action="store_true",
                   help="settings whose runs are not here keep their OUT/settings.json entry and weights "
                        "(name and quality ranges refreshed from the table above)")
    p.add_argument("--reuse-validation", action="store_true",
                   help="keep the validation of OUT/settings.json for settings trained by the same commands")
    a = p.parse_args()
    previous = {}
    if (a.reuse_validation or a.keep_missing) and os.path.exists(os.path.join(a.out, "settings.json")):
        with open(os.path.join(a.out, "settings.json")) as f:
            previous = {e["id"]: e for e in json.load(f)["settings"]}
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    entries, written = [], {}
    for sid, name, kind, scale, bucket, ranges, joint, up_run in SETTINGS:
        shipped_down = kind == "joint" and not finished(a.runs, joint) and shipped_down_net(a.out, joint, previous.get(sid))
        if not finished(a.runs, up_run) or (kind == "joint" and not finished(a.runs, joint) and not shipped_down):
            if a.keep_missing and sid in previous:
                up = load_safetensors_net(os.path.join(a.out, previous[sid]["up"]["weights"]))
                entries.append({**previous[sid], "name": name, "quality_ranges": ranges.get(bucket, {}),
                                "realtime": is_realtime(up)})
                attach_chroma(entries[-1], a.runs, a.out, previous.get(sid))
                print(f"setting {sid} ({name}): runs not here, entry kept", file=sys.stderr)
            else:
                print(f"setting {sid} ({name}): runs not finished, left out", file=sys.stderr)
            continue
        down, up, cfg = load_nets(os.path.join(a.runs, up_run, "final.pt"))
        entry = {"id": sid, "name": name, "kind": kind, "scale": RATIONAL[scale], "bucket": bucket,
                 "quality_ranges": ranges.get(bucket, {}), "realtime": is_realtime(up),
                 "training": {"up": cfg.get("command")}}
        if shipped_down:
            down, entry["training"]["down"] = shipped_down
            entry["down"] = net_file(written, down, f"{joint}_down.safetensors", a.out)
        elif kind == "joint":
            jdown, _, jcfg = load_nets(os.path.join(a.runs, joint, "final.pt"))
            down = jdown
            entry["training"]["down"] = jcfg.get("command")
            entry["down"] = net_file(written, down, f"{joint}_down.safetensors", a.out)
        entry["up"] = net_file(written, up, f"{up_run}_up.safetensors", a.out)
        old = previous.get(sid)
        if old and old["up"].get("int8") and old["up"]["sha256"] == entry["up"]["sha256"]:
            entry["up"] = {**entry["up"], "int8": old["up"]["int8"]}   # ranges calibrated for these very weights
            if old.get("training", {}).get("int8"):
                entry["training"]["int8"] = old["training"]["int8"]
        same_training = old and {k: v for k, v in old.get("training", {}).items() if k not in ("chroma", "int8")} == \
            {k: v for k, v in entry["training"].items() if k != "int8"}
        if a.reuse_validation and same_training and "validation" in old:
            entry["validation"] = old["validation"]
        elif not a.no_validate:
            routes = ("generic", "bicubic") if kind == "generic" else ("ai", "bicubic", "full")
            codec_name = VALIDATION_CODEC.get(sid, "jpeg")
            qualities = {"x264": VALIDATION_CRFS, "x265": VALIDATION_X265_CRFS}.get(codec_name, VALIDATION_QUALITIES)
            res = evaluate(down, up, scale, qualities[bucket], routes=routes,
                           log=lambda s: print("  " + s, file=sys.stderr), codec_name=codec_name)
            codec_text = {"x264": "x264 CRF, luma coded as a P picture (training/aicodec/real_codecs.py x264_roundtrip_gray), "
                                  "chroma uncoded",
                          "x265": "x265 intra CRF, luma (training/aicodec/real_codecs.py x265_intra_roundtrip_gray), chroma uncoded",
                          "jpeg": "JPEG 4:2:0 via libjpeg (PIL)"}[codec_name]
            entry["validation"] = {"data": "8 held-out images of ../shared/data/train (never trained on)",
                                   "codec": codec_text + "; 'none' = no codec", **res}
        attach_chroma(entry, a.runs, a.out, previous.get(sid))
        entries.append(entry)
        print(f"setting {sid} ({name}) ready", file=sys.stderr)
    with open(os.path.join(a.out, "settings.json"), "w") as f:
        json.dump({"format": "libnic-settings", "version": 1, "settings": entries}, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}/settings.json with {len(entries)} settings")


def shipped_down_net(out, joint, previous):
    """(down net, training command) of a joint run that is not here but whose down net ships in
    OUT under the same name for this setting (an up net retrained on an earlier run's down
    net); None otherwise."""
    path = os.path.join(out, f"{joint}_down.safetensors")
    if not previous or previous.get("down", {}).get("weights") != os.path.basename(path) or not os.path.exists(path):
        return None
    return load_safetensors_net(path), previous["training"]["down"]


def attach_chroma(entry, runs, out, previous=None):
    """Adds the setting's chroma networks (CHROMA) to its entry and copies the weights to OUT.
    A network whose run is not here keeps its entry in `previous` (OUT's settings.json) when
    its weights are still in OUT."""
    previous = copy.deepcopy(previous)   # a kept entry shares its nested dicts with it
    entry.pop("chroma", None)
    entry.get("training", {}).pop("chroma", None)
    entry.get("validation", {}).pop("chroma", None)
    for name, codecs in CHROMA.get(entry["id"], []):
        src = os.path.join(runs, name, f"{name}_chroma.safetensors")
        if not os.path.exists(src):
            if not keep_shipped_chroma(entry, name, out, previous):
                print(f"setting {entry['id']}: chroma run {name} not finished, left out", file=sys.stderr)
            continue
        with open(os.path.join(runs, name, f"{name}_chroma.json")) as f:
            side = json.load(f)
        dst = os.path.join(out, os.path.basename(src))
        if not os.path.exists(dst) or sha256(dst) != sha256(src):
            shutil.copyfile(src, dst)
        record = {"weights": os.path.basename(src), "sha256": sha256(dst), "codecs": codecs}
        old = next((c for c in (previous or {}).get("chroma", []) if c["weights"] == record["weights"]), None)
        if old and old.get("int8") and old["sha256"] == record["sha256"]:
            record["int8"] = old["int8"]   # ranges calibrated for these very weights
        entry.setdefault("chroma", []).append(record)
        entry["training"].setdefault("chroma", {})[name] = side["training"]["command"]
        entry.setdefault("validation", {}).setdefault("chroma", {})[name] = side["validation"]


def keep_shipped_chroma(entry, name, out, previous):
    weights = f"{name}_chroma.safetensors"
    shipped = [c for c in (previous or {}).get("chroma", []) if c["weights"] == weights]
    if not shipped or not os.path.exists(os.path.join(out, weights)):
        return False
    entry.setdefault("chroma", []).append(shipped[0])
    entry.setdefault("training", {}).setdefault("chroma", {})[name] = previous["training"]["chroma"][name]
    entry.setdefault("validation", {}).setdefault("chroma", {})[name] = previous["validation"]["chroma"][name]
    return True


def net_file(written, net, filename, out):
    if filename not in written:
        path = os.path.join(out, filename)
        if same_weights(path, net):
            # safetensors' header order varies between writes: keep the file (and its sha256).
            written[filename] = {"weights": filename, "sha256": sha256(path)}
        else:
            info = write_net(net, path)
            written[filename] = {"weights": filename, "sha256": info["sha256"]}
    return written[filename]


def same_weights(path, net):
    if not os.path.exists(path):
        return False
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        if json.loads(f.metadata().get("architecture", "null")) != net.describe():
            return False
        state = net.state_dict()
        return set(f.keys()) == set(state) and all(torch.equal(f.get_tensor(k), state[k].float()) for k in state)


if __name__ == "__main__":
    main()
