"""Image-to-image tasks made from the shipped data, deterministic and seeded: plain functions of uint8
N x C x H x W images that build one side of a pair from the other.

- `sobel_edges`: the Sobel gradient magnitude of each image scaled to [0, 1] by its own maximum (the
  input of `fashion-edges`; a blank image has no edges and stays black).
- `pad_to`: a border of background around each image (28 x 28 -> 32 x 32, a size U-Nets halve 5 times).
- `area_downsample`: the mean of each factor x factor block, as super-resolution papers make their low
  resolution images (28 -> 7 for 4x, 28 -> 14 for 2x).
- `colour_digits`: each digit dilated and drawn in a light colour over a dark, coloured, textured
  ground (RGB): the other domain of `mnist-colour`. Seeded, so a test digit always meets the same
  counterpart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_edges(images: torch.Tensor) -> torch.Tensor:
    """uint8 edge images of uint8 images (channels averaged first), each scaled so its strongest edge is 255."""
    # in blocks and in integers: exact, and some 10x faster than a 2-channel conv2d over 60k images at once
    return torch.cat([_sobel_block(block) for block in images.split(2048)]) if len(images) else images[:, :1]


def _sobel_block(images: torch.Tensor) -> torch.Tensor:
    # the channels' sum, not their mean: each image is scaled by its own peak, so the scale cancels
    gray = images.to(torch.int32).sum(1, keepdim=True)
    p = F.pad(gray.float(), [1, 1, 1, 1], mode="replicate").to(torch.int32)
    h, w = gray.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return p[..., dy : dy + h, dx : dx + w]

    gx = at(0, 2) - at(0, 0) + 2 * (at(1, 2) - at(1, 0)) + at(2, 2) - at(2, 0)  # SOBEL_X
    gy = at(2, 0) - at(0, 0) + 2 * (at(2, 1) - at(0, 1)) + at(2, 2) - at(0, 2)  # its transpose
    magnitude = (gx * gx + gy * gy).float().sqrt()
    peak = magnitude.flatten(1).amax(1).clamp_min(1e-12)[:, None, None, None]
    return (magnitude / peak * 255).round().to(torch.uint8)


def pad_to(images: torch.Tensor, size: int, value: int = 0) -> torch.Tensor:
    """Centre each image on a size x size canvas of `value` (the extra pixel, if any, goes right and below)."""
    h, w = images.shape[-2:]
    if h > size or w > size:
        raise ValueError(f"images of {h} x {w} do not fit in {size} x {size}")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(images, [left, size - w - left, top, size - h - top], value=value)


def centre_crop(images: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The centre h x w of each image: undoes pad_to."""
    top, left = (images.shape[-2] - h) // 2, (images.shape[-1] - w) // 2
    return images[..., top : top + h, left : left + w]


def area_downsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """uint8 images `factor` times smaller, each pixel the rounded mean of a factor x factor block."""
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"images of {h} x {w} do not divide by {factor}")
    return F.avg_pool2d(images.float(), factor).round().to(torch.uint8)


def _texture(coarse: torch.Tensor, angle: torch.Tensor, period: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Smooth random grounds in [0, 1], n x 1 x h x w: coarse noise (n x 1 x 4 x 4) upsampled, plus stripes."""
    smooth = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    rows, cols = torch.arange(h, dtype=torch.float32)[:, None], torch.arange(w, dtype=torch.float32)[None, :]
    stripes = 0.5 + 0.5 * torch.sin(2 * torch.pi * (cols * angle.cos() + rows * angle.sin()) / period)
    return 0.6 * smooth + 0.4 * stripes


def colour_digits(digits: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 RGB images of uint8 gray digits (N x 1 x H x W): strokes dilated by one pixel, drawn in a light
    random colour over a dark, coloured, textured ground; the same digits and seed give the same images."""
    n, _, h, w = digits.shape
    g = torch.Generator().manual_seed(seed)
    ground_colour = 0.15 + 0.35 * torch.rand(n, 3, 1, 1, generator=g)
    ink = 0.75 + 0.25 * torch.rand(n, 3, 1, 1, generator=g)
    coarse = torch.rand(n, 1, 4, 4, generator=g)
    angle = torch.rand(n, 1, 1, 1, generator=g) * torch.pi
    period = 4 + 6 * torch.rand(n, 1, 1, 1, generator=g)
    out = torch.empty(n, 3, h, w, dtype=torch.uint8)
    for i in range(0, n, 2048):  # in blocks that stay in cache: several times faster over 60k digits
        b = slice(i, i + 2048)
        stroke = F.max_pool2d(digits[b].float() / 255.0, 3, stride=1, padding=1)  # dilation by a 3 x 3 square
        ground = ground_colour[b] * (0.5 + 0.5 * _texture(coarse[b], angle[b], period[b], h, w))
        image = ground * (1 - stroke) + ink[b] * stroke
        out[b] = (image * 255).round().clamp(0, 255).to(torch.uint8)
    return out
