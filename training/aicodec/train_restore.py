#!/usr/bin/env python3
"""Train a 1x restoration network: x264's full-resolution decode in, the source out (luma only).

The video route keeps full resolution (scale 1) at high rates; the player then shows x264's plain
decode. This net (nets.ScalerNet("up", "1"): out = x + body(x), body = pixel-unshuffle 2 -> 3x3 convs
4 -> W -> ... -> 4 with leaky ReLU 0.1 between -> pixel-shuffle 2; the last conv starts at zero, so an
untrained net is the plain decode) removes the coding artefacts of one x264 quality bucket.

Data: random crops of the training images (data.split_train_val: never the 8 hold-out images) made
into --clip-frames-frame camera pans (data.camera_pans: steady sub-pixel steps up to --max-shift
pixels per frame, a share --p-static from a still camera), the clips of a batch laid out as one
mosaic per frame and coded by real x264 as one sequence (real_codecs.x264_clip_roundtrip_gray:
preset medium, default B-frames, yuv420p, one thread), one CRF per batch drawn from the bucket's
range (train.X264_BUCKETS: high 16-24, mid 24-32, low 32-44). A share --p-tv-range of the batches
is first mapped to limited ("TV") range luma, 16 + 219/255 * Y, as camera video stores it. The net
learns on every decoded frame (intra, P and B): loss = 1000 * MSE against the 8-bit source frames
in [0, 1] (--loss mse), or (--loss rel) the mean over frames of 10 log10((MSE_net + e) / (MSE_decode + e)),
e = 2e-6 (57 dB): minus the mean dB gain, so that clean frames (little to restore, where a net tuned
to the MSE of textured frames over-smooths) weigh as much as textured ones. --max-zoom Z first
reduces each clip's source crop by a random factor in [1, Z] (antialiased bicubic), for softer
content like camera video's.

  python3 training/aicodec/train_restore.py --bucket mid --steps 1400 --out training/runs/x1r_mid
  python3 training/aicodec/train_restore.py --bucket mid --crf-min 18 --init training/runs/x1r_mid --loss rel \
      --max-zoom 2.5 --max-shift 6 --lr 3e-4 --warmup 10 --steps 600 --seed 3 --out training/runs/x1r3_mid

Resumable (rerun the same command); writes config.json, log.jsonl, ckpt.pt and final.pt ({"up": state
dict, "config"}; export.py reads it). run_restore.sh holds the exact commands of the measured nets.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.colour import to_u8  # noqa: E402
from training.aicodec.data import CropSampler, camera_pans, list_train_images, split_train_val  # noqa: E402
from training.aicodec.nets import ScalerNet, load_safetensors_net  # noqa: E402
from training.aicodec.real_codecs import x264_clip_roundtrip_gray  # noqa: E402
from training.aicodec.train import CLIP_MARGIN, X264_BUCKETS, load_models, seed_all  # noqa: E402
from training.files import save_json  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bucket", choices=list(X264_BUCKETS), required=True)
    p.add_argument("--crf-min", type=int, default=None, help="override the bucket's lowest CRF")
    p.add_argument("--crf-max", type=int, default=None, help="override the bucket's highest CRF")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8, help="clips per batch (each --clip-frames frames)")
    p.add_argument("--crop", type=int, default=96, help="clip size, pixels (even)")
    p.add_argument("--clip-frames", type=int, default=8)
    p.add_argument("--max-shift", type=float, default=2.0, help="largest camera step, pixels per frame")
    p.add_argument("--max-zoom", type=float, default=1.0, help="source crops reduced by a random factor up to this")
    p.add_argument("--loss", choices=["mse", "rel"], default="mse")
    p.add_argument("--p-static", type=float, default=0.4, help="share of clips from a still camera")
    p.add_argument("--p-tv-range", type=float, default=0.5, help="share of batches in limited-range luma")
    p.add_argument("--width", type=int, default=16, help="hidden channels")
    p.add_argument("--depth", type=int, default=4, help="conv layers")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-final", type=float, default=2e-5)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--init", default=None, help="a restore run directory, checkpoint or x1r_*_up.safetensors to start from")
    p.add_argument("--out", required=True)
    p.add_argument("--stop-after", type=int, default=None, help="end the run at this step (the schedule still spans --steps)")
    p.add_argument("--ckpt-minutes", type=float, default=4.0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--threads", type=int, default=1, help="torch and x264 threads")
    a = p.parse_args()
    lo, hi = X264_BUCKETS[a.bucket]
    a.crf_min = lo if a.crf_min is None else a.crf_min
    # X264_BUCKETS' upper ends are the next bucket's first CRF; the bucket's own CRFs stop below it
    a.crf_max = (hi - 1 if a.bucket != "low" else hi) if a.crf_max is None else a.crf_max
    if a.crop % 2 or a.max_shift * (a.clip_frames - 1) / 2 > CLIP_MARGIN - 2 or a.max_zoom < 1:
        p.error(f"--crop must be even, the pan within {CLIP_MARGIN - 2} pixels of the centre and --max-zoom >= 1")
    return a


REL_EPS = 2e-6   # --loss rel: MSE floor (57 dB), so that frames coded almost losslessly do not dominate


def lr_at(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(1.0, t)))


def tv_range(y_u8):
    """Full-range 8-bit luma as limited range (16..235)."""
    return np.round(16.0 + y_u8.astype(np.float32) * (219.0 / 255.0)).astype(np.uint8)


def zoomed_crops(a, sampler, rng):
    """A batch of luma crops of crop + 2 CLIP_MARGIN pixels, each reduced by a random factor in
    [1, --max-zoom] (antialiased bicubic) from a larger crop."""
    size = a.crop + 2 * CLIP_MARGIN
    if a.max_zoom <= 1:
        return sampler.batch(a.batch, size)
    big = sampler.batch(a.batch, int(math.ceil(size * a.max_zoom)))
    out = []
    for i, k in enumerate(rng.uniform(1.0, a.max_zoom, size=a.batch)):
        s = int(round(size * k))
        o = (big.shape[-1] - s) // 2
        win = big[i:i + 1, :, o:o + s, o:o + s]
        out.append(win if s == size else F.interpolate(win, size=(size, size), mode="bicubic", align_corners=False,
                                                       antialias=True).clamp(0, 1))
    return torch.cat(out)


def restore_batch(a, sampler, crf, rng, threads):
    """(decoded frames, source frames) of one batch of coded pans, [N, 1, crop, crop] in [0, 1]."""
    big = zoomed_crops(a, sampler, rng)
    frames = camera_pans(big, a.crop, a.clip_frames, a.max_shift, a.p_static, rng)
    tiles = [[to_u8(f[i]) for i in range(a.batch)] for f in frames]
    if rng.random() < a.p_tv_range:
        tiles = [[tv_range(t) for t in fr] for fr in tiles]
    decoded, _ = x264_clip_roundtrip_gray(tiles, crf, threads=threads)

    def stack(clip):
        return torch.from_numpy(np.stack([np.stack(fr) for fr in clip]).astype(np.float32)[:, :, None] / 255.0).flatten(0, 1)

    return stack(decoded), stack(tiles)


def load_init(path):
    if path.endswith(".safetensors"):
        return load_safetensors_net(path)
    st = load_models(path)
    cfg = st["config"]
    net = ScalerNet("up", "1", cfg["up_width"], cfg["up_depth"])
    net.load_state_dict(st["up"])
    return net


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    seed_all(a.seed)
    train_files, val_files = split_train_val(list_train_images())
    net = load_init(a.init) if a.init else ScalerNet("up", "1", a.width, a.depth)
    cfg = vars(a).copy()
    cfg.update(mode="restore", scale="1", up_width=net.width, up_depth=net.depth,
               up_macs_per_lr_pixel=net.macs_per_lr_pixel(), train_images=len(train_files),
               val_images=[os.path.relpath(f, os.path.dirname(os.path.dirname(f))) for f in val_files],
               command="python3 training/aicodec/train_restore.py " + " ".join(sys.argv[1:]),
               torch=torch.__version__)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sampler = CropSampler(train_files, a.seed)
    rng = np.random.default_rng(a.seed + 1000)
    step = 0
    ck = os.path.join(a.out, "ckpt.pt")
    if os.path.exists(ck):
        st = torch.load(ck, map_location="cpu", weights_only=False)
        net.load_state_dict(st["up"])
        opt.load_state_dict(st["opt"])
        sampler.set_state(st["sampler"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        step = st["step"]
        print(f"resumed from {ck} at step {step}", flush=True)
    save_json(os.path.join(a.out, "config.json"), cfg)
    print(json.dumps({k: cfg[k] for k in ("bucket", "crf_min", "crf_max", "up_width", "up_depth",
                                          "up_macs_per_lr_pixel")}), flush=True)
    logf = open(os.path.join(a.out, "log.jsonl"), "a")

    def save(path, final=False):
        st = {"up": net.state_dict(), "config": cfg, "step": step}
        if not final:
            st.update(opt=opt.state_dict(), sampler=sampler.state(), rng=rng.bit_generator.state,
                      torch_rng=torch.get_rng_state())
        torch.save(st, path + ".tmp")
        os.replace(path + ".tmp", path)

    acc, nacc = {}, 0
    t_ck = t_log = time.time()
    end = a.steps if a.stop_after is None else min(a.steps, a.stop_after)
    while step < end:
        for g in opt.param_groups:
            g["lr"] = lr_at(a, step)
        crf = int(rng.integers(a.crf_min, a.crf_max + 1))
        t0 = time.time()
        with torch.no_grad():
            inp, src = restore_batch(a, sampler, crf, rng, a.threads)
        t_codec = time.time() - t0
        mse = ((net(inp) - src) ** 2).mean(dim=(1, 2, 3))
        plain = ((inp - src) ** 2).mean(dim=(1, 2, 3))
        if a.loss == "rel":
            loss = (10 * torch.log10((mse + REL_EPS) / (plain + REL_EPS))).mean()
        else:
            loss = mse.mean() * 1000.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        step += 1
        with torch.no_grad():
            gain = (10 * torch.log10((plain + 1e-8) / (mse.detach() + 1e-8))).mean().item()
        for k, v in (("loss", loss.item()), ("dB_gain_vs_decode", gain), ("codec_sec", t_codec), ("crf", crf)):
            acc[k] = acc.get(k, 0.0) + v
        nacc += 1
        if step % a.log_every == 0 or step == a.steps:
            now = time.time()
            rec = {"step": step, "lr": opt.param_groups[0]["lr"], "sec_per_step": round((now - t_log) / nacc, 3)}
            rec.update({k: round(v / nacc, 5) for k, v in acc.items()})
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            print(json.dumps(rec), flush=True)
            acc, nacc, t_log = {}, 0, now
        if time.time() - t_ck > a.ckpt_minutes * 60:
            save(ck)
            t_ck = time.time()
    save(ck)
    save(os.path.join(a.out, "final.pt"), final=True)   # an --init of a later run prefers final.pt
    print("done", step, flush=True)


if __name__ == "__main__":
    main()
