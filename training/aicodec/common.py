"""Shared pieces of the AI-codec training: colour, data, networks, JPEG proxy, real JPEG, metrics.

Conventions
- Images are float32 NCHW tensors. Luma (Y) is BT.601 full range as in JPEG/JFIF, scaled to [0, 1]
  inside the networks; the JPEG proxy works on 0..255 - 128 like a JPEG encoder.
- Scale "2":   HR (2h, 2w)  <-> LR (h, w).
  Scale "1.5": HR (3h, 3w)  <-> LR (2h, 2w); 3x3 HR pixels map to 2x2 LR pixels (block mapping).
- Every network is `base + body`, base = bicubic resize of the input to the output size
  (antialias=True for down-scaling, False for up-scaling; align_corners=False), body = optional
  PixelUnshuffle -> conv3x3 chain (LeakyReLU(0.1) after all but the last) -> optional PixelShuffle.
"""

import io
import json
import math
import os
import random
import subprocess

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_TRAIN = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "train"))

# ----------------------------------------------------------------------------------------------
# Colour (JPEG / JFIF BT.601 full range)
# ----------------------------------------------------------------------------------------------


def rgb_to_ycc(x):
    """x: (..., 3, H, W) float RGB 0..255 -> Y, Cb, Cr 0..255 (Cb/Cr centred on 128)."""
    r, g, b = x.unbind(-3)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    return torch.stack([y, cb, cr], dim=-3)


def ycc_to_rgb(x):
    y, cb, cr = x.unbind(-3)
    cb = cb - 128.0
    cr = cr - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return torch.stack([r, g, b], dim=-3)


def luma_np(rgb_u8):
    """HxWx3 uint8 -> HxW float32 luma 0..1."""
    f = rgb_u8.astype(np.float32)
    return (0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]) / 255.0


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------

# (unshuffle factor of the input, shuffle factor of the output) per (kind, scale)
SHUFFLE = {
    ("down", "2"): (2, 1),
    ("up", "2"): (1, 2),
    ("down", "1.5"): (3, 2),
    ("up", "1.5"): (2, 3),
}

DEFAULT_WIDTH = {
    ("down", "2"): 32,
    ("up", "2"): 16,
    ("down", "1.5"): 64,
    ("up", "1.5"): 32,
}


def out_size(kind, scale, h, w):
    if scale == "2":
        return (h // 2, w // 2) if kind == "down" else (h * 2, w * 2)
    if scale == "1.5":
        return (h // 3 * 2, w // 3 * 2) if kind == "down" else (h // 2 * 3, w // 2 * 3)
    raise ValueError(scale)


def residual_convs(chans, slope):
    """3x3 convolutions chans[0] -> ... -> chans[-1] for a residual body: Kaiming-initialised for
    the leaky ReLUs between them, the last one zero, so that an untrained body adds nothing."""
    convs = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 1, bias=True) for a, b in zip(chans[:-1], chans[1:]))
    for c in convs[:-1]:
        nn.init.kaiming_normal_(c.weight, a=slope, nonlinearity="leaky_relu")
        nn.init.zeros_(c.bias)
    nn.init.zeros_(convs[-1].weight)
    nn.init.zeros_(convs[-1].bias)
    return convs


def run_convs(convs, h, slope):
    """The convolutions in turn, leaky ReLU between them (none after the last)."""
    for i, c in enumerate(convs):
        h = c(h)
        if i < len(convs) - 1:
            h = F.leaky_relu(h, slope)
    return h


class ScalerNet(nn.Module):
    """base (bicubic resize) + conv body with pixel (un)shuffle. Works on 1-channel luma in [0, 1]."""

    def __init__(self, kind, scale, width=None, depth=4, slope=0.1):
        super().__init__()
        assert kind in ("down", "up") and scale in ("2", "1.5")
        self.kind, self.scale, self.slope = kind, scale, slope
        self.r_in, self.r_out = SHUFFLE[(kind, scale)]
        self.width = width or DEFAULT_WIDTH[(kind, scale)]
        self.depth = depth
        chans = [self.r_in ** 2] + [self.width] * (depth - 1) + [self.r_out ** 2]
        self.convs = residual_convs(chans, slope)   # starts exactly at the bicubic route

    def base(self, x):
        size = out_size(self.kind, self.scale, x.shape[-2], x.shape[-1])
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False,
                             antialias=(self.kind == "down"))

    def body(self, x):
        h = run_convs(self.convs, F.pixel_unshuffle(x, self.r_in) if self.r_in > 1 else x, self.slope)
        return F.pixel_shuffle(h, self.r_out) if self.r_out > 1 else h

    def forward(self, x):
        return self.base(x) + self.body(x)

    # --- description for the Swift engine ---
    def macs_per_lr_pixel(self):
        """Multiply-accumulates of the conv body per low-resolution pixel (base resize not counted)."""
        # convs run on the grid of the unshuffled input
        per_grid_px = sum(c.in_channels * c.out_channels * 9 for c in self.convs)
        if self.kind == "up":
            lr_px_per_grid_px = self.r_in ** 2          # up: input is LR
        else:
            lr_px_per_grid_px = self.r_out ** 2         # down: output is LR
        return per_grid_px / lr_px_per_grid_px

    def describe(self):
        layers = []
        if self.r_in > 1:
            layers.append({"op": "pixel_unshuffle", "factor": self.r_in})
        for i, c in enumerate(self.convs):
            layers.append({
                "op": "conv2d", "in_channels": c.in_channels, "out_channels": c.out_channels,
                "kernel": 3, "stride": 1, "padding": 1, "bias": True,
                "weight": f"convs.{i}.weight", "bias_tensor": f"convs.{i}.bias",
                "activation": ("leaky_relu" if i < len(self.convs) - 1 else None),
                "negative_slope": (self.slope if i < len(self.convs) - 1 else None),
            })
        if self.r_out > 1:
            layers.append({"op": "pixel_shuffle", "factor": self.r_out})
        return {
            "kind": self.kind, "scale": self.scale,
            "scale_rational": [2, 1] if self.scale == "2" else [3, 2],
            "block_mapping": ({"hr": [3, 3], "lr": [2, 2]} if self.scale == "1.5" else {"hr": [2, 2], "lr": [1, 1]}),
            "input": {"planes": "Y", "range": [0.0, 1.0], "colour": "BT.601 full range (JPEG), Y = 0.299R+0.587G+0.114B"},
            "layers": layers,
            "residual_base": {"op": "resize", "mode": "bicubic", "align_corners": False,
                              "antialias": self.kind == "down",
                              "cubic_coeff_a": -0.5 if self.kind == "down" else -0.75,
                              "size": "output size (exact: x2 -> /2 or *2; x1.5 -> *2/3 or *3/2)"},
            "output": "residual_base(input) + layers(input); clamp to [0, 1] when converting to 8 bits",
            "macs_per_lr_pixel": self.macs_per_lr_pixel(),
            "parameters": sum(p.numel() for p in self.parameters()),
        }


def load_safetensors_net(path):
    """A shipped network (models/NAME_{down,up}.safetensors, written by export.py) as a ScalerNet."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        arch = json.loads(f.metadata()["architecture"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    convs = [k for k in state if k.endswith(".weight")]
    width = state[convs[0]].shape[0]
    net = ScalerNet(arch["kind"], "2" if list(arch["scale_rational"]) == [2, 1] else "1.5", width, len(convs))
    net.load_state_dict(state)
    return net


def grown(net, width=None, depth=None):
    """`net` with more hidden channels and/or layers, starting from the trained net's function.
    New channels get Kaiming inputs and zero outputs (exact). New layers are identities before
    the last conv: exact for positive activations, while negative ones pass the extra leaky ReLU
    at slope² (about 1e-5 MSE on training crops behind the x2 up net, 0.05 of its body's signal)."""
    width, depth = width or net.width, depth or net.depth
    assert width >= net.width and depth >= net.depth
    big = ScalerNet(net.kind, net.scale, width, depth, net.slope)
    old = list(net.convs)
    with torch.no_grad():
        for new, src in zip(big.convs[:len(old) - 1], old[:-1]):     # hidden layers kept in place
            new.weight[:, src.in_channels:] = 0
            new.weight[:src.out_channels, :src.in_channels] = src.weight
            new.bias[:src.out_channels] = src.bias
        for c in big.convs[len(old) - 1:depth - 1]:                  # inserted identity layers
            c.weight.zero_()
            c.bias.zero_()
            for ch in range(width):
                c.weight[ch, ch, 1, 1] = 1.0
        last, src = big.convs[-1], old[-1]
        last.weight.zero_()
        last.weight[:, :src.in_channels] = src.weight
        last.bias.copy_(src.bias)
    return big


# ----------------------------------------------------------------------------------------------
# Differentiable JPEG (luma) proxy
# ----------------------------------------------------------------------------------------------

JPEG_LUMA_Q = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)


def libjpeg_table(quality):
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table (force_baseline)."""
    q = min(max(int(quality), 1), 100)
    s = 5000 // q if q < 50 else 200 - 2 * q
    t = torch.floor((JPEG_LUMA_Q * s + 50) / 100)
    return t.clamp(1, 255)


def dct_matrix(n=8):
    m = torch.zeros(n, n)
    for k in range(n):
        for i in range(n):
            a = math.sqrt(1.0 / n) if k == 0 else math.sqrt(2.0 / n)
            m[k, i] = a * math.cos(math.pi * (2 * i + 1) * k / (2 * n))
    return m


_DCT = dct_matrix()


def round_ste(x):
    return x + (torch.round(x) - x).detach()


NZ_WEIGHT = 1.5


def hevc_flat_table(qp):
    """HEVC's default (flat) scaling: one step for every frequency, Qstep = 2^((QP - 4) / 6) on an
    orthonormal transform of 8-bit samples. Unlike JPEG's table it does not quantise high frequencies
    coarsely, which is why detail a down net adds costs far more bits under x265 than under JPEG."""
    return torch.full((8, 8), 2.0 ** ((float(qp) - 4.0) / 6.0))


PROXY_TABLES = {"jpeg": libjpeg_table, "hevc": hevc_flat_table}


def jpeg_proxy(y01, qualities, codec_mask=None, table=libjpeg_table):
    """Luma 8x8 DCT codec proxy (JPEG by default; table=hevc_flat_table for an HEVC-like residual coder).

    y01: (B, 1, H, W) in [0, 1], H and W multiples of 8 (already 8-bit rounded by the caller).
    qualities: list of B ints (JPEG quality 10..100, or QP for the HEVC table).
    codec_mask: optional (B,) bool; False rows pass through unchanged (no codec) but still get a rate.
    Returns (decoded (B,1,H,W) in [0,1], bits per pixel proxy (B,)).
    """
    B, _, H, W = y01.shape
    D = _DCT.to(y01)
    x = y01 * 255.0 - 128.0
    blk = x.reshape(B, H // 8, 8, W // 8, 8)
    coef = torch.einsum("ki,bhiwj,lj->bhkwl", D, blk, D)
    Q = torch.stack([table(q) for q in qualities]).to(y01).reshape(B, 1, 8, 1, 8)
    v = coef / Q
    vq = round_ste(v)
    # rate: forward on the rounded coefficients, gradient of a smooth version. A least-squares fit of
    # real libjpeg bytes (grayscale, standard Huffman tables) on training crops gave
    # bits ~ 1.63 * sum log2(1 + |q|) + 2.48 * #nonzero + header (6% rms error; 29% without the
    # nonzero count), so per coefficient: log2(1 + |q|) + NZ_WEIGHT * [q != 0].
    a = v.abs()
    r_soft = torch.log2(1.0 + a) + NZ_WEIGHT * a.clamp(max=1.0)
    r_hard = torch.log2(1.0 + vq.abs()) + NZ_WEIGHT * (vq != 0).to(v)
    r = r_soft + (r_hard - r_soft).detach()
    bpp = r.mean(dim=(1, 2, 3, 4))
    rec = torch.einsum("ki,bhkwl,lj->bhiwj", D, vq * Q, D).reshape(B, 1, H, W)
    rec = ((rec + 128.0) / 255.0)
    rec = rec + (rec.clamp(0, 1) - rec).detach() * 1.0  # decoder clamps; keep gradient
    rec = round_ste(rec * 255.0) / 255.0
    if codec_mask is not None:
        m = codec_mask.to(y01).reshape(B, 1, 1, 1)
        rec = m * rec + (1 - m) * y01
    return rec, bpp


def translate(x, dy, dx):
    """out(p) = x(p + d): each sample moved by its own sub-pixel (dy, dx) (tensors [B], pixels),
    bicubic interpolation, edges replicated."""
    B, _, H, W = x.shape
    ys = (torch.arange(H, dtype=x.dtype) + 0.5)[None, :, None] + dy.to(x)[:, None, None]
    xs = (torch.arange(W, dtype=x.dtype) + 0.5)[None, None, :] + dx.to(x)[:, None, None]
    grid = torch.stack([(2 * xs / W - 1).expand(B, H, W), (2 * ys / H - 1).expand(B, H, W)], dim=-1)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)


def pframe_proxy(prev_dec, cur, dy, dx, qps, margin):
    """Inter-coded (P) picture proxy for a translating camera: `cur` is predicted from the decoded
    previous picture `prev_dec` (larger by `margin` pixels on every side, so the prediction has real
    content at the edges) moved by the motion rounded to quarter pixels, as a video encoder's motion
    search would find it; the residual goes through the DCT proxy with flat (HEVC/H.264-like)
    quantisation at `qps`. Returns (decoded cur, bits per pixel of the residual)."""
    qy, qx = torch.round(dy * 4) / 4, torch.round(dx * 4) / 4
    h, w = cur.shape[-2:]
    pred = translate(prev_dec, qy, qx)[..., margin:margin + h, margin:margin + w]
    res_dec, bpp = jpeg_proxy(cur - pred + 0.5, qps, table=hevc_flat_table)
    return pred + res_dec - 0.5, bpp


def quantize8_ste(y01):
    """What storing as 8 bits does: clamp and round, straight-through."""
    c = y01.clamp(0, 1)
    return round_ste(c * 255.0) / 255.0


# ----------------------------------------------------------------------------------------------
# Real JPEG (PIL / libjpeg)
# ----------------------------------------------------------------------------------------------


def jpeg_roundtrip_gray(y_u8, quality):
    """HxW uint8 -> (decoded HxW uint8, bytes)."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(y_u8, mode="L").save(buf, format="JPEG", quality=int(quality))
    n = buf.tell()
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8).copy(), n


def x264_roundtrip_gray(tiles_u8, crf, shift=2):
    """Luma tiles (equal HxW uint8) through real x264 as one inter-coded picture: the tiles are
    laid out as a mosaic, coded as a 3-frame sequence panning by `shift` pixels per frame
    (I P P, no B-frames, preset medium, CRF `crf`), and the last decoded (P) frame is cut back
    into tiles. Returns (list of decoded tiles, bytes of the last frame's packet or 0)."""
    import subprocess
    grid, cols = _tile_grid(tiles_u8)
    mosaic = np.concatenate([grid, np.repeat(grid[:, -1:], 2 * shift, axis=1)], axis=1)
    H, W = mosaic.shape
    H2, W2 = H + H % 2, W + W % 2
    frames = []
    for k in (2, 1, 0):   # the content moves right by `shift` px per frame; the last frame is the mosaic
        f = np.zeros((H2, W2), np.uint8)
        f[:H, :W - k * shift] = mosaic[:, k * shift:]
        f[:H, W - k * shift:] = mosaic[:, -1:]
        frames.append(f)
    # yuv420p in and out with neutral chroma: no pixel-format conversion touches the luma samples
    # (gray in/out would go through swscale's range conversion).
    chroma = np.full((H2 // 2) * (W2 // 2) * 2, 128, np.uint8).tobytes()
    raw = b"".join(f.tobytes() + chroma for f in frames)
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W2}x{H2}",
                          "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-bf", "0",
                          "-g", "30", "-x264-params", "log-level=error", "-f", "h264", "-"],
                         input=raw, capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         input=enc, capture_output=True, check=True).stdout
    frame_bytes = H2 * W2 + len(chroma)
    if len(dec) != 3 * frame_bytes:
        raise RuntimeError(f"x264 round trip returned {len(dec)} bytes, expected {3 * frame_bytes}")
    last = np.frombuffer(dec[2 * frame_bytes:2 * frame_bytes + H2 * W2], np.uint8).reshape(H2, W2)
    return _cut_tiles(last, tiles_u8, cols), len(enc)


def luma_frames(path, width, height, frames=None):
    """The luma planes of a video (all, or the first `frames`), 8-bit as stored, as [N, H, W]."""
    limit = ["-frames:v", str(frames)] if frames else []
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, *limit, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         capture_output=True, check=True).stdout
    size = width * height * 3 // 2
    return np.stack([np.frombuffer(raw, np.uint8, width * height, i * size).reshape(height, width)
                     for i in range(len(raw) // size)])


def x264_clip_roundtrip_gray(clip_tiles_u8, crf):
    """A clip of luma tiles through real x264 as a camera would send it: frame k's tiles
    (clip_tiles_u8[k], equal HxW uint8) laid out as one mosaic picture, the frames coded as one
    sequence with x264's default structure (preset medium, B-frames, CRF `crf`). Returns the
    decoded tiles per frame and the bytes of the stream."""
    import subprocess
    grids = [_tile_grid(tiles)[0] for tiles in clip_tiles_u8]
    cols = _tile_grid(clip_tiles_u8[0])[1]
    H, W = grids[0].shape
    H2, W2 = H + H % 2, W + W % 2
    chroma = np.full((H2 // 2) * (W2 // 2) * 2, 128, np.uint8).tobytes()
    raw = b""
    for g in grids:
        f = np.zeros((H2, W2), np.uint8)
        f[:H, :W] = g
        raw += f.tobytes() + chroma
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W2}x{H2}",
                          "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
                          "-x264-params", "log-level=error", "-f", "h264", "-"],
                         input=raw, capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         input=enc, capture_output=True, check=True).stdout
    frame_bytes = H2 * W2 + len(chroma)
    if len(dec) != len(grids) * frame_bytes:
        raise RuntimeError(f"x264 round trip returned {len(dec)} bytes, expected {len(grids) * frame_bytes}")
    out = []
    for k, tiles in enumerate(clip_tiles_u8):
        picture = np.frombuffer(dec[k * frame_bytes:k * frame_bytes + H2 * W2], np.uint8).reshape(H2, W2)
        out.append(_cut_tiles(picture, tiles, cols))
    return out, len(enc)


def _tile_grid(tiles_u8):
    """Equal-size tiles laid out on a near-square grid (zeros where the last row is short)."""
    n = len(tiles_u8)
    h, w = tiles_u8[0].shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.zeros((rows * h, cols * w), np.uint8)
    for i, t in enumerate(tiles_u8):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    return grid, cols


def _cut_tiles(picture, tiles_u8, cols):
    """The decoded tiles back out of a picture laid out by _tile_grid (copies)."""
    h, w = tiles_u8[0].shape
    return [picture[r * h:(r + 1) * h, c * w:(c + 1) * w].copy()
            for r, c in (divmod(i, cols) for i in range(len(tiles_u8)))]


def x265_intra_roundtrip_gray(tiles_u8, crf, preset="medium"):
    """Luma tiles (equal HxW uint8) through real x265 as one intra picture (the still-image route of
    bench/eval_aicodec.py: keyint=1, CRF `crf`), neutral chroma. Returns (decoded tiles, bytes)."""
    import subprocess
    grid, cols = _tile_grid(tiles_u8)
    mosaic = np.pad(grid, ((0, grid.shape[0] % 2), (0, grid.shape[1] % 2)))  # even sizes for 4:2:0
    H, W = mosaic.shape
    chroma = np.full((H // 2) * (W // 2) * 2, 128, np.uint8).tobytes()
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}",
                          "-i", "-", "-c:v", "libx265", "-preset", preset, "-crf", str(crf),
                          "-x265-params", "keyint=1:info=0:log-level=error", "-f", "hevc", "-"],
                         input=mosaic.tobytes() + chroma, capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", "-f", "hevc", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         input=enc, capture_output=True, check=True).stdout
    if len(dec) != H * W + len(chroma):
        raise RuntimeError(f"x265 round trip returned {len(dec)} bytes, expected {H * W + len(chroma)}")
    y = np.frombuffer(dec[:H * W], np.uint8).reshape(H, W)
    return _cut_tiles(y, tiles_u8, cols), len(enc)


def jpeg_roundtrip_rgb(rgb_u8, quality):
    """HxWx3 uint8 -> (decoded HxWx3 uint8, bytes); 4:2:0, libjpeg quality scaling."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb_u8, mode="RGB").save(buf, format="JPEG", quality=int(quality), subsampling=2)
    n = buf.tell()
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), n


def to_u8(t01):
    """(H, W) or (1,1,H,W) tensor in [0,1] -> HxW uint8."""
    a = t01.detach().reshape(t01.shape[-2], t01.shape[-1]).clamp(0, 1).mul(255).round()
    return a.to(torch.uint8).numpy()


def psnr(a, b, peak=1.0):
    mse = float(((a - b) ** 2).mean())
    return 10 * math.log10(peak * peak / max(mse, 1e-12))


def bd_rate(r1, p1, r2, p2):
    """Bjontegaard delta rate of curve 2 vs curve 1 (percent; negative = curve 2 needs fewer bits).
    Cubic fit of log-rate as a function of PSNR, integrated over the common PSNR interval."""
    lr1, lr2 = np.log(np.asarray(r1, float)), np.log(np.asarray(r2, float))
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    deg = min(3, len(p1) - 1, len(p2) - 1)
    c1, c2 = np.polyfit(p1, lr1, deg), np.polyfit(p2, lr2, deg)
    lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    if hi <= lo:
        return float("nan")
    i1, i2 = np.polyint(c1), np.polyint(c2)
    a1 = (np.polyval(i1, hi) - np.polyval(i1, lo)) / (hi - lo)
    a2 = (np.polyval(i2, hi) - np.polyval(i2, lo)) / (hi - lo)
    return float((math.exp(a2 - a1) - 1) * 100)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)
