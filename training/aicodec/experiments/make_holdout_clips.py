#!/usr/bin/env python3
"""Short video clips from the 8 hold-out training images, for video decisions that must not look at
the evaluation clips (bench/eval_video.py --video-dir OUT).

  python3 training/aicodec/experiments/make_holdout_clips.py --out DIR [--frames 60] [--size 720x480]

Each clip is a slow camera pan over one image: a window of --size moves by a sub-pixel step per
frame along the image's longer free axis (bicubic resampling, so the motion is not whole-pixel
copies, as in camera footage), coded losslessly (x264 -qp 0, yuv420p, 30 fps).
"""

import argparse
import os
import subprocess
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)   # run as a script: the repository root, for the `training` and `bench` packages
from training.aicodec.data import list_train_images, split_train_val  # noqa: E402


def pan_frames(img, w, h, frames):
    """Frames of a w x h window panning across `img` (PIL RGB) at a constant sub-pixel speed."""
    free_x, free_y = img.width - w, img.height - h
    if free_x < 0 or free_y < 0:
        raise ValueError(f"image {img.size} smaller than the clip size {w}x{h}")
    # Most of the free travel along the longer axis, a third of that speed across it.
    travel = 0.9 * max(free_x, free_y) / max(1, frames - 1)
    vx, vy = (travel, travel / 3) if free_x >= free_y else (travel / 3, travel)
    vx, vy = min(vx, 0.9 * free_x / max(1, frames - 1)), min(vy, 0.9 * free_y / max(1, frames - 1))
    x0, y0 = 0.05 * free_x, 0.05 * free_y
    for k in range(frames):
        x, y = x0 + vx * k, y0 + vy * k
        yield img.transform((w, h), Image.Transform.AFFINE, (1, 0, x, 0, 1, y), resample=Image.Resampling.BICUBIC)


def write_clip(path, frames, w, h):
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                            "-r", "30", "-i", "-", "-c:v", "libx264", "-qp", "0", "-preset", "medium",
                            "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709", path],
                           stdin=subprocess.PIPE)
    for f in frames:
        enc.stdin.write(np.asarray(f, dtype=np.uint8).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--size", default="720x480")
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    os.makedirs(a.out, exist_ok=True)
    _, holdout = split_train_val(list_train_images())
    for f in holdout:
        img = Image.open(f).convert("RGB")
        if img.width < img.height:
            img = img.transpose(Image.Transpose.ROTATE_90)   # landscape clips only
        name = os.path.basename(os.path.dirname(f)) + "_" + os.path.splitext(os.path.basename(f))[0] + ".mp4"
        write_clip(os.path.join(a.out, name), pan_frames(img, w, h, a.frames), w, h)
        print(os.path.join(a.out, name))


if __name__ == "__main__":
    main()
