"""Plain functions on latent codes: paths between them and truncated draws."""

from __future__ import annotations

import torch

MAX_REDRAWS = 1000  # truncation redraws; the chance that a value stays beyond psi after them is negligible


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight-line points a + t (b - a): a, b of shape (D,) or (N, D), t of shape (T,) -> (T, D) or (N, T, D)."""
    t = t.to(a.dtype).view(-1, 1)
    return a.unsqueeze(-2) + t * (b - a).unsqueeze(-2)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points along the great circle from a to b with the norm interpolated linearly (White 2016): a Gaussian
    code's norm stays near sqrt(D) all the way, where a straight line passes closer to the origin, a region
    the generator rarely saw. Nearly parallel codes fall back to lerp."""
    a2, b2 = a.unsqueeze(-2), b.unsqueeze(-2)
    t = t.to(a.dtype).view(-1, 1)
    na, nb = a2.norm(dim=-1, keepdim=True), b2.norm(dim=-1, keepdim=True)
    cos = ((a2 / na.clamp_min(1e-12)) * (b2 / nb.clamp_min(1e-12))).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    ua, ub = a2 / na.clamp_min(1e-12), b2 / nb.clamp_min(1e-12)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / sin.clamp_min(1e-12)
    spherical = direction * (na + t * (nb - na))
    return torch.where(sin.abs() < 1e-6, lerp(a, b, t.flatten()), spherical)


def truncate_normal(z: torch.Tensor, psi: float, generator: torch.Generator) -> torch.Tensor:
    """The truncation trick of BigGAN (Brock et al. 2019) for z ~ N(0, I): every value with |z| > psi is drawn
    again from `generator` until it falls inside, so z follows the normal truncated to [-psi, psi]."""
    if psi <= 0:
        raise ValueError(f"truncation psi must be > 0, got {psi}")
    z = z.clone()
    for _ in range(MAX_REDRAWS):
        outside = z.abs() > psi
        if not outside.any():
            return z
        z[outside] = torch.randn(int(outside.sum()), generator=generator, device=z.device, dtype=z.dtype)
    return z.clamp(-psi, psi)  # psi so small that redraws rarely land inside
