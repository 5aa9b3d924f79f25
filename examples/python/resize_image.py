#!/usr/bin/env python3
"""Resize a binary PPM (P6) or PGM (P5) image with libnic.

    python3 examples/python/resize_image.py in.ppm out.ppm --scale 2
    python3 examples/python/resize_image.py in.pgm out.pgm --size 640x360 --method lanczos

Needs the libnic Python package (`pip install build/wheel/libnic-*.whl` after `make wheel`,
or `pip install ./python` with libnic installed); python/README.md says which library it loads.
"""

import argparse
import sys

import numpy as np

import nic

MAX_HEADER_NUMBER = 1 << 20


class FormatError(ValueError):
    pass


def _read_token(data, pos):
    """Next whitespace-separated header token, skipping # comments."""
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == ord("#"):
            while pos < n and data[pos] not in b"\r\n":
                pos += 1
        elif c in b" \t\r\n\v\f":
            pos += 1
        else:
            break
    start = pos
    while pos < n and data[pos] not in b" \t\r\n\v\f#":
        pos += 1
    if start == pos:
        raise FormatError("truncated header")
    return data[start:pos], pos


def _read_number(data, pos, what):
    tok, pos = _read_token(data, pos)
    if not tok.isdigit() or len(tok) > 7:
        raise FormatError(f"bad {what}: {tok[:20]!r}")
    v = int(tok)
    if v > MAX_HEADER_NUMBER:
        raise FormatError(f"{what} {v} too large")
    return v, pos


def read_pnm(path):
    """Returns an HxWx3 (P6) or HxW (P5) uint8 array."""
    with open(path, "rb") as f:
        data = f.read()
    magic, pos = _read_token(data, 0)
    if magic not in (b"P5", b"P6"):
        raise FormatError(f"{path}: not a binary PGM/PPM (magic {magic[:8]!r})")
    channels = 3 if magic == b"P6" else 1
    width, pos = _read_number(data, pos, "width")
    height, pos = _read_number(data, pos, "height")
    maxval, pos = _read_number(data, pos, "maxval")
    if width < 1 or height < 1:
        raise FormatError(f"{path}: empty image {width}x{height}")
    if not 1 <= maxval <= 255:
        raise FormatError(f"{path}: maxval {maxval} unsupported (only 8-bit, 1..255)")
    if pos >= len(data) or data[pos] not in b" \t\r\n\v\f":
        raise FormatError(f"{path}: missing whitespace after maxval")
    pos += 1
    size = width * height * channels
    if len(data) - pos < size:
        raise FormatError(f"{path}: truncated pixel data ({len(data) - pos} of {size} bytes)")
    shape = (height, width, 3) if channels == 3 else (height, width)
    img = np.frombuffer(data, np.uint8, size, pos).reshape(shape).copy()
    if maxval != 255:
        img = ((img.astype(np.uint32) * 255 + maxval // 2) // maxval).clip(0, 255).astype(np.uint8)
    return img


def write_pnm(path, img):
    magic = b"P6" if img.ndim == 3 else b"P5"
    h, w = img.shape[:2]
    with open(path, "wb") as f:
        f.write(b"%s\n%d %d\n255\n" % (magic, w, h))
        f.write(np.ascontiguousarray(img).tobytes())


def parse_size(text):
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, got {text!r}") from None


def main(argv=None):
    ap = argparse.ArgumentParser(description="Resize a PPM/PGM image with libnic.")
    ap.add_argument("input")
    ap.add_argument("output")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--scale", type=float, help="scale factor, e.g. 2 or 0.5")
    g.add_argument("--size", type=parse_size, help="output size WxH")
    ap.add_argument("--method", choices=["bicubic", "lanczos"], default="bicubic")
    ap.add_argument("--threads", type=int, default=0, help="0 = one per CPU core")
    ap.add_argument("-v", "--verbose", action="store_true", help="print library log messages")
    args = ap.parse_args(argv)

    try:
        img = read_pnm(args.input)
    except (OSError, FormatError) as e:
        print(f"resize_image: {e}", file=sys.stderr)
        return 1
    h, w = img.shape[:2]
    if args.size:
        width, height = args.size
    else:
        if not args.scale > 0:
            print("resize_image: --scale must be positive", file=sys.stderr)
            return 2
        width, height = max(1, round(w * args.scale)), max(1, round(h * args.scale))

    def log(level, message):
        print(f"libnic[{level}]: {message}", file=sys.stderr)

    try:
        with nic.Context(threads=args.threads, log=log if args.verbose else None,
                         log_level=nic.NIC_LOG_DEBUG if args.verbose else None) as ctx:
            out = ctx.resize(img, width, height, args.method)
    except nic.NicError as e:
        print(f"resize_image: {e}", file=sys.stderr)
        return 1
    except nic.LibraryNotFoundError as e:
        print(f"resize_image: {e}", file=sys.stderr)
        return 1
    try:
        write_pnm(args.output, out)
    except OSError as e:
        print(f"resize_image: {e}", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"{args.input}: {w}x{h} -> {args.output}: {width}x{height} ({args.method})",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
