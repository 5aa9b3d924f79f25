"""Training data for the neural codec: ../shared/data/train only (never eval/).

Images are decoded once with PIL and cached as uint8 .npy files (HxWx3) under
training/runs/neural/cache/ so later runs skip the WebP decode.
"""

import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = os.path.normpath(os.path.join(PROJECT, "..", "shared", "data", "train"))
DEFAULT_CACHE = os.path.join(PROJECT, "training", "runs", "neural", "cache")
EXTS = (".webp", ".png", ".jpg", ".jpeg", ".ppm", ".bmp")


def list_images(root):
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.lower().endswith(EXTS):
                files.append(os.path.relpath(os.path.join(d, n), root))
    if "eval" in os.path.normpath(root).split(os.sep):
        raise SystemExit("refusing to read an eval/ folder for training")
    return sorted(files)


def split(files, n_val=6):
    """Deterministic hold-out: n_val images spread evenly over each top-level folder (sorted names).
    Returns (train, val) lists of relative paths."""
    groups = {}
    for f in files:
        groups.setdefault(f.split(os.sep)[0] if os.sep in f else "", []).append(f)
    keys = sorted(groups)
    per = [n_val // len(keys) + (1 if i < n_val % len(keys) else 0) for i in range(len(keys))]
    val = []
    for k, n in zip(keys, per):
        g = groups[k]
        for i in range(n):
            val.append(g[int((i + 0.5) * len(g) / n)])
    val = sorted(set(val))
    train = [f for f in files if f not in val]
    return train, val


def load(root, rel, cache=DEFAULT_CACHE):
    """uint8 HxWx3 array; decoded once and cached."""
    os.makedirs(cache, exist_ok=True)
    cpath = os.path.join(cache, rel.replace(os.sep, "__") + ".npy")
    if os.path.exists(cpath):
        return np.load(cpath)
    with Image.open(os.path.join(root, rel)) as im:
        a = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    tmp = cpath + ".tmp.npy"
    np.save(tmp, a)
    os.replace(tmp, cpath)
    return a


class CropSampler:
    """Random crops with random flips and 90-degree rotations, from a numpy Generator whose
    state is saved in checkpoints (so a resumed run continues the same sample stream)."""

    def __init__(self, images, crop, seed):
        self.images = [im for im in images if min(im.shape[:2]) >= crop]
        if not self.images:
            raise SystemExit(f"no training image is at least {crop}x{crop}")
        self.crop = crop
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def batch(self, n):
        c = self.crop
        out = np.empty((n, c, c, 3), dtype=np.uint8)
        for i in range(n):
            im = self.images[self.rng.integers(len(self.images))]
            h, w = im.shape[:2]
            y0 = self.rng.integers(h - c + 1)
            x0 = self.rng.integers(w - c + 1)
            p = im[y0:y0 + c, x0:x0 + c]
            if self.rng.integers(2):
                p = p[:, ::-1]
            p = np.rot90(p, int(self.rng.integers(4)))
            out[i] = p
        return out

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, s):
        self.rng.bit_generator.state = s
