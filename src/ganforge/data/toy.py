"""Toy Gaussian mixtures for watching mode coverage and mode collapse.

toy-ring and toy-grid are the 2D layouts of the PacGAN paper (Lin et al., 2018); toy-1d is a 1D
mixture for the Goodfellow et al. (2014) Fig. 1 style plot of p_data, p_g and D(x) on a line: two
well-separated modes at -2 and +2 with sigma 0.5, so a generator that covers only one of them is
plain to see and both fit in the usual [-4, 4] window.
"""

from __future__ import annotations

import math

import torch


def _ring() -> torch.Tensor:
    """8 modes on the unit circle at angles 2*pi*k/8."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], dim=1).float()


def _grid() -> torch.Tensor:
    """25 modes at {-4, -2, 0, 2, 4}^2 (row-major: x varies slowest)."""
    coords = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(coords, coords)


# name -> (mode centres M x D, sigma of every mode, one-line description)
TOY_SPECS: dict[str, tuple[torch.Tensor, float, str]] = {
    "toy-ring": (_ring(), 0.01, "2D: 8 Gaussians on the unit circle, sigma 0.01 (PacGAN ring)"),
    "toy-grid": (_grid(), 0.05, "2D: 25 Gaussians on the grid {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN grid)"),
    "toy-1d": (torch.tensor([[-2.0], [2.0]]), 0.5,
               "1D: 2 Gaussians at -2 and +2, sigma 0.5 (for p_data / p_g / D(x) plots)"),
}


def sample_toy(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Draw n points of the mixture `name` (a key of TOY_SPECS): each picks a mode uniformly, then adds
    isotropic Gaussian noise. The same (n, seed) always gives the same points. Returns (x float32
    N x D, mode index int64 (N,), mode centres M x D, sigma)."""
    modes, sigma, _ = TOY_SPECS[name]
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(len(modes), (n,), generator=gen)
    x = modes[y] + sigma * torch.randn(n, modes.shape[1], generator=gen)
    return x, y, modes.clone(), sigma
