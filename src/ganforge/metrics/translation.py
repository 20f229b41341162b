"""Metrics of image-to-image translation: how close each output is to its target, image by image.

Every function takes two image batches of the same shape, N x C x H x W, as floats in [0, 1] (`to_unit`
converts uint8 images or [-1, 1] floats), and returns one value per image, so a caller can average, take a
worst case or pair them with labels. Distances are on the [0, 1] scale (data range 1), as super-resolution
papers report PSNR and SSIM.

- `l1`: mean absolute difference per pixel (cycle L1 is `l1(x, F(G(x)))`).
- `psnr`: 10 log10(1 / MSE) in dB; an exact copy scores `PSNR_CAP` (MSE clamped at 1e-10) rather than inf.
- `ssim`: the structural similarity of Wang et al. 2004 with their constants (11 x 11 Gaussian window of
  sigma 1.5, K1 = 0.01, K2 = 0.03), local statistics weighted by the window and averaged over the positions
  where the window fits (scikit-image's `structural_similarity(..., gaussian_weights=True,
  use_sample_covariance=False, data_range=1)`), then over channels.
- `polarity`: whether an image is light on dark or dark on light (the mean of its border against the mean
  of its centre), to count translations that invert a digit's colours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PSNR_CAP = 100.0  # dB of an exact copy: 10 log10(1 / 1e-10)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Images as floats in [0, 1]: uint8 divided by 255, floats taken to be in [-1, 1] as samples are."""
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    return (images.float() + 1.0) / 2.0


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"two N x C x H x W batches of one shape expected, got {tuple(a.shape)} and {tuple(b.shape)}")


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per pixel of each image pair."""
    _check(a, b)
    return (a - b).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio of each pair in dB, data range 1."""
    _check(a, b)
    mse = (a - b).double().pow(2).flatten(1).mean(1).clamp_min(10 ** (-PSNR_CAP / 10))
    return (-10 * torch.log10(mse)).float()


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """The normalised 1-D Gaussian, float64 (size,)."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """The normalised 2-D Gaussian window, size x size: the outer product of the 1-D one."""
    g = gaussian_window_1d(size, sigma)
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Structural similarity of each pair (1 for identical images), averaged over positions and channels."""
    _check(a, b)
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels, got {tuple(a.shape[-2:])}")
    c = a.shape[1]
    x, y = a.double(), b.double()
    # the Gaussian window is separable: a column pass then a row pass, all five local means in one grouped
    # convolution each (11 + 11 taps instead of 121; float64 convolutions are slow on a CPU)
    g = gaussian_window_1d().to(a.device)
    stacked = torch.cat([x, y, x * x, y * y, x * y], 1)
    means = F.conv2d(F.conv2d(stacked, g.view(1, 1, -1, 1).expand(5 * c, 1, -1, -1), groups=5 * c),
                     g.view(1, 1, 1, -1).expand(5 * c, 1, -1, -1), groups=5 * c)
    mu_x, mu_y, xx, yy, xy = means.split(c, 1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # (K L)^2 with data range L = 1
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1).float()


def polarity(images: torch.Tensor, border: int = 2) -> torch.Tensor:
    """+1 where an image's centre is lighter than its `border`-pixel frame (a light digit on a dark ground),
    -1 where darker; images in [0, 1], channels averaged."""
    gray = images.float().mean(1)
    frame = torch.ones_like(gray[0], dtype=torch.bool)
    frame[border:-border, border:-border] = False
    h, w = gray.shape[-2:]
    centre = gray[:, h // 4 : h - h // 4, w // 4 : w - w // 4].flatten(1).mean(1)
    edge = gray[:, frame].mean(1)
    return torch.where(centre >= edge, 1, -1)


def flip_rate(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of outputs whose polarity differs from their target's: translations that inverted the colours."""
    _check(outputs, targets)
    return float((polarity(outputs) != polarity(targets)).float().mean())
