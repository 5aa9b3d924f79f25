"""Training data of the AI-codec networks: the image set, its fixed 8-image hold-out, random crops.

The images live outside the repository, in ../shared/data/train beside it (DATA_TRAIN).
"""

import os

import numpy as np
import torch

from training.aicodec.colour import luma_np
from training.aicodec.proxies import translate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_TRAIN = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "train"))


def list_train_images(root=DATA_TRAIN):
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.lower().endswith((".webp", ".png", ".jpg", ".jpeg")):
                files.append(os.path.join(d, n))
    return sorted(files)


def split_train_val(files, n_val=8):
    """Deterministic hold-out: every (len/n_val)-th image of the sorted list (spread over both folders)."""
    step = len(files) / n_val
    val_idx = {int(i * step + step / 2) for i in range(n_val)}
    val = [f for i, f in enumerate(files) if i in val_idx]
    train = [f for i, f in enumerate(files) if i not in val_idx]
    return train, val


def load_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def crop_multiple(a, m):
    h, w = a.shape[0] // m * m, a.shape[1] // m * m
    return a[:h, :w]


class CropSampler:
    """Random crops (flips / 90-degree rotations) of luma from in-memory RGB images."""

    def __init__(self, files, seed):
        self.images = [load_rgb(f) for f in files]
        self.rng = np.random.default_rng(seed)
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.p = areas / areas.sum()

    def batch(self, n, size):
        out = np.empty((n, 1, size, size), dtype=np.float32)
        for i in range(n):
            im = self.images[self.rng.choice(len(self.images), p=self.p)]
            h, w = im.shape[:2]
            y0 = self.rng.integers(0, h - size + 1)
            x0 = self.rng.integers(0, w - size + 1)
            c = luma_np(im[y0:y0 + size, x0:x0 + size])
            k = int(self.rng.integers(0, 4))
            c = np.rot90(c, k)
            if self.rng.integers(0, 2):
                c = c[:, ::-1]
            out[i, 0] = c
        return torch.from_numpy(out)

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, s):
        self.rng.bit_generator.state = s


def camera_pans(big, crop, frames, max_shift, p_static, rng):
    """Clips of a moving camera over a batch of luma crops `big` ([B, 1, crop + 2m, crop + 2m],
    m >= the whole pan plus the bicubic support): per sample a steady pan in a random direction at
    a random speed up to `max_shift` pixels per frame (a share `p_static` from a still camera),
    centred on the crop, sub-pixel steps by bicubic interpolation. Returns `frames` tensors
    [B, 1, crop, crop]."""
    B, m = big.shape[0], (big.shape[-1] - crop) // 2
    angle = rng.uniform(0, 2 * np.pi, size=B)
    speed = rng.uniform(0, max_shift, size=B) * (rng.random(B) >= p_static)
    vy = torch.from_numpy((speed * np.sin(angle)).astype(np.float32))
    vx = torch.from_numpy((speed * np.cos(angle)).astype(np.float32))
    start = -(frames - 1) / 2
    return [translate(big, vy * (start + k), vx * (start + k))[..., m:m + crop, m:m + crop] for k in range(frames)]
