"""Images as ganforge writes them: quantisation to bytes, sample grids (optionally numbered), reconstructions.

Quantisation: every image ganforge writes or scores goes through `to_uint8`, which maps generator output in
[-1, 1] to bytes with ``((x + 1) * 127.5).round().clamp(0, 255)`` in float32. ``round`` is round-half-to-even,
so 127.5 (x = 0) becomes 128; values outside [-1, 1] are clamped and NaN becomes 0. Sample grids, ``.npz``
sample dumps and FID statistics all use this one function so they agree to the byte.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganforge.errors import UserError
from ganforge.files import atomic_write

# --------------------------------------------------------------------------- files and frames (all of viz)


def _check_suffix(path: Path, allowed: Sequence[str], what: str) -> None:
    if path.suffix.lower() not in allowed:
        raise UserError(f"cannot write {what} to '{path}': use a file name ending in {', '.join(allowed)}")


def _even_indices(n: int, k: int) -> list[int]:
    """`min(n, k)` distinct, evenly spaced indices into range(n), first and last included (k=1: the last)."""
    k = min(n, k)
    if k <= 0:
        return []
    if k == 1:
        return [n - 1]
    # round-half-up in integers: unlike round() it can never map two neighbours to the same index
    return [(2 * i * (n - 1) + (k - 1)) // (2 * (k - 1)) for i in range(k)]


# --------------------------------------------------------------------------- images


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise float images in [-1, 1] to uint8 as saved: ((x + 1) * 127.5).round().clamp(0, 255).

    Computed in float32 for every float dtype; rounding is half-to-even (torch.round); out-of-range values
    are clamped, NaN becomes 0. uint8 input is returned unchanged. Works on any shape and keeps the device;
    the result is detached from autograd.
    """
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise TypeError(f"to_uint8 expects float images in [-1, 1] or uint8, got {images.dtype}")
    # Always float32, the dtype generators produce: values near a half-way point (x = -1 + k/255 lands on
    # k/2) can round differently in float16/float64, and the same image must give the same bytes.
    x = images.detach().float()
    x = torch.nan_to_num(x, nan=-1.0)  # NaN -> 0 explicitly; casting NaN to uint8 is undefined
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def make_grid(
    images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> np.ndarray:
    """Tile N x C x H x W images (float in [-1, 1] or uint8, C in {1, 3}) into one uint8 array.

    `nrow` is the number of images per row (default ceil(sqrt(N))). `padding` pixels of `pad_value` separate
    the images and surround the grid; unused cells of the last row are `pad_value` too. Returns H' x W' for
    C=1 and H' x W' x 3 for C=3, with H' = rows * (H + padding) + padding (likewise W').
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"make_grid expects N x C x H x W with C in {{1, 3}}, got shape {tuple(images.shape)}"
        )
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    if nrow is None:
        nrow = math.ceil(math.sqrt(n))
    if nrow < 1:
        raise UserError(f"images per row must be at least 1, got {nrow}")
    if padding < 0:
        raise UserError(f"grid padding must be >= 0, got {padding}")
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value must be in 0..255, got {pad_value}")
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    data = to_uint8(images).cpu().permute(0, 2, 3, 1).numpy()  # N x H x W x C
    grid = np.full(
        (nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, dtype=np.uint8
    )
    for k in range(n):
        top = padding + (k // ncol) * (h + padding)
        left = padding + (k % ncol) * (w + padding)
        grid[top : top + h, left : left + w] = data[k]
    return np.ascontiguousarray(grid[:, :, 0]) if c == 1 else grid


def save_grid(
    images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None, padding: int = 2, upscale: int = 1,
    numbered: bool = False,
) -> Path:
    """Write `make_grid(images, nrow, padding)` as a PNG, enlarged `upscale` times with nearest-neighbour;
    `numbered` writes each image's index in its top-left corner (to pick samples by number)."""
    path = Path(path)
    _check_suffix(path, (".png",), "a sample grid")
    img = grid_image(images, nrow, padding, upscale, numbered)
    with atomic_write(path) as f:
        img.save(f, format="PNG")
    return path


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 2, upscale: int = 1,
               numbered: bool = False) -> Image.Image:
    """The picture save_grid writes, as a PIL image (mode L for grey images, RGB for colour)."""
    if upscale < 1:
        raise UserError(f"upscale must be an integer >= 1, got {upscale}")
    img = Image.fromarray(make_grid(images, nrow=nrow, padding=padding))
    if upscale > 1:
        # NEAREST keeps pixels crisp and the values exact: 28x28 digits stay legible in a README
        img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)
    if numbered:
        _number_cells(img, len(images), nrow or math.ceil(math.sqrt(len(images))), images.shape[-2:], padding,
                      upscale)
    return img


def _number_cells(img: Image.Image, n: int, nrow: int, size, padding: int, upscale: int) -> None:
    """Draw 0..n-1 in the top-left corner of the grid's cells, on a dark box so it reads on any image."""
    img_rgb_mode = img.mode
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    h, w = size
    ncol = min(nrow, n)
    white = 255 if img_rgb_mode == "L" else (255, 255, 0)
    for k in range(n):
        top = (padding + (k // ncol) * (h + padding)) * upscale
        left = (padding + (k % ncol) * (w + padding)) * upscale
        box = draw.textbbox((left + 1, top), str(k), font=font)
        draw.rectangle(box, fill=0 if img_rgb_mode == "L" else (0, 0, 0))
        draw.text((left + 1, top), str(k), fill=white, font=font)


def save_reconstructions(real: torch.Tensor, recon: torch.Tensor, path: str | os.PathLike, columns: int = 8) -> Path:
    """Pairs of rows, images (uint8 or in [-1, 1]) above their reconstructions, `columns` to a row (a last
    pair of rows that is not full is padded with black cells, so each image stays above its own)."""
    real = real.float().div(127.5).sub(1.0) if real.dtype == torch.uint8 else real.float()
    recon = recon.float()
    columns = max(1, min(columns, len(real)))
    blank = -torch.ones((-len(real)) % columns, *real.shape[1:])
    real, recon = torch.cat([real, blank]), torch.cat([recon, blank])
    rows = [torch.cat([real[i : i + columns], recon[i : i + columns]]) for i in range(0, len(real), columns)]
    return save_grid(torch.cat(rows), path, nrow=columns, upscale=2)
