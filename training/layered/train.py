#!/usr/bin/env python3
"""Train the residual codec of layered coding (model.py) on ../shared/data/train, CPU, resumable.

  python3 training/layered/train.py --run training/runs/layered/r1 --minutes 60

The base layer is the neural codec's record (frozen), the inter-layer predictor the LIFF model of
record (frozen unless --liff-lr is set); the residual codec starts from the record's weights.
Each sample: a random crop of the top size (flips, 90-degree turns), one or two enhancement
layers with random factors (one layer: log-uniform in [1, --max-factor]; two: each in
[1, --max-factor-two]), a random level of the ladder; every smaller version is the bicubic
antialiased down-scale rounded to 8 bits. Loss: sum over the enhancement layers of
bits / pixels of the layer + lambda(level) * 255^2 * MSE. Adam, cosine over the budget: --steps,
or training time (--minutes) without it; a resumed run (same --run) continues its schedule.

Hold-out: the neural codec's (training/neural/data.py split), central crops, scored every
--val-every seconds by rd.measure (BD-rate of the top layer against simulcast and against
single-layer coding at the largest size). Images held out by the LIFF model's training
(training/aicodec/data.py) are also left out of this training.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` package
from training.aicodec.data import list_train_images, split_train_val  # noqa: E402
from training.files import layered_base_record, save_json  # noqa: E402
from training.layered.model import LayeredCodec, experiments  # noqa: E402
from training.layered.rd import measure, versions_of  # noqa: E402
from training.liff.measure import load_model as load_liff  # noqa: E402
from training.metrics import psnr_of_mse  # noqa: E402
from training.neural import data  # noqa: E402
from training.neural.encoder_optimisation import load_record  # noqa: E402

VAL_CONFIGS = ((1.5,), (2.0,), (1.5, 1.78))
VAL_LEVELS = (0, 3, 6, 9)


def training_images(val_names):
    """The neural codec's training images, less the LIFF model's hold-out (same file names)."""
    liff_val = {os.path.basename(f) for f in split_train_val(list_train_images())[1]}
    train, _ = data.split(data.list_images(data.DEFAULT_DATA))
    return [f for f in train if os.path.basename(f) not in liff_val and f not in val_names]


def hold_out(crop):
    _, val = data.split(data.list_images(data.DEFAULT_DATA))
    pictures = []
    for rel in val:
        im = data.load(data.DEFAULT_DATA, rel)
        h, w = im.shape[:2]
        y0, x0 = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
        c = np.ascontiguousarray(im[y0:y0 + crop, x0:x0 + crop])
        pictures.append(torch.from_numpy(c).permute(2, 0, 1).unsqueeze(0).float() / 255)
    return val, pictures


def sample_factors(rng, a):
    if rng.integers(2):
        return [float(math.exp(rng.uniform(0, math.log(a.max_factor))))]
    return [float(math.exp(rng.uniform(0, math.log(a.max_factor_two)))) for _ in range(2)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--minutes", type=float, default=60,
                   help="the time budget; with --steps, a cap on training time only")
    p.add_argument("--steps", type=int, default=0,
                   help="a budget of steps: the schedule follows steps, not time (0: the time budget)")
    p.add_argument("--init", default=None,
                   help="start the residual codec from these weights (an exported residual record) "
                        "instead of the base record's")
    p.add_argument("--record", default=layered_base_record(os.path.join(REPO, "models")),
                   help="the frozen base codec (default: the base models/layered/residual.json names)")
    p.add_argument("--liff", default=os.path.join(REPO, "models/liff/liff_rgb_c16.safetensors"))
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--liff-lr", type=float, default=0.0, help="0: the LIFF model stays frozen")
    p.add_argument("--fusion", type=int, nargs=2, metavar=("HIDDEN", "DEPTH"), default=None,
                   help="condition the reconstruction on the prediction (model.Fusion of that width and depth); "
                        "PyTorch only: export.py refuses such a run")
    p.add_argument("--fusion-lr", type=float, default=3e-4)
    p.add_argument("--condition", type=int, metavar="HIDDEN", default=None,
                   help="condition the residual codec's analysis and synthesis on the prediction (model.Condition "
                        "with features of this width); PyTorch only: export.py refuses such a run")
    p.add_argument("--condition-lr", type=float, default=3e-4)
    p.add_argument("--lower-prior", type=int, metavar="HIDDEN", default=None,
                   help="the residual codec's entropy model also reads the latents of the layer below "
                        "(model.LowerPrior of this width); PyTorch only: export.py refuses such a run")
    p.add_argument("--lower-prior-lr", type=float, default=3e-4)
    p.add_argument("--max-factor", type=float, default=4.0)
    p.add_argument("--max-factor-two", type=float, default=2.5)
    p.add_argument("--val-every", type=float, default=900, help="seconds")
    p.add_argument("--val-crop", type=int, default=384)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    torch.manual_seed(a.seed)

    residual = load_record(a.init or a.record)
    for prm in residual.parameters():
        prm.requires_grad_(True)
    fusion, condition, lower_prior = experiments(residual, a.fusion, a.condition, a.lower_prior)
    codec = LayeredCodec(load_record(a.record), load_liff(model=a.liff), residual, fusion, condition, lower_prior)
    for prm in codec.liff.parameters():
        prm.requires_grad_(a.liff_lr > 0)
    groups = [{"params": list(residual.parameters()), "lr": a.lr, "base_lr": a.lr}]
    if fusion is not None:
        groups.append({"params": list(fusion.parameters()), "lr": a.fusion_lr, "base_lr": a.fusion_lr})
    if condition is not None:
        groups.append({"params": list(condition.parameters()), "lr": a.condition_lr, "base_lr": a.condition_lr})
    if lower_prior is not None:
        groups.append({"params": list(lower_prior.parameters()), "lr": a.lower_prior_lr, "base_lr": a.lower_prior_lr})
    if a.liff_lr > 0:
        groups.append({"params": list(codec.liff.parameters()), "lr": a.liff_lr, "base_lr": a.liff_lr})
    opt = torch.optim.Adam(groups)

    val_names, val_pictures = hold_out(a.val_crop)
    images = [data.load(data.DEFAULT_DATA, rel) for rel in training_images(val_names)]
    sampler = data.CropSampler(images, a.crop, a.seed)
    lam = residual.lambdas
    cfg = {**vars(a), "val_files": val_names, "train_images": len(images),
           "command": "python3 training/layered/train.py " + " ".join(sys.argv[1:])}
    save_json(os.path.join(a.run, "config.json"), cfg)

    state = {"step": 0, "elapsed": 0.0, "best": 1e9}
    last = os.path.join(a.run, "last.pt")
    if os.path.exists(last):
        ck = torch.load(last, weights_only=False)
        residual.load_state_dict(ck["residual"])
        codec.liff.load_state_dict(ck["liff"])
        if fusion is not None:
            fusion.load_state_dict(ck["fusion"])
        if condition is not None:
            condition.load_state_dict(ck["condition"])
        if lower_prior is not None:
            lower_prior.load_state_dict(ck["lower_prior"])
        opt.load_state_dict(ck["opt"])
        sampler.set_state(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        state = ck["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", flush=True)

    def save(path, val=None):
        torch.save({"residual": residual.state_dict(), "liff": codec.liff.state_dict(), "opt": opt.state_dict(),
                    "fusion": fusion.state_dict() if fusion is not None else None, "fusion_shape": a.fusion,
                    "condition": condition.state_dict() if condition is not None else None,
                    "condition_hidden": a.condition,
                    "lower_prior": lower_prior.state_dict() if lower_prior is not None else None,
                    "lower_prior_hidden": a.lower_prior,
                    "rng": sampler.state(), "torch_rng": torch.get_rng_state(), "state": state, "val": val},
                   path + ".tmp")
        os.replace(path + ".tmp", path)

    budget = a.minutes * 60
    log = open(os.path.join(a.run, "log.jsonl"), "a")
    start = time.time() - state["elapsed"]
    next_val = 0.0 if state["step"] == 0 else state["elapsed"] + a.val_every
    acc = {"loss": [], "bpp": [], "psnr": []}
    while True:
        state["elapsed"] = time.time() - start
        done = state["elapsed"] >= budget or (a.steps > 0 and state["step"] >= a.steps)
        if state["elapsed"] >= next_val or done:
            tv = time.time()
            val = measure(codec, val_pictures, VAL_CONFIGS, VAL_LEVELS)
            codec.train()
            score = float(np.mean([v["bd_vs_single"] for v in val.values() if v["bd_vs_single"] is not None]))
            entry = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                     "train": {k: float(np.mean(v)) if v else None for k, v in acc.items()},
                     "val_seconds": round(time.time() - tv, 1), "mean_bd_vs_single": score, "val": val}
            log.write(json.dumps(entry) + "\n")
            log.flush()
            print(json.dumps({k: entry[k] for k in ("step", "minutes", "train", "val_seconds", "mean_bd_vs_single")}
                             | {"bd": {n: (v["bd_vs_simulcast"], v["bd_vs_single"]) for n, v in val.items()}}),
                  flush=True)
            acc = {k: [] for k in acc}
            if score < state["best"]:
                state["best"] = score
                save(os.path.join(a.run, "best.pt"), val)
            save(last, val)
            next_val = state["elapsed"] + a.val_every
            start += time.time() - tv   # validation time is not training time
        if done:
            break
        t = min(1.0, state["step"] / a.steps if a.steps > 0 else state["elapsed"] / budget)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * (0.1 + 0.45 * (1 + math.cos(math.pi * t)))
        opt.zero_grad(set_to_none=True)
        crops = torch.from_numpy(sampler.batch(a.batch)).permute(0, 3, 1, 2).float() / 255
        total = 0.0
        for i in range(a.batch):
            top = crops[i:i + 1]
            versions = versions_of(top, sample_factors(sampler.rng, a))
            level = int(sampler.rng.integers(residual.levels))
            _, layers = codec(versions, level)
            loss = sum(bits / (v.shape[-2] * v.shape[-1]) + lam[level] * 255 ** 2 * mse
                       for (bits, mse), v in zip(layers, versions[1:])) / a.batch
            if not torch.isfinite(loss):
                continue
            loss.backward()
            total += loss.detach().item()
            bits, mse = (t.detach() for t in layers[-1])
            acc["bpp"].append(float(bits) / (versions[-1].shape[-2] * versions[-1].shape[-1]))
            acc["psnr"].append(psnr_of_mse(mse))
        torch.nn.utils.clip_grad_norm_([q for g in opt.param_groups for q in g["params"]], 1.0)
        opt.step()
        acc["loss"].append(total)
        state["step"] += 1


if __name__ == "__main__":
    main()
