"""Real codecs in the loop: JPEG through PIL (libjpeg), x264 and x265 through the ffmpeg command.

The x264/x265 round trips code equal-size luma tiles laid out as one mosaic picture (neutral
chroma, yuv420p in and out so that no range conversion touches the luma samples) and cut the
decoded picture back into tiles.
"""

import io
import math
import subprocess

import numpy as np

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


def x264_clip_roundtrip_gray(clip_tiles_u8, crf, threads=None):
    """A clip of luma tiles through real x264 as a camera would send it: frame k's tiles
    (clip_tiles_u8[k], equal HxW uint8) laid out as one mosaic picture, the frames coded as one
    sequence with x264's default structure (preset medium, B-frames, CRF `crf`). `threads`: the
    encoder's and decoder's threads (None: ffmpeg's default). Returns the decoded tiles per frame
    and the bytes of the stream."""
    grids = [_tile_grid(tiles)[0] for tiles in clip_tiles_u8]
    cols = _tile_grid(clip_tiles_u8[0])[1]
    H, W = grids[0].shape
    H2, W2 = H + H % 2, W + W % 2
    chroma = np.full((H2 // 2) * (W2 // 2) * 2, 128, np.uint8).tobytes()
    thr = [] if threads is None else ["-threads", str(threads)]
    raw = b""
    for g in grids:
        f = np.zeros((H2, W2), np.uint8)
        f[:H, :W] = g
        raw += f.tobytes() + chroma
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W2}x{H2}",
                          "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), *thr,
                          "-x264-params", "log-level=error", "-f", "h264", "-"],
                         input=raw, capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", *thr, "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
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
