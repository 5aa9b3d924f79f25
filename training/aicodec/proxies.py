"""Differentiable codec proxies the joint runs train through (luma, 8x8 DCT).

jpeg_proxy codes a luma plane with libjpeg's scaled luminance table (or, with table=hevc_flat_table,
HEVC's flat quantisation) and returns the decoded plane and a bits-per-pixel estimate; pframe_proxy
codes a P picture of a translating camera; translate moves frames by sub-pixel camera steps. Values
follow a JPEG encoder: luma 0..255 - 128 inside the transform, [0, 1] outside.
libnic's Swift LumaJPEGProxy mirrors jpeg_proxy.
"""

import math

import torch
import torch.nn.functional as F

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
