#!/usr/bin/env python3
"""Writes tests/fixtures/slices/synthetic_slice.png: a deterministic CT-like test slice.

Standard library only. 8-bit grayscale, 384 x 320 (W x H; deliberately not 512 and not square,
so the resize paths run): air at 8, an elliptic body at 112, two lungs at 22 with a few brighter
Gaussian "lesion" blobs, a spine disc at 225, and light deterministic noise. It is a fixture
for tests on a fresh clone (no real data there), not a medical image.
"""
import math
import random
import struct
import zlib
from pathlib import Path

W, H = 384, 320


def inside(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def pixel(x, y, rng):
    v = 8.0
    if inside(x, y, W / 2, H / 2, W * 0.45, H * 0.42):
        v = 112.0
    for cx in (W * 0.32, W * 0.68):
        if inside(x, y, cx, H * 0.46, W * 0.14, H * 0.3):
            v = 22.0
            for bx, by, s, a in ((W * 0.30, H * 0.40, 9.0, 70.0), (W * 0.70, H * 0.55, 12.0, 90.0),
                                 (W * 0.35, H * 0.62, 6.0, 120.0)):
                v += a * math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s))
    if inside(x, y, W / 2, H * 0.80, W * 0.05, W * 0.05):
        v = 225.0
    v += rng.gauss(0.0, 2.0)
    return max(0, min(255, int(round(v))))


def png_gray8(width, height, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    rng = random.Random(2020)
    rows = [[pixel(x, y, rng) for x in range(W)] for y in range(H)]
    out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "slices" / "synthetic_slice.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_gray8(W, H, rows))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
