#!/usr/bin/env python3
"""Procedural "paintings" for the samples, drawn here (no download, no licence question):

  flow_strokes.png — brush strokes that follow a smooth flow field, in a night-sky palette;
  mosaic.png       — a Voronoi mosaic of glazed tiles in terracotta, turquoise and gold, with grout.

Usage: procedural-paintings.py OUT_DIR. Deterministic (fixed seeds); standard library only.
"""
import math
import random
import struct
import sys
import zlib

W, H = 512, 384


def write_png(path, w, h, rgb):
    """rgb: bytearray of w*h*3 bytes, row-major."""
    raw = b"".join(b"\x00" + bytes(rgb[y * w * 3:(y + 1) * w * 3]) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def flow_strokes(path):
    rng = random.Random(7)
    img = bytearray()
    for y in range(H):
        for x in range(W):
            t = y / H
            img += bytes((int(18 + 20 * t), int(32 + 30 * t), int(80 + 40 * t)))
    palette = [(28, 52, 120), (52, 96, 170), (96, 140, 205), (150, 190, 230), (240, 205, 70), (215, 150, 45), (236, 230, 200)]

    def angle(x, y):
        return (math.sin(x / 83.0 + math.cos(y / 57.0)) * 1.6 + math.cos(y / 41.0 - x / 131.0) * 1.1
                + 0.8 * math.sin((x + y) / 170.0))

    for _ in range(2600):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        # Colour by region: warm swirls where a slow wave is high, blues elsewhere.
        warm = math.sin(x / 70.0) * math.cos(y / 55.0) > 0.45
        base = palette[rng.choice([4, 5, 6, 4])] if warm else palette[rng.choice([0, 1, 2, 3, 1])]
        col = tuple(max(0, min(255, c + rng.randint(-18, 18))) for c in base)
        r = rng.uniform(1.6, 3.4)
        ri = int(math.ceil(r))
        for _ in range(rng.randint(10, 28)):
            a = angle(x, y)
            x += 1.6 * math.cos(a)
            y += 1.6 * math.sin(a)
            if not (0 <= x < W and 0 <= y < H):
                break
            cx, cy = int(x), int(y)
            for dy in range(-ri, ri + 1):
                yy = cy + dy
                if not 0 <= yy < H:
                    continue
                for dx in range(-ri, ri + 1):
                    xx = cx + dx
                    if 0 <= xx < W and dx * dx + dy * dy <= r * r:
                        k = 3 * (yy * W + xx)
                        for c in range(3):
                            img[k + c] = (img[k + c] + 4 * col[c]) // 5
    write_png(path, W, H, img)


def mosaic(path):
    rng = random.Random(11)
    cell = 16
    gw, gh = W // cell + 2, H // cell + 2
    seeds = [[(gx * cell + rng.uniform(2, cell - 2), gy * cell + rng.uniform(2, cell - 2)) for gx in range(gw)] for gy in range(gh)]
    palette = [(176, 82, 48), (204, 120, 70), (38, 140, 150), (60, 170, 170), (222, 180, 70), (238, 226, 196)]
    colours = []
    for gy in range(gh):
        row = []
        for gx in range(gw):
            # Concentric bands around the centre pick the glaze; each tile varies a little.
            d = math.hypot(gx * cell - W / 2, gy * cell - H / 2) / 38.0 + 0.6 * math.sin(gx * 0.9) * math.cos(gy * 0.7)
            base = palette[int(d) % len(palette)]
            row.append(tuple(max(0, min(255, c + rng.randint(-22, 22))) for c in base))
        colours.append(row)
    img = bytearray(W * H * 3)
    grout = (58, 52, 48)
    for y in range(H):
        cy = y // cell
        for x in range(W):
            cx = x // cell
            best = second = 1e9
            owner = (0, 0)
            for gy in range(max(0, cy - 1), min(gh, cy + 2)):
                for gx in range(max(0, cx - 1), min(gw, cx + 2)):
                    sx, sy = seeds[gy][gx]
                    d = (sx - x) ** 2 + (sy - y) ** 2
                    if d < best:
                        best, second, owner = d, best, (gx, gy)
                    elif d < second:
                        second = d
            edge = math.sqrt(second) - math.sqrt(best)
            col = grout if edge < 1.6 else colours[owner[1]][owner[0]]
            shade = 1.0 - 0.18 * min(1.0, math.sqrt(best) / cell)  # a glazed tile's bevel
            k = 3 * (y * W + x)
            img[k:k + 3] = bytes(int(c * (1.0 if col is grout else shade)) for c in col)
    write_png(path, W, H, img)


if __name__ == "__main__":
    out = sys.argv[1]
    flow_strokes(f"{out}/flow_strokes.png")
    mosaic(f"{out}/mosaic.png")
