"""Training throughput of the neural codec on this machine: steps per hour of the real training
step (forward, loss, backward, clip, Adam) for thread counts, memory formats and precisions.

    python3 training/neural/bench_speed.py --steps 40 --configs 1:fp32,2:fp32,2:fp32:cl,2:bf16

Each config is "threads:precision[:cl]" (cl = channels_last); bf16 runs the convolutions under
CPU autocast and is skipped when the CPU has no native bfloat16 (avx512_bf16 / amx_bf16).
Run it on an otherwise idle machine; the first steps of every config are a warm-up.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import MeanScaleHyperprior, ladder  # noqa: E402


def cpu_has_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def measure(images, threads, precision, channels_last, steps, warmup, batch, crop):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MeanScaleHyperprior(64, 96, ladder(2))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    sampler = data.CropSampler(images, crop, 0)
    lam = torch.tensor(model.lambdas)
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        xb = torch.from_numpy(sampler.batch(batch)).permute(0, 3, 1, 2).float() / 255.0
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        lv = torch.from_numpy(sampler.rng.permutation(model.levels)[:batch]).long()
        out = model(xb, lv.float(), bf16=precision == "bf16")
        mse = (out["x_hat"].float() - xb).pow(2).flatten(1).mean(1)
        bpp = (out["bits_y"] + out["bits_z"]).float() / (crop * crop)
        loss = (bpp + lam[lv] * 255.0 ** 2 * mse).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    med = float(np.median(times))
    return {"threads": threads, "precision": precision, "channels_last": channels_last,
            "steps": steps, "median_step_s": round(med, 4), "steps_per_hour": round(3600 / med)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="1:fp32,2:fp32,2:fp32:cl,2:bf16")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--images", type=int, default=20, help="training images to sample crops from")
    p.add_argument("--data", default=data.DEFAULT_DATA)
    a = p.parse_args()
    train, _ = data.split(data.list_images(a.data))
    images = [data.load(a.data, n) for n in train[:a.images]]
    results = []
    for c in a.configs.split(","):
        parts = c.split(":")
        threads, precision, cl = int(parts[0]), parts[1], len(parts) > 2 and parts[2] == "cl"
        if precision == "bf16" and not cpu_has_bf16():
            print(json.dumps({"config": c, "skipped": "no native bfloat16 on this CPU"}), flush=True)
            continue
        r = measure(images, threads, precision, cl, a.steps, a.warmup, a.batch, a.crop)
        results.append(r)
        print(json.dumps(r), flush=True)
    return results


if __name__ == "__main__":
    main()
