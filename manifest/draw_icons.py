"""Draws the app's two Teams icons (a calendar with a check mark) and writes them as PNG files.

Standard library only, so anyone can regenerate the icons: `python manifest/draw_icons.py`.
Shapes are signed-distance functions; a pixel's coverage is its distance clamped to [0, 1], which gives
smooth edges without supersampling.
"""

from __future__ import annotations

import itertools
import math
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["COLOR_SIZE", "OUTLINE_SIZE", "color_pixels", "encode_png", "outline_pixels", "write_icons"]

COLOR_SIZE = 192
OUTLINE_SIZE = 32

RGB = tuple[int, int, int]
Shape = Callable[[float, float], float]  # (x, y) -> signed distance in pixels, negative inside

_BACKGROUND: RGB = (0x1F, 0x5F, 0xA8)  # the manifest's accentColor
_PAGE: RGB = (0xFF, 0xFF, 0xFF)
_HEADER: RGB = (0xD8, 0x3B, 0x01)
_RINGS: RGB = (0x24, 0x2A, 0x33)
_CHECK: RGB = (0x10, 0x7C, 0x10)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 - r, (y1 - y0) / 2 - r

    def distance(x: float, y: float) -> float:
        dx, dy = abs(x - cx) - hx, abs(y - cy) - hy
        outside = math.hypot(max(dx, 0.0), max(dy, 0.0))
        return outside + min(max(dx, dy), 0.0) - r

    return distance


def polyline(points: list[tuple[float, float]], width: float) -> Shape:
    """A stroke of `width` along the segments, with round caps and joins."""
    segments = list(itertools.pairwise(points))

    def distance(x: float, y: float) -> float:
        best = math.inf
        for (ax, ay), (bx, by) in segments:
            vx, vy = bx - ax, by - ay
            t = max(0.0, min(1.0, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)))
            best = min(best, math.hypot(x - ax - t * vx, y - ay - t * vy))
        return best - width / 2

    return distance


def ring(shape: Shape, width: float) -> Shape:
    """The band of `width` just inside the shape's edge."""
    return lambda x, y: max(shape(x, y), -shape(x, y) - width)


def below(shape: Shape, y_limit: float) -> Shape:
    """The part of the shape above the horizontal line y = y_limit."""
    return lambda x, y: max(shape(x, y), y - y_limit)


def coverage(shape: Shape, x: int, y: int) -> float:
    return min(1.0, max(0.0, 0.5 - shape(x + 0.5, y + 0.5)))


def _blend(under: RGB, over: RGB, alpha: float) -> RGB:
    r, g, b = (round(u + (o - u) * alpha) for u, o in zip(under, over, strict=True))
    return (r, g, b)


def _calendar(scale: float) -> tuple[Shape, Shape, list[Shape], Shape]:
    """The page, its header band, the two binder rings and the check mark, on a 192-unit grid."""

    def s(v: float) -> float:
        return v * scale

    page = rounded_rect(s(36), s(48), s(156), s(160), s(14))
    header = below(page, s(80))
    rings = [rounded_rect(s(x), s(34), s(x + 14), s(64), s(7)) for x in (64, 114)]
    check = polyline([(s(70), s(120)), (s(88), s(138)), (s(124), s(100))], s(14))
    return page, header, rings, check


def color_pixels() -> list[list[RGB]]:
    """The 192x192 full-colour icon: a white calendar page with an orange header and a green check."""
    page, header, rings, check = _calendar(1.0)
    layers: list[tuple[Shape, RGB]] = [(page, _PAGE), (header, _HEADER), *((r, _RINGS) for r in rings)]
    layers.append((check, _CHECK))
    rows = []
    for y in range(COLOR_SIZE):
        row = []
        for x in range(COLOR_SIZE):
            pixel = _BACKGROUND
            for shape, colour in layers:
                pixel = _blend(pixel, colour, coverage(shape, x, y))
            row.append(pixel)
        rows.append(row)
    return rows


def outline_pixels() -> list[list[int]]:
    """The 32x32 outline icon's alpha values: the same drawing as white strokes on transparency."""
    scale = OUTLINE_SIZE / COLOR_SIZE
    page, header, rings, check = _calendar(scale)
    strokes = [ring(page, 2.0), header, *rings, check]
    return [
        [round(255 * max(coverage(shape, x, y) for shape in strokes)) for x in range(OUTLINE_SIZE)]
        for y in range(OUTLINE_SIZE)
    ]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, color_type: int, rows: list[bytes]) -> bytes:
    """An 8-bit PNG (colour type 2: RGB, 6: RGBA) from raw rows, each row unfiltered (filter type 0)."""
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def color_png() -> bytes:
    rows = [bytes(channel for pixel in row for channel in pixel) for row in color_pixels()]
    return encode_png(COLOR_SIZE, COLOR_SIZE, 2, rows)


def outline_png() -> bytes:
    # White everywhere; only alpha varies, so a transparent pixel is white at alpha 0.
    rows = [b"".join(bytes((255, 255, 255, a)) for a in row) for row in outline_pixels()]
    return encode_png(OUTLINE_SIZE, OUTLINE_SIZE, 6, rows)


def write_icons(directory: Path) -> list[Path]:
    written = []
    for name, data in (("color.png", color_png()), ("outline.png", outline_png())):
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in write_icons(target):
        print(path)
