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
    gray = images.float().mean(1, keepdim=True) / 255.0
    kernels = torch.stack([SOBEL_X, SOBEL_X.T])[:, None]  # d/dx, d/dy
    grad = F.conv2d(F.pad(gray, [1, 1, 1, 1], mode="replicate"), kernels)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()
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


def _texture(n: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random grounds in [0, 1], n x 1 x h x w: coarse noise upsampled, plus stripes."""
    coarse = torch.rand(n, 1, 4, 4, generator=generator)
    smooth = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    angle = torch.rand(n, 1, 1, 1, generator=generator) * torch.pi
    period = 4 + 6 * torch.rand(n, 1, 1, 1, generator=generator)
    rows, cols = torch.arange(h, dtype=torch.float32)[:, None], torch.arange(w, dtype=torch.float32)[None, :]
    stripes = 0.5 + 0.5 * torch.sin(2 * torch.pi * (cols * angle.cos() + rows * angle.sin()) / period)
    return 0.6 * smooth + 0.4 * stripes


def colour_digits(digits: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 RGB images of uint8 gray digits (N x 1 x H x W): strokes dilated by one pixel, drawn in a light
    random colour over a dark, coloured, textured ground; the same digits and seed give the same images."""
    n, _, h, w = digits.shape
    g = torch.Generator().manual_seed(seed)
    stroke = F.max_pool2d(digits.float() / 255.0, 3, stride=1, padding=1)  # dilation by a 3 x 3 square
    ground_colour = 0.15 + 0.35 * torch.rand(n, 3, 1, 1, generator=g)
    ink = 0.75 + 0.25 * torch.rand(n, 3, 1, 1, generator=g)
    ground = ground_colour * (0.5 + 0.5 * _texture(n, h, w, g))
    image = ground * (1 - stroke) + ink * stroke
    return (image * 255).round().clamp(0, 255).to(torch.uint8)
