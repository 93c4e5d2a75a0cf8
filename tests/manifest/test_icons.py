"""The committed Teams icons: sizes, colour types, the outline's white-on-transparent rule, and their source."""

from __future__ import annotations

from pathlib import Path

from manifest import draw_icons
from tests.manifest.pngread import read_png

ICONS = Path(draw_icons.__file__).resolve().parent
WHITE = (255, 255, 255)


def test_color_icon_is_a_192_pixel_full_colour_png() -> None:
    png = read_png((ICONS / "color.png").read_bytes())
    assert (png.width, png.height, png.bit_depth, png.color_type) == (192, 192, 8, 2)
    colours = {pixel for row in png.pixels for pixel in row}
    # Full colour, not a grey or two-tone image: background, page, header, rings and check all differ.
    assert len(colours) > 5
    assert any(len(set(pixel)) > 1 for pixel in colours)


def test_outline_icon_is_a_32_pixel_rgba_png_of_white_on_transparency() -> None:
    png = read_png((ICONS / "outline.png").read_bytes())
    assert (png.width, png.height, png.bit_depth, png.color_type) == (32, 32, 8, 6)
    pixels = [pixel for row in png.pixels for pixel in row]
    not_white = [(i % 32, i // 32, p) for i, p in enumerate(pixels) if p[3] > 0 and p[:3] != WHITE]
    assert not_white == []
    opaque = sum(1 for p in pixels if p[3] == 255)
    transparent = sum(1 for p in pixels if p[3] == 0)
    assert opaque > 50 and transparent > 300  # a drawing, neither blank nor a filled square
    assert all(png.pixels[y][x][3] == 0 for y, x in ((0, 0), (0, 31), (31, 0), (31, 31)))


def test_committed_icons_are_what_the_script_draws(tmp_path: Path) -> None:
    # Decoded pixels, not bytes: another zlib build may compress the same image differently.
    written = draw_icons.write_icons(tmp_path)
    assert [p.name for p in written] == ["color.png", "outline.png"]
    for path in written:
        assert read_png(path.read_bytes()).pixels == read_png((ICONS / path.name).read_bytes()).pixels
