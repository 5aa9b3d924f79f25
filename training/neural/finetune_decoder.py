#!/usr/bin/env python3
"""The last stage of the neural codec's training: fine-tune the decoder on hard-rounded latents.

During the main run the synthesis g_s sees straight-through rounded latents while the rate uses
additive noise; the encoder, the entropy model and therefore every bitstream are what they are.
This stage freezes everything the encoder and the entropy coder use (g_a, h_a, h_s, the z prior,
gain.y, gain.z, gain.z_inv) and trains only what the decoder alone applies after the symbols
are known: g_s and gain.y_inv, on the latents a real decoder reconstructs (--rounding):
  means     y_hat = round(yg - mean) + mean, yg = y * gain.y (the means' grid: the encoder's
            efforts 1-3 and --no-grid)
  integer   y_hat = round(yg) (the integer grid, .nic flags 4)
  dsq       each latent at the nearest point of Z or of Z + 1/2, chosen at random per latent: the
            reconstructions of dependent quantisation on the integer grid (flags 6, effort 0),
            whose trellis alternates between those two quantisers
  mixed     one of the three per step, at random (the default: one decoder serves every file)
With --encoder-from RECORD the synthesis is tuned on the latents of another record's encoder (the
one that will ship with it, e.g. a narrower analysis), whose entropy model must be the source's;
the committed checkpoint names that record ("encoder_from"). With --synthesis-blocks K the
synthesis first gains K residual blocks (model.Synthesis) that start as the identity, trained at
--blocks-lr-mult times the learning rate: a deeper decoder measured on the same latents, the rate
unchanged (export_record.py writes them as `residual` entries of g_s, which libnic runs). The rate
is fixed, so the loss is the distortion term of the main run's loss alone:
lambda_l * 255^2 * MSE at every gain level of the ladder. Files coded by the record before the
fine-tune decode with the fine-tuned record too (same symbols, better reconstruction). The
hold-out validation reports both grids ("levels" on the means' grid, "levels_integer_grid" on
the integer grid).

Run directory training/runs/neural/<run>/ holds ckpt_latest.pt (resumable), train.jsonl,
val.jsonl (hold-out, hard rounding, same figures as train.py's validation). With --out, the
fine-tuned tensors alone are written as a committed checkpoint (checkpoint.py: "base" names the
committed checkpoint or the record --from, "finetune" the steps done) at every validation and at the end; where
the run directory is missing, the fine-tune resumes from that file (without the optimizer state).
export_record.py builds the record from the run's ckpt_latest.pt or from --out.

    python3 training/neural/finetune_decoder.py --run main_n64m96_dec \\
        --from training/runs/neural/main_n64m96/ckpt_latest.pt --steps 20000 --lr 1e-5
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checkpoint  # noqa: E402
import data  # noqa: E402
from model import add_synthesis_blocks, from_args, from_record, is_decoder_only_parameter  # noqa: E402
from train import RUNS, atomic_save, load_val, validate  # noqa: E402

STOP = {"flag": False}


def decoder_parameters(model):
    """What the decoder alone applies after the symbols are known."""
    return [p for k, p in model.named_parameters() if is_decoder_only_parameter(k)]


def load_source(path):
    """(model, step, training seconds, args) from a run's full checkpoint (.pt), a committed training-form
    checkpoint or a record (.safetensors)."""
    if path.endswith(".safetensors") and not checkpoint.is_resumable(path):
        with open(checkpoint.sidecar(path)) as f:
            meta = json.load(f)
        return from_record(path), int(meta["step"]), float(meta.get("train_hours", 0.0)) * 3600, meta["config"]
    if path.endswith(".safetensors"):
        model, meta = checkpoint.read_model(path)
        return model, int(meta["step"]), float(meta.get("train_hours", 0.0)) * 3600, meta["args"]
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = from_args(ck["args"])
    model.load_state_dict(ck["model"])
    return model, int(ck["step"]), float(ck.get("train_seconds", 0.0)), ck["args"]


ROUNDINGS = ("means", "integer", "dsq")


def hard_rounded_latents(model, x, level, rounding, rng):
    """The synthesis input a real decoder forms with `rounding` (one of ROUNDINGS; see the top;
    no gradient: the encoder side is frozen). `rng`: the numpy Generator of the dsq choice."""
    with torch.no_grad():
        yg, z_hat = model.gained_latents(model.g_a(x), level)
        if rounding == "integer":
            return torch.round(yg)
        if rounding == "dsq":
            half = torch.from_numpy(rng.integers(0, 2, size=tuple(yg.shape), dtype=np.int8)).bool()
            return torch.where(half, torch.floor(yg) + 0.5, torch.round(yg))
        means, _ = model.hyper_params(z_hat, level)
        return torch.round(yg - means) + means


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory under training/runs/neural/")
    p.add_argument("--from", dest="src", required=True,
                   help="the trained codec: a run's ckpt_latest.pt or a committed checkpoint .safetensors")
    p.add_argument("--steps", type=int, default=20000, help="total fine-tuning steps")
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--lr-drop-at", type=float, default=1.0,
                   help="fraction of --steps after which every learning rate is x0.1 (1 = no drop)")
    p.add_argument("--rounding", choices=ROUNDINGS + ("mixed",), default="mixed",
                   help="the latents the synthesis is tuned on (see the top)")
    p.add_argument("--synthesis-blocks", type=int, default=0,
                   help="residual blocks added to the synthesis before training (see the top)")
    p.add_argument("--blocks-lr-mult", type=float, default=10.0,
                   help="learning rate of the added blocks, as a multiple of --lr")
    p.add_argument("--encoder-from", metavar="RECORD", default=None,
                   help="tune the decoder on the latents of this record's encoder (g_a, h_a, the encoder's gains) "
                        "instead of the source's; its entropy model must be the source's (see the top)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--val-every", type=int, default=2000, help="hold-out validation every N steps")
    p.add_argument("--val-levels", default="0,2,6,9")
    p.add_argument("--val-max-side", type=int, default=768)
    p.add_argument("--out", default=None,
                   help="committed-form result, also the resume point on a new machine (--from must then be a "
                        "committed checkpoint or a record; default: none; see checkpoint.py)")
    p.add_argument("--data", default=data.DEFAULT_DATA)
    p.add_argument("--cache", default=data.DEFAULT_CACHE)
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    if not os.path.exists(a.src):
        raise SystemExit(f"--from {a.src}: no such file")
    torch.set_num_threads(a.threads)
    run_dir = os.path.join(RUNS, a.run)
    os.makedirs(run_dir, exist_ok=True)
    ckpt_path = os.path.join(run_dir, "ckpt_latest.pt")
    files = data.list_images(a.data)
    train_names, val_names = data.split(files)
    train_imgs = [data.load(a.data, n, a.cache) for n in train_names]
    val = load_val(a, val_names)

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model, source_step, source_seconds, source_args = load_source(a.src)
    if a.synthesis_blocks < 0:
        raise SystemExit(f"--synthesis-blocks must be 0 or more, not {a.synthesis_blocks}")
    if a.synthesis_blocks:
        model = add_synthesis_blocks(model, a.synthesis_blocks)
    if a.encoder_from:
        model = checkpoint.with_encoder_of(model, a.encoder_from)
    source_args = dict(source_args, synthesis_blocks=model.g_s.n_blocks, Na=model.Na)
    base = checkpoint.base_reference(a.src) if a.out else None
    for p in model.parameters():
        p.requires_grad_(False)
    trained = decoder_parameters(model)
    for p in trained:
        p.requires_grad_(True)
    added = [p for k, p in model.named_parameters() if a.synthesis_blocks and k.startswith("g_s.blocks.")
             and int(k.split(".")[2]) >= model.g_s.n_blocks - a.synthesis_blocks]
    added_ids = {id(p) for p in added}
    groups = [{"params": [p for p in trained if id(p) not in added_ids], "lr": a.lr}]
    if added:
        groups.append({"params": added, "lr": a.lr * a.blocks_lr_mult})
    opt = torch.optim.Adam(groups, lr=a.lr)
    base_lrs = [g["lr"] for g in groups]

    def set_lr(step):
        drop = 0.1 if step >= a.lr_drop_at * a.steps else 1.0
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * drop
    sampler = data.CropSampler(train_imgs, a.crop, a.seed)
    step = 0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        torch.set_rng_state(ck["rng"]["torch"])
        random.setstate(ck["rng"]["python"])
        sampler.set_state(ck["rng"]["sampler"])
        print(f"resumed {ckpt_path} at fine-tuning step {step}", flush=True)
    elif a.out and os.path.exists(a.out):
        done, meta = checkpoint.read_model(a.out)
        if meta.get("base") != base:
            raise SystemExit(f"{a.out} fine-tunes {meta.get('base')}, not {a.src}: remove it to start again")
        model.load_state_dict(done.state_dict())
        step = int(meta["finetune"]["steps_done"])
        sampler = data.CropSampler(train_imgs, a.crop, a.seed + step)
        print(f"resumed {a.out} at fine-tuning step {step} (without the optimizer state)", flush=True)
    print(f"decoder fine-tune of {a.src} (codec step {source_step}): {sum(p.numel() for p in trained)} "
          f"of {sum(p.numel() for p in model.parameters())} parameters trained", flush=True)

    def save():
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                     "source": a.src, "source_step": source_step, "args": source_args,
                     "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "sampler": sampler.state()}}, ckpt_path)

    def commit():
        """The committed form of the fine-tune so far (see the top)."""
        history = [{"decoder_finetune": {"from": checkpoint.portable(os.path.abspath(a.src)),
                                         "source_step": source_step, "steps": step, "lr": a.lr,
                                         "rounding": a.rounding, "synthesis_blocks": a.synthesis_blocks}}]
        meta = checkpoint.meta_for(source_step, source_seconds, history, dict(source_args),
                                   checkpoint.read_curve(os.path.join(run_dir, "val.jsonl")), base=base)
        meta["finetune"] = {"steps_done": step, "steps_total": a.steps, "lr": a.lr, "rounding": a.rounding}
        if a.lr_drop_at < 1:
            meta["finetune"]["lr_drop_at"] = a.lr_drop_at
        if a.synthesis_blocks:
            meta["finetune"].update(synthesis_blocks=a.synthesis_blocks, blocks_lr_mult=a.blocks_lr_mult)
        if a.encoder_from:
            meta["encoder_from"] = checkpoint.record_reference(a.encoder_from)
        size = checkpoint.write(checkpoint.committed_state(model.state_dict(), meta), meta, a.out)
        print(f"wrote {a.out} ({size} bytes, fine-tuning step {step})", flush=True)

    def stop(signum, frame):
        STOP["flag"] = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    val_levels = [int(v) for v in a.val_levels.split(",") if v]
    lam = torch.tensor(model.lambdas)
    L = model.levels
    with open(os.path.join(run_dir, "val.jsonl"), "a") as fval, open(os.path.join(run_dir, "train.jsonl"), "a") as flog:
        def run_val(tag):
            rec = {"step": step, "tag": tag, "levels": validate(model, val, val_levels)}
            if model.context_kind is None:
                rec["levels_integer_grid"] = validate(model, val, val_levels, "integer")
            fval.write(json.dumps(rec) + "\n")
            fval.flush()
            print("val", json.dumps(rec), flush=True)

        if step == 0:
            run_val("before")
        model.train()
        last_ckpt, t_log, acc = time.time(), time.time(), []
        while step < a.steps and not STOP["flag"]:
            set_lr(step)
            xb = torch.from_numpy(sampler.batch(a.batch)).permute(0, 3, 1, 2).float() / 255.0
            lv = torch.from_numpy(np.concatenate(
                [sampler.rng.permutation(L) for _ in range((a.batch + L - 1) // L)])[:a.batch]).long()
            level = lv.float()
            rounding = a.rounding if a.rounding != "mixed" else ROUNDINGS[int(sampler.rng.integers(len(ROUNDINGS)))]
            y_hat = hard_rounded_latents(model, xb, level, rounding, sampler.rng)
            x_hat = model.g_s(y_hat * model.gain_y_inv.at(level))
            mse = (x_hat - xb).pow(2).flatten(1).mean(1)
            loss = (lam[lv] * 255.0 ** 2 * mse).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
            step += 1
            acc.append(float(loss.detach()))
            if step % a.log_every == 0:
                rec = {"step": step, "loss": sum(acc) / len(acc),
                       "steps_per_s": round(len(acc) / max(time.time() - t_log, 1e-9), 3)}
                flog.write(json.dumps(rec) + "\n")
                flog.flush()
                t_log, acc = time.time(), []
            if step % a.val_every == 0 and step < a.steps:
                run_val("periodic")
                if a.out:
                    commit()
            if time.time() - last_ckpt >= a.ckpt_minutes * 60:
                save()
                last_ckpt = time.time()
        save()
        if step >= a.steps:
            run_val("final")
            if a.out:
                commit()
    print(f"stopped at fine-tuning step {step}", flush=True)


if __name__ == "__main__":
    main()
