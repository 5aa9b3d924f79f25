#!/usr/bin/env python3
"""Quantisation-aware fine-tuning (QAT) of a shipped up network for 8-bit inference.

Starts from the setting's float up network (models/, load_safetensors_net) and fine-tunes it with
the int8 body in the forward pass exactly as `check_int8.py --exact` computes it
(check_int8.int8_forward: weights rounded per output channel to -127...127, each convolution input
rounded per tensor to -127...127 over its range and saturated), rounding through the
straight-through estimator. The ranges start at calibrate_int8's percentile-100 values (the
largest |x| at each convolution input) of the original float network on training images, the
shipped choice, and stay fixed; with --learn-ranges they are trained too, their gradient the one
the straight-through rounding gives a quantiser's step (as in learned step size quantisation,
LSQ), at --range-lr-mult times the weights' learning rate, and with --range-floor F none below F
times its calibrated value. --ranges-only learns the ranges alone and keeps the original
weights (writes OUT/<weights stem>.int8.json, ranges for the shipped weights, named as
calibrate_int8 names them).

Training crops (the training images without the hold-out of data.split_train_val) are prepared as
calibrate_int8 prepares whole images: luma through the setting's own down network to the small
size, rounded to 8 bits, no codec. --target float (default) distils: the loss is the MSE of the
int8 network against the original float network on the same small image, so the fine-tuning
learns to compute the float function in 8 bits without moving it towards the codec-free
images (the shipped up networks were fine-tuned on real codecs). --target original: the MSE
against the original crop instead. --synthetic S replaces a share S of each batch by synthetic
graphics crops (synthetic.graphics_luma: text, bars, lines, gratings, hard-edged shapes), prepared
and distilled alike, so that learned ranges and weights also serve content sharper than photos;
--synthetic-direct D gives a share D of those crops to the up network directly, drawn at the small
size (graphics composited at the coded size, sharper than a down network ever makes them).
--float-layers 0 keeps those convolutions out of int8 (in bfloat16, as libnic's mixed int8 body runs
them) and lists them in the ranges file as "float_convolutions"; with --ranges-only --steps 0 the
calibrated ranges ship unchanged with those convolutions kept in float.

Writes OUT/NAME_up.safetensors (the fine-tuned float weights, as export.py writes networks),
OUT/NAME_up.int8.json (their ranges: the fixed or the learned ones), OUT/original_up.int8.json
(the calibrated ranges of the original weights, as calibrate_int8 would write them), config.json
and log.jsonl; resumable (OUT/ckpt.pt) by rerunning the same command. Measured by
check_int8.py --settings ID --weights OUT/NAME_up.safetensors --ranges OUT/NAME_up.int8.json.

  python3 training/aicodec/qat_int8.py --setting 4 --steps 1000 --out training/runs/qat4
"""

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.calibrate_int8 import calibrated_ranges, ranges_record, setting_scale, small_luma, small_of  # noqa: E402
from training.aicodec.check_int8 import int8_forward  # noqa: E402
from training.aicodec.data import CropSampler, list_train_images, load_rgb, split_train_val  # noqa: E402
from training.aicodec.export import write_net  # noqa: E402
from training.aicodec.nets import load_safetensors_net, out_size  # noqa: E402
from training.aicodec.synthetic import graphics_luma  # noqa: E402
from training.files import save_json, sha256  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setting", type=int, required=True, help="settings.json ID of the up network to fine-tune")
    p.add_argument("--models", default="models")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--target", choices=["float", "original"], default="float",
                   help="float: the original float network's output (distillation); original: the original crop")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=144, help="original-size crop side (a multiple of 6)")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--lr-final", type=float, default=2e-6)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--percentile", type=float, default=100.0, help="calibration percentile of the fixed ranges")
    p.add_argument("--learn-ranges", action="store_true", help="train the ranges with the weights")
    p.add_argument("--range-lr-mult", type=float, default=10.0, help="--learn-ranges: their learning rate over --lr")
    p.add_argument("--ranges-only", action="store_true",
                   help="learn the ranges alone (implies --learn-ranges): the original weights stay, at the ranges' learning rate")
    p.add_argument("--range-floor", type=float, default=0.0,
                   help="--learn-ranges: no range below this share of its calibrated value (sharp content saturates less)")
    p.add_argument("--synthetic", type=float, default=0.0,
                   help="share of each batch made of synthetic graphics crops (0...1)")
    p.add_argument("--synthetic-direct", type=float, default=0.0,
                   help="share of the synthetic crops drawn at the small size and given to the up network "
                        "directly (--target float only)")
    p.add_argument("--float-layers", default="",
                   help="convolutions (indices from 0, e.g. 0 or 0,3) kept out of int8, in bfloat16 as libnic runs them; "
                        "recorded in the ranges file as \"float_convolutions\"")
    p.add_argument("--calib-images", type=int, default=0, help="training images for the ranges (0: all)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.crop % 6:
        p.error("--crop must be a multiple of 6")
    if not 0 <= a.synthetic < 1:
        p.error("--synthetic must be in [0, 1)")
    if not 0 <= a.synthetic_direct <= 1:
        p.error("--synthetic-direct must be in [0, 1]")
    if a.synthetic_direct and a.target != "float":
        p.error("--synthetic-direct has no original crop to target: it needs --target float")
    if a.ranges_only:
        a.learn_ranges = True
    a.float_layers = sorted({int(v) for v in a.float_layers.split(",") if v})
    return a


def lr_at(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(1.0, t)))


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    command = "python3 training/aicodec/qat_int8.py " + " ".join(sys.argv[1:])
    with open(os.path.join(a.models, "settings.json")) as f:
        setting = next(s for s in json.load(f)["settings"] if s["id"] == a.setting)
    scale = setting_scale(setting)
    down = load_safetensors_net(os.path.join(a.models, setting["down"]["weights"])).eval()
    teacher = load_safetensors_net(os.path.join(a.models, setting["up"]["weights"])).eval()
    for prm in list(down.parameters()) + list(teacher.parameters()):
        prm.requires_grad_(False)
    up_file = setting["up"]["weights"]
    name = os.path.splitext(up_file)[0].removesuffix("_up") + "_qat"
    train, _ = split_train_val(list_train_images())

    original_ranges = os.path.join(a.out, "original_up.int8.json")
    if os.path.exists(original_ranges):
        with open(original_ranges) as f:
            record = json.load(f)
    else:
        t0 = time.time()
        calib = train[:a.calib_images] if a.calib_images else train
        ranges = calibrated_ranges(teacher, [small_luma(load_rgb(f), down, scale) for f in calib], a.percentile)
        record = ranges_record(up_file, setting["up"]["sha256"], a.percentile, len(calib), command, ranges)
        save_json(original_ranges, record)
        print(f"ranges ({len(calib)} images, {time.time() - t0:.0f} s): " + " ".join(f"{r:.4g}" for r in ranges), flush=True)
    ranges = torch.tensor(record["conv_inputs"], requires_grad=a.learn_ranges)

    up = copy.deepcopy(teacher).train()
    for prm in up.parameters():
        prm.requires_grad_(not a.ranges_only)
    floor = torch.tensor(record["conv_inputs"]) * a.range_floor + 1e-3
    groups = [] if a.ranges_only else [{"params": list(up.parameters()), "mult": 1.0}]
    if a.learn_ranges:
        groups.append({"params": [ranges], "mult": a.range_lr_mult})
    opt = torch.optim.Adam(groups, lr=a.lr)
    sampler = CropSampler(train, a.seed)
    n_synthetic = round(a.batch * a.synthetic)
    n_direct = round(n_synthetic * a.synthetic_direct)
    small_side = out_size("down", scale, a.crop, a.crop)[0]
    synthetic_rng = np.random.default_rng([a.seed, 1])
    step, ckpt = 0, os.path.join(a.out, "ckpt.pt")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        up.load_state_dict(state["up"]); opt.load_state_dict(state["opt"]); sampler.set_state(state["sampler"])
        if "synthetic_rng" in state:
            synthetic_rng.bit_generator.state = state["synthetic_rng"]
        with torch.no_grad():
            ranges.copy_(state["ranges"])
        torch.set_rng_state(state["torch_rng"]); step = state["step"]
        print(f"resumed at step {step}", flush=True)
    else:
        save_json(os.path.join(a.out, "config.json"), {**vars(a), "command": command, "up_file": up_file,
                                                        "up_sha256": setting["up"]["sha256"], "scale": scale,
                                                        "ranges": record["conv_inputs"]})
        open(os.path.join(a.out, "log.jsonl"), "w").close()

    sums, t_log = {"loss": 0.0, "float_loss": 0.0, "n": 0}, time.time()
    while step < a.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(a, step) * g["mult"]
        with torch.no_grad():
            hr = sampler.batch(a.batch - n_synthetic, a.crop)
            if n_synthetic > n_direct:
                hr = torch.cat([hr, graphics_luma(n_synthetic - n_direct, a.crop, synthetic_rng)])
            small = small_of(hr, down, scale)
            if n_direct:
                direct = (graphics_luma(n_direct, small_side, synthetic_rng) * 255).round() / 255
                small = torch.cat([small, direct])
            target = teacher(small) if a.target == "float" else hr
        out = int8_forward(up, small, list(ranges) if a.learn_ranges else record["conv_inputs"], ste=True,
                           float_layers=a.float_layers)
        loss = ((out - target) ** 2).mean() * 1000.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if a.learn_ranges:
            with torch.no_grad():
                torch.maximum(ranges, floor, out=ranges)
        step += 1
        with torch.no_grad():   # the fine-tuned weights in float32 on the same batch
            sums["float_loss"] += float(((up(small) - target) ** 2).mean() * 1000.0)
        sums["loss"] += loss.item(); sums["n"] += 1
        if step % a.log_every == 0 or step == a.steps:
            now = time.time()
            rec = {"step": step, "lr": opt.param_groups[0]["lr"], "loss_int8": sums["loss"] / sums["n"],
                   "loss_float": sums["float_loss"] / sums["n"], "sec_per_step": (now - t_log) / sums["n"]}
            if a.learn_ranges:
                rec["ranges"] = [round(r, 4) for r in ranges.detach().tolist()]
            with open(os.path.join(a.out, "log.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)
            torch.save({"up": up.state_dict(), "opt": opt.state_dict(), "sampler": sampler.state(),
                        "synthetic_rng": synthetic_rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "ranges": ranges.detach().clone(), "step": step}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
            sums, t_log = {"loss": 0.0, "float_loss": 0.0, "n": 0}, now

    up.eval()
    if a.ranges_only:   # the learned ranges of the original weights, under their name
        out_record = ranges_record(up_file, setting["up"]["sha256"], a.percentile, record["images"], command,
                                   ranges.detach().tolist())
        out_record["qat"] = {"from": up_file, "from_sha256": setting["up"]["sha256"], "steps": a.steps,
                             "target": a.target, "ranges": "learned, weights fixed" if a.steps else "calibrated, weights fixed"}
        if a.float_layers:
            out_record["float_convolutions"] = a.float_layers
        path = os.path.join(a.out, os.path.splitext(up_file)[0] + ".int8.json")
        save_json(path, out_record)
        print("wrote", path, flush=True)
        return
    weights = os.path.join(a.out, f"{name}_up.safetensors")
    info = write_net(up, weights)
    out_record = ranges_record(info["file"], sha256(weights), a.percentile, record["images"], command,
                               ranges.detach().tolist())
    # the percentile and images are those of the starting ranges; learned ranges moved from them
    out_record["qat"] = {"from": up_file, "from_sha256": setting["up"]["sha256"], "steps": a.steps,
                         "target": a.target, "ranges": "learned" if a.learn_ranges else "fixed"}
    if a.float_layers:
        out_record["float_convolutions"] = a.float_layers
    save_json(os.path.join(a.out, f"{name}_up.int8.json"), out_record)
    print("wrote", weights, flush=True)


if __name__ == "__main__":
    main()
