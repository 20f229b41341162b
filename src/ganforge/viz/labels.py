"""Pictures that say what they show: a sample grid with a caption beside each row, above each column and a
title over it, and such pictures set side by side with a sign between them (a - b + c = result).

Text is drawn after the grid is enlarged, at the picture's own size, so it stays crisp: black on white bands,
in Pillow's built-in font (Aileron, LABEL_SIZE pixels; it reads at 100%). The grid is pasted unchanged in the
bottom-right corner of the picture: those pixels are exactly `grid_image`'s (make_grid's, enlarged).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from ganforge.files import atomic_write
from ganforge.viz.images import _check_suffix, grid_image

LABEL_SIZE = 13  # pixels: Aileron at this size reads at 100% beside 56-pixel cells
SIGN_SIZE = 24  # the signs between pictures (-, +, =)
MARGIN = 6  # pixels between a caption and the grid or the picture's edge
ROW_LABEL_WIDTH = 200  # longer row captions wrap onto more lines


def label_font(size: int = LABEL_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at `size` pixels (its fixed bitmap font where Pillow has no FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


@dataclass(frozen=True)
class Grid:
    """A sample grid as save_grid draws it, and where its rows and columns lie (in the picture's pixels)."""

    image: Image.Image
    rows: int
    columns: int
    cell: tuple[int, int]  # an image's height and width before enlarging
    padding: int
    upscale: int

    @classmethod
    def of(cls, images: torch.Tensor, nrow: int | None = None, padding: int = 2, upscale: int = 2,
           numbered: bool = False) -> Grid:
        n = len(images)
        columns = min(nrow or math.ceil(math.sqrt(n)), n)
        image = grid_image(images, nrow=columns, padding=padding, upscale=upscale, numbered=numbered)
        return cls(image, math.ceil(n / columns), columns, tuple(images.shape[-2:]), padding, upscale)

    def row_span(self, r: int) -> tuple[int, int]:
        top = (self.padding + r * (self.cell[0] + self.padding)) * self.upscale
        return top, top + self.cell[0] * self.upscale

    def column_span(self, c: int) -> tuple[int, int]:
        left = (self.padding + c * (self.cell[1] + self.padding)) * self.upscale
        return left, left + self.cell[1] * self.upscale


def _line_height(font) -> int:
    return font.getbbox("Hg")[3] + 2  # the baseline's drop and a descender, and a little air


def _width(text: str, font) -> int:
    return math.ceil(font.getlength(text))


def wrap(text: str, font, width: int, max_lines: int | None = None) -> list[str]:
    """`text` in lines of at most `width` pixels, broken between words (a word too long for a line, and a
    last line beyond `max_lines`, cut with an ellipsis)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _width(lines[-1] + " " + word, font) <= width:
            lines[-1] += " " + word
        else:
            lines.append(_fit(word, font, width))
    if max_lines is not None and len(lines) > max(1, max_lines):
        keep = max(1, max_lines)
        lines = lines[: keep - 1] + [_fit(" ".join(lines[keep - 1 :]), font, width, cut=True)]
    return lines


def _fit(text: str, font, width: int, cut: bool = False) -> str:
    if _width(text, font) <= width and not cut:
        return text
    while text and _width(text + "…", font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def labelled(grid: Grid, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None,
             title: str | None = None) -> Image.Image:
    """`grid` with `rows[r]` right-aligned left of row r, `columns[c]` centred above column c and `title`
    (wrapped to the picture's width) over both; empty or None captions leave their band out."""
    if rows is not None and len(rows) != grid.rows:
        raise ValueError(f"{len(rows)} row captions for a grid of {grid.rows} rows")
    if columns is not None and len(columns) != grid.columns:
        raise ValueError(f"{len(columns)} column captions for a grid of {grid.columns} columns")
    font = label_font()
    line = _line_height(font)
    row_h = grid.cell[0] * grid.upscale
    row_lines = [wrap(t, font, ROW_LABEL_WIDTH, max(1, row_h // line)) for t in rows or ()]
    left = max((_width(s, font) for ls in row_lines for s in ls), default=0)
    left = left + 2 * MARGIN if left else 0
    column_w = (grid.cell[1] + grid.padding) * grid.upscale
    column_lines = [wrap(t, font, column_w) for t in columns or ()]
    column_h = max((len(ls) for ls in column_lines), default=0) * line
    column_h = column_h + MARGIN if column_h else 0
    width = left + grid.image.width
    title_lines = wrap(title, font, width - 2 * MARGIN) if title else []
    title_h = len(title_lines) * line + MARGIN if title_lines else 0
    top = title_h + column_h
    picture = Image.new(grid.image.mode, (width, top + grid.image.height), "white")
    picture.paste(grid.image, (left, top))
    draw = ImageDraw.Draw(picture)
    for r, ls in enumerate(row_lines):
        a, b = grid.row_span(r)
        y = top + (a + b) // 2 - len(ls) * line // 2
        for i, s in enumerate(ls):
            draw.text((left - MARGIN - _width(s, font), y + i * line), s, fill="black", font=font)
    for c, ls in enumerate(column_lines):
        a, b = grid.column_span(c)
        y = top - MARGIN // 2 - len(ls) * line
        for i, s in enumerate(ls):
            draw.text((left + (a + b - _width(s, font)) // 2, y + i * line), s, fill="black", font=font)
    for i, s in enumerate(title_lines):
        draw.text((MARGIN, MARGIN // 2 + i * line), s, fill="black", font=font)
    return picture


def beside(pictures: Sequence[Image.Image], signs: Sequence[str], height: int) -> Image.Image:
    """Pictures side by side, their bottoms aligned, `signs[i]` between picture i and i + 1, centred on the
    bottom `height` pixels (the grids' height)."""
    if len(signs) != len(pictures) - 1:
        raise ValueError(f"{len(signs)} signs between {len(pictures)} pictures")
    mode = "RGB" if any(p.mode == "RGB" for p in pictures) else "L"
    font = label_font(SIGN_SIZE)
    gaps = [_width(s, font) + 2 * MARGIN for s in signs]
    out = Image.new(mode, (sum(p.width for p in pictures) + sum(gaps), max(p.height for p in pictures)), "white")
    draw = ImageDraw.Draw(out)
    x = 0
    for i, p in enumerate(pictures):
        out.paste(p.convert(mode), (x, out.height - p.height))
        x += p.width
        if i < len(signs):
            box = draw.textbbox((0, 0), signs[i], font=font)
            y = out.height - height // 2 - (box[1] + box[3]) // 2
            draw.text((x + MARGIN, y), signs[i], fill="black", font=font)
            x += gaps[i]
    return out


def save_picture(picture: Image.Image, path: str | os.PathLike) -> Path:
    path = Path(path)
    _check_suffix(path, (".png",), "a picture")
    with atomic_write(path) as f:
        picture.save(f, format="PNG")
    return path


def save_labelled_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None,
                       rows: Sequence[str] | None = None, columns: Sequence[str] | None = None,
                       title: str | None = None, padding: int = 2, upscale: int = 2,
                       numbered: bool = False) -> Path:
    """save_grid's picture with captions beside its rows, above its columns and a title (see `labelled`)."""
    grid = Grid.of(images, nrow, padding, upscale, numbered)
    return save_picture(labelled(grid, rows, columns, title), path)
