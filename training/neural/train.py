#!/usr/bin/env python3
"""Train libnic's neural image codec (mean-scale hyperprior + variable-rate gain units).

Loss per sample at gain level l:  bpp + lambda_l * 255^2 * MSE(x, x_hat)   (x in [0,1])
                                  [+ fid_weight * mean((y_hat - g_a(q8(x_hat)) * gain)^2)   feature identity]
Data: ../shared/data/train minus a fixed 6-image hold-out (see data.split). Never eval/.

Run directory training/runs/neural/<run>/ holds:
  ckpt_latest.pt        full state (model, Adam, step, RNG, data-sampler state), every --ckpt-minutes and at exit
  ckpt_step<N>.pt       snapshots every --snapshot-every steps
  train.jsonl           one line every --log-every steps
  val.jsonl             hold-out validation every --val-minutes (the learning curve)
  config.json, commands.txt

Examples
  # new run (the baseline)
  nice -n 10 python3 training/neural/train.py --run base_n64m96 --total-steps 400000
  # continue it (same machine): the full checkpoint restores everything
  nice -n 10 python3 training/neural/train.py --run base_n64m96 --total-steps 400000 --resume
  # continue on a new machine from the committed fp16 record (fresh Adam state)
  nice -n 10 python3 training/neural/train.py --run base_n64m96 --total-steps 400000 \\
      --init-from models/neural/<record>.safetensors
  # seed-004 fine-tune of a copy
  nice -n 10 python3 training/neural/train.py --run fid_ft --init-from training/runs/neural/base_n64m96/ckpt_latest.pt \\
      --fid-weight 1.0 --total-steps 450000
The learning rate is a function of the step only: --lr until (1 - --lr-drop-frac) * total steps, then
--lr * --lr-drop-factor; so extending --total-steps on resume moves the drop later.
"""

import argparse
import json
import os
import random
import signal
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checkpoint  # noqa: E402
import data  # noqa: E402
sys.path.insert(1, data.PROJECT)   # the repository root, for the `training` package
from training.metrics import psnr_of_mse  # noqa: E402
from model import (  # noqa: E402
    CONTEXTS, SCALE_BOUND, MeanScaleHyperprior, add_context, from_args, from_record, grow, grown_masks, ladder,
    pad64)

RUNS = os.path.join(data.PROJECT, "training", "runs", "neural")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="name of the run directory under training/runs/neural/")
    p.add_argument("--total-steps", type=int, default=400000, help="planned step budget (LR schedule)")
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps in this invocation (0 = budget)")
    p.add_argument("--minutes", type=float, default=0, help="stop after this many minutes in this invocation (0 = no limit)")
    p.add_argument("--resume", action="store_true", help="continue from <run>/ckpt_latest.pt")
    p.add_argument("--init-from", default=None,
                   help="start from weights: an fp16 record .safetensors (export_record.py) or a .pt checkpoint")
    p.add_argument("--start-step", type=int, default=None,
                   help="step to start at with --init-from (default: the source's step)")
    p.add_argument("--levels-below", type=int, default=0,
                   help="gain levels under the base ladder (model.ladder); --init-from a model with fewer "
                        "extrapolates the new levels' gains from its two lowest")
    p.add_argument("--N", type=int, default=64, help="hidden and hyper-latent channels")
    p.add_argument("--M", type=int, default=96, help="latent channels")
    p.add_argument("--Na", type=int, default=0,
                   help="hidden channels of the analysis (0 = --N): the encoder alone runs it, so a wider "
                        "analysis costs no decode time")
    p.add_argument("--train", choices=("all", "encoder"), default="all",
                   help="encoder: train only what the encoder alone applies (model.encoder_parameters); the "
                        "decoder, the entropy model and the files it decodes stay as they were")
    p.add_argument("--grow-seed", type=int, default=0,
                   help="--init-from a narrower model (smaller N or M) grows it to --N/--M, function-preserving "
                        "(model.grow); this seeds the new units' random weights")
    p.add_argument("--grow-scale", type=float, default=SCALE_BOUND,
                   help="growing: the new latents' starting scale (model.grow's new_scale; above the bound, "
                        "they start costing bits but open sooner)")
    p.add_argument("--grown-lr-mult", type=float, default=1.0,
                   help="a grown model (this run or an earlier one grew it): the optimiser's updates of the "
                        "elements the growth added (model.grown_masks) are multiplied by this")
    p.add_argument("--context", choices=CONTEXTS, default=None,
                   help="add a context model (research: the Swift engine does not decode it); --init-from a plain "
                        "model adds it function-preserving (model.add_context)")
    p.add_argument("--context-lr", type=float, default=None,
                   help="learning rate of the context branch's parameters (default: --lr; the same schedule "
                        "multipliers apply)")
    p.add_argument("--synthesis-skip", action="store_true",
                   help="add a linear path from the latents to the picture to the synthesis (model.Synthesis.add_skip; "
                        "starts at zero, so a model started from another computes what it did); an experiment: "
                        "export_record.py refuses it")
    p.add_argument("--skip-lr", type=float, default=None, help="learning rate of the skip path (default: --lr)")
    p.add_argument("--levels", default=None,
                   help="train only on these gain levels, e.g. '5,6,7,8,9' (default: all of the ladder)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=256, help="crop size (multiple of 64; 128 is too small for the hyperprior, see README)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-drop-frac", type=float, default=0.1, help="last fraction of the budget at reduced LR")
    p.add_argument("--lr-drop-factor", type=float, default=0.1)
    p.add_argument("--lr-schedule", default=None,
                   help="piecewise-constant multipliers of --lr as 'FRACTION:MULT,...' of --total-steps, e.g. "
                        "'0.5:0.25,0.9:0.025' (overrides --lr-drop-frac/--lr-drop-factor)")
    p.add_argument("--clip-grad", type=float, default=1.0, help="gradient-norm clip (0 = off)")
    p.add_argument("--fid-weight", type=float, default=0.0, help="seed-004 feature-identity loss weight (0 = off)")
    p.add_argument("--level-sampling", choices=["perm", "batch"], default="perm",
                   help="perm: every batch holds the levels in a random permutation (one level per sample, "
                        "all levels when batch = #levels); batch: one random level for the whole batch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bf16", action="store_true",
                   help="the transforms' convolutions in bfloat16 (CPU autocast; for CPUs with native bfloat16); "
                        "entropy model and validation stay float32")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--val-minutes", type=float, default=20.0)
    p.add_argument("--val-every", type=int, default=0,
                   help="also validate every N steps (at the same steps in every run: for A/B forks; 0 = off)")
    p.add_argument("--val-levels", default="0,4,7")
    p.add_argument("--val-max-side", type=int, default=768, help="centre-crop hold-out images to at most this")
    p.add_argument("--val-at-start", action="store_true", help="also validate before the first step")
    p.add_argument("--snapshot-every", type=int, default=50000, help="keep ckpt_step<N>.pt every N steps (0 = off)")
    p.add_argument("--milestone-every", type=int, default=0,
                   help="every N steps also write the committed resumable checkpoint --milestone-path (0 = off)")
    p.add_argument("--milestone-path", default=None,
                   help="the committed file --milestone-every writes (training/neural/checkpoint/NAME.safetensors)")
    p.add_argument("--milestone-form", choices=["training", "record"], default="training",
                   help="training: the float32 training form (checkpoint.py); record: the float16 record "
                        "(export_record.py), which --init-from also resumes, for a model whose float32 "
                        "form is over checkpoint.py's size limit")
    p.add_argument("--data", default=data.DEFAULT_DATA)
    p.add_argument("--cache", default=data.DEFAULT_CACHE)
    a = p.parse_args(argv)
    if a.milestone_every and not a.milestone_path:
        p.error("--milestone-every needs --milestone-path")
    return a


def lr_milestones(a):
    if a.lr_schedule:
        ms = [tuple(float(v) for v in item.split(":")) for item in a.lr_schedule.split(",") if item.strip()]
    else:
        ms = [(1.0 - a.lr_drop_frac, a.lr_drop_factor)]
    return sorted(ms)


def lr_at(a, step):
    """The learning rate is a function of the step and the planned budget only."""
    mult = 1.0
    for frac, m in lr_milestones(a):
        if step >= frac * a.total_steps:
            mult = m
    return a.lr * mult


STOP = {"flag": False, "sig": None}


def _on_signal(signum, frame):
    STOP["flag"] = True
    STOP["sig"] = signum


def load_val(a, names):
    out = []
    for n in names:
        im = data.load(a.data, n, a.cache)
        h, w = im.shape[:2]
        ch, cw = min(h, a.val_max_side), min(w, a.val_max_side)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        out.append((n, torch.from_numpy(im[y0:y0 + ch, x0:x0 + cw].copy()).permute(2, 0, 1)[None].float() / 255.0))
    return out


def validate(model, val, levels, grid="means"):
    """bpp from the likelihoods with rounded latents (on `grid`, see model.evaluate), RGB PSNR of the
    8-bit reconstruction, and the loss bpp + lambda * 255^2 * MSE of the level (means over the images)."""
    model.eval()
    acc = {lv: {"bpp": [], "psnr": [], "loss": []} for lv in levels}
    for _, x in val:
        h, w = x.shape[-2:]
        for lv, (bits, xh) in zip(levels, model.evaluate(pad64(x), levels, grid)):
            xh = torch.round(xh[..., :h, :w].clamp(0, 1) * 255) / 255
            mse = float(F.mse_loss(xh, x))
            acc[lv]["bpp"].append(bits / (h * w))
            acc[lv]["psnr"].append(psnr_of_mse(mse))
            acc[lv]["loss"].append(bits / (h * w) + model.lambdas[int(lv)] * 255.0 ** 2 * mse)
    model.train()
    return {str(lv): {k: float(np.mean(v[k])) for k in ("bpp", "psnr", "loss")} for lv, v in acc.items()}


def carry_learning_curve(points, val_path):
    """A run started from a record continues the record's hold-out learning curve."""
    if not points or (os.path.exists(val_path) and os.path.getsize(val_path) > 0):
        return
    with open(val_path, "w") as f:
        f.writelines(json.dumps(p) + "\n" for p in points)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if a.crop % 64:
        raise SystemExit("--crop must be a multiple of 64")
    run_dir = os.path.join(RUNS, a.run)
    os.makedirs(run_dir, exist_ok=True)
    ckpt_path = os.path.join(run_dir, "ckpt_latest.pt")
    command = "python3 " + " ".join([os.path.relpath(os.path.abspath(sys.argv[0]), data.PROJECT)] + sys.argv[1:])
    with open(os.path.join(run_dir, "commands.txt"), "a") as f:
        f.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + command + "\n")

    files = data.list_images(a.data)
    train_names, val_names = data.split(files)
    t0 = time.time()
    train_imgs = [data.load(a.data, n, a.cache) for n in train_names]
    val = load_val(a, val_names)
    print(f"data: {len(train_imgs)} train images, {len(val)} hold-out {val_names} "
          f"({time.time() - t0:.1f} s)", flush=True)

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = MeanScaleHyperprior(a.N, a.M, ladder(a.levels_below), context=a.context, Na=a.Na or None,
                                synthesis_skip=a.synthesis_skip)
    widths = (model.N, model.M, model.Na)
    ctx_params = model.context_parameters()
    skip_params = list(model.g_s.skip.parameters()) if a.synthesis_skip else []
    ctx_ids = {id(q) for q in ctx_params + skip_params}
    trained = model.parameters() if a.train == "all" else model.encoder_parameters()
    if a.train == "encoder":
        checkpoint.decoder_source(a.init_from)      # refuses a start without the decoder's record
        if ctx_params:
            raise SystemExit("--train encoder takes a plain model (no --context)")
        for q in model.parameters():
            q.requires_grad_(False)
        for q in model.encoder_parameters():
            q.requires_grad_(True)
    groups = [{"params": [q for q in trained if id(q) not in ctx_ids]}]
    lr_scales = [1.0]
    if ctx_params:
        groups.append({"params": ctx_params})
        lr_scales.append((a.context_lr or a.lr) / a.lr)
    if skip_params:
        if a.train == "encoder":
            raise SystemExit("--synthesis-skip adds to the decoder: not with --train encoder")
        groups.append({"params": skip_params})
        lr_scales.append((a.skip_lr or a.lr) / a.lr)
    opt = torch.optim.Adam(groups, lr=a.lr)
    sampler = data.CropSampler(train_imgs, a.crop, a.seed)
    step, train_seconds, history = 0, 0.0, []

    if a.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, train_seconds, history = ck["step"], ck.get("train_seconds", 0.0), ck.get("history", [])
        torch.set_rng_state(ck["rng"]["torch"])
        random.setstate(ck["rng"]["python"])
        sampler.set_state(ck["rng"]["sampler"])
        print(f"resumed {ckpt_path} at step {step}", flush=True)
    elif a.resume:
        print(f"--resume: no {ckpt_path}; starting fresh", flush=True)
    if a.init_from and not (a.resume and os.path.exists(ckpt_path)):
        src_step = 0
        if a.init_from.endswith(".safetensors") and checkpoint.is_resumable(a.init_from):
            src, meta = checkpoint.read_model(a.init_from)
            history, curve = checkpoint.codec_lineage(a.init_from, meta)
            src_step = int(meta["step"])
            train_seconds = float(meta.get("train_hours", 0.0)) * 3600
            carry_learning_curve(curve, os.path.join(run_dir, "val.jsonl"))
        elif a.init_from.endswith(".safetensors"):
            src = from_record(a.init_from)
            side = os.path.splitext(a.init_from)[0] + ".json"
            if os.path.exists(side):
                with open(side) as f:
                    meta = json.load(f)
                src_step = int(meta.get("step", 0))
                history = meta.get("history", [])
                train_seconds = float(meta.get("train_hours", 0.0)) * 3600
                carry_learning_curve(meta.get("learning_curve", []), os.path.join(run_dir, "val.jsonl"))
        else:
            ck = torch.load(a.init_from, map_location="cpu", weights_only=False)
            src = from_args(ck["args"], context=ck["args"].get("context"))
            src.load_state_dict(ck["model"])
            src_step, history = ck["step"], ck.get("history", [])
            train_seconds = ck.get("train_seconds", 0.0)
        if src.levels > model.levels:
            raise SystemExit(f"--init-from has {src.levels} gain levels; --levels-below gives only {model.levels}")
        src.extend_levels_below(model.levels - src.levels)
        if (src.N, src.M, src.Na) != widths:
            print(f"growing N={src.N}, M={src.M}, Na={src.Na} to N={model.N}, M={model.M}, Na={model.Na} "
                  "(function-preserving)", flush=True)
            history = history + [{"grow": {"from": [src.N, src.M, src.Na], "to": list(widths), "seed": a.grow_seed,
                                           "new_scale": a.grow_scale}}]
            src = grow(src, model.N, model.M, seed=a.grow_seed, new_scale=a.grow_scale, Na2=model.Na)
        if a.synthesis_skip and src.g_s.skip is None:
            print("adding a linear skip path to the synthesis (function-preserving)", flush=True)
            history = history + [{"add_synthesis_skip": True}]
            src.g_s.add_skip()
        if src.context_kind != a.context:
            if src.context_kind is not None:
                raise SystemExit(f"--init-from has a {src.context_kind} context model; --context says {a.context}")
            print(f"adding a {a.context} context model (function-preserving)", flush=True)
            history = history + [{"add_context": a.context}]
            src = add_context(src, a.context)
        model.load_state_dict(src.state_dict())
        step = src_step if a.start_step is None else a.start_step
        history = history + [{"init_from": a.init_from, "source_step": src_step, "start_step": step}]
        print(f"initialised from {a.init_from} (source step {src_step}); starting at step {step}", flush=True)
    history = history + [{"command": command, "start_step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}]

    new_elements = {}   # name -> mask of the elements the last growth added (--grown-lr-mult)
    if a.grown_lr_mult != 1.0:
        grows = [h["grow"] for h in history if "grow" in h]
        # growth records before the analysis width existed list [N, M]: their analysis was N wide
        to = grows[-1]["to"] if grows else []
        if not grows or tuple(to) + tuple(to[:1] if len(to) == 2 else ()) != widths:
            raise SystemExit("--grown-lr-mult needs a model grown to --N/--M/--Na (by this run or the one it starts from)")
        new_elements = {k: m for k, m in grown_masks(model, *grows[-1]["from"]).items() if m.any()}
    grown_params = {k: q for k, q in model.named_parameters() if k in new_elements}
    cfg = dict(vars(a), lambdas=model.lambdas, val_images=val_names, n_train_images=len(train_imgs),
               params=sum(p.numel() for p in model.parameters()), torch=torch.__version__)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    def save(path=ckpt_path):
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                     "train_seconds": train_seconds, "history": history, "args": vars(a),
                     "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "sampler": sampler.state()}}, path)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    flog = open(os.path.join(run_dir, "train.jsonl"), "a")
    fval = open(os.path.join(run_dir, "val.jsonl"), "a")
    val_levels = [int(v) for v in a.val_levels.split(",") if v != ""]
    L = model.levels
    lam = torch.tensor(model.lambdas)
    train_levels = np.arange(L) if a.levels is None else np.array([int(v) for v in a.levels.split(",") if v != ""])
    if len(train_levels) == 0 or train_levels.min() < 0 or train_levels.max() >= L:
        raise SystemExit(f"--levels must name levels of the {L}-level ladder")
    K = len(train_levels)
    use_fid = a.fid_weight > 0

    validated = {"step": None}   # the step of the last validation: one per step

    def run_val(tag):
        if validated["step"] == step:
            return
        validated["step"] = step
        tv = time.time()
        res = validate(model, val, val_levels)
        rec = {"step": step, "time": time.time(), "train_hours": train_seconds / 3600, "tag": tag,
               "levels": res, "val_seconds": round(time.time() - tv, 1)}
        fval.write(json.dumps(rec) + "\n")
        fval.flush()
        print("val", json.dumps(rec), flush=True)

    invocation_start, invocation_step0 = time.time(), step
    last_ckpt = last_val = time.time()
    acc_reset = lambda: {"n": 0, "loss": 0.0, "bpp": 0.0, "mse": 0.0, "fid": 0.0, "skipped": 0,
                         "lv": {l: [0, 0.0, 0.0] for l in range(L)}, "t": time.time(), "step": step}
    acc = acc_reset()
    last_lr = lr_at(a, step)
    consecutive_bad = 0
    if a.val_at_start:
        run_val("start")
        last_val = time.time()
    model.train()
    while step < a.total_steps and not STOP["flag"]:
        if a.steps and step - invocation_step0 >= a.steps:
            break
        if a.minutes and time.time() - invocation_start >= a.minutes * 60:
            break
        tstep = time.time()
        lr = lr_at(a, step)
        for g, scale in zip(opt.param_groups, lr_scales):
            g["lr"] = lr * scale
        xb = torch.from_numpy(sampler.batch(a.batch)).permute(0, 3, 1, 2).float() / 255.0
        if a.level_sampling == "perm":
            lv = train_levels[np.concatenate([sampler.rng.permutation(K) for _ in range((a.batch + K - 1) // K)])[:a.batch]]
        else:
            lv = np.full(a.batch, train_levels[sampler.rng.integers(K)])
        lv_t = torch.from_numpy(lv).long()
        out = model(xb, lv_t.float(), fid=use_fid, bf16=a.bf16)
        mse = (out["x_hat"] - xb).pow(2).flatten(1).mean(1)
        bpp = (out["bits_y"] + out["bits_z"]) / (a.crop * a.crop)
        loss = (bpp + lam[lv_t] * 255.0 ** 2 * mse).mean()
        if use_fid:
            loss = loss + a.fid_weight * out["fid"].mean()
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            acc["skipped"] += 1
            consecutive_bad += 1
            if consecutive_bad > 100:
                raise SystemExit("100 consecutive non-finite losses; resume from the last checkpoint")
            continue
        consecutive_bad = 0
        loss.backward()
        if a.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], a.clip_grad)
        if new_elements:
            before = {k: grown_params[k].detach()[m].clone() for k, m in new_elements.items()}
        opt.step()
        if new_elements:
            with torch.no_grad():
                for k, m in new_elements.items():
                    q = grown_params[k]
                    q[m] = before[k] + a.grown_lr_mult * (q[m] - before[k])
        step += 1
        train_seconds += time.time() - tstep

        loss, bpp, mse = loss.detach(), bpp.detach(), mse.detach()
        acc["n"] += 1
        acc["loss"] += float(loss)
        acc["bpp"] += float(bpp.mean())
        acc["mse"] += float(mse.mean())
        if use_fid:
            acc["fid"] += float(out["fid"].detach().mean())
        for l, b, m in zip(lv.tolist(), bpp.tolist(), mse.tolist()):
            e = acc["lv"][l]
            e[0] += 1
            e[1] += b
            e[2] += m

        if step % a.log_every == 0:
            n = max(acc["n"], 1)
            now = time.time()
            rec = {"step": step, "time": now, "train_hours": round(train_seconds / 3600, 4), "lr": lr,
                   "steps_per_s": round(acc["n"] / max(now - acc["t"], 1e-9), 3),
                   "loss": acc["loss"] / n, "bpp": acc["bpp"] / n, "mse": acc["mse"] / n,
                   "levels": {str(l): {"n": e[0], "bpp": round(e[1] / e[0], 4),
                                       "psnr": round(psnr_of_mse(e[2] / e[0]), 3)}
                              for l, e in acc["lv"].items() if e[0]}}
            if use_fid:
                rec["fid"] = acc["fid"] / n
            if acc["skipped"]:
                rec["skipped_nonfinite"] = acc["skipped"]
            flog.write(json.dumps(rec) + "\n")
            flog.flush()
            print(json.dumps(rec), flush=True)
            acc = acc_reset()
        if a.snapshot_every and step % a.snapshot_every == 0:
            save(os.path.join(run_dir, f"ckpt_step{step}.pt"))
        milestone = a.milestone_every and step % a.milestone_every == 0
        if milestone:
            run_val(f"milestone_{step}")
            last_val = time.time()
            if a.milestone_form == "record":
                import export_record  # here: it imports this module
                save()
                export_record.main(["--ckpt", ckpt_path, "--out", a.milestone_path, "--no-validate",
                                    "--threads", str(a.threads)])
                last_ckpt = time.time()
            else:
                curve = checkpoint.read_curve(os.path.join(run_dir, "val.jsonl"))
                meta = checkpoint.meta_for(step, train_seconds, history, vars(a), curve)
                checkpoint.write(checkpoint.committed_state(model.state_dict(), meta), meta, a.milestone_path)
            print(f"milestone: wrote {a.milestone_path} at step {step}", flush=True)
        if time.time() - last_ckpt >= a.ckpt_minutes * 60:
            save()
            last_ckpt = time.time()
        lr_changed = lr_at(a, step) != last_lr
        if a.val_every and step % a.val_every == 0 and not milestone:
            run_val(f"step_{step}")
            last_val = time.time()
        elif time.time() - last_val >= a.val_minutes * 60 or lr_changed:
            run_val(f"lr_change_to_{lr_at(a, step):g}" if lr_changed else "periodic")
            last_val = time.time()
        last_lr = lr_at(a, step)

    save()
    why = (f"signal {STOP['sig']}" if STOP["flag"] else
           "budget reached" if step >= a.total_steps else "invocation limit")
    print(f"saved {ckpt_path} at step {step} ({why})", flush=True)
    if step >= a.total_steps and not STOP["flag"]:
        run_val("final")
    flog.close()
    fval.close()


if __name__ == "__main__":
    main()
