"""Latent priors of the adversarial autoencoder (Makhzani et al. 2015): the codes that the encoder is trained
to match.

- gaussian: N(0, I) in any dimension.
- mixture: 2-D, n_components Gaussians on a circle of radius MIXTURE_RADIUS, component k at angle
  2*pi*k/n_components, elongated along its radius (std MIXTURE_STD_RADIAL) and thin across it
  (std MIXTURE_STD_TANGENTIAL), so neighbouring components barely overlap. With labels, component = label
  (the label-conditioned mixture of the paper's Fig. 4).
- swiss_roll: 2-D, an Archimedean spiral: u uniform in [0, 1), angle = SWISS_TURNS * 2*pi * sqrt(u),
  radius = SWISS_RADIUS * sqrt(u), plus isotropic noise of std SWISS_NOISE. Arc length grows about like
  angle^2, i.e. like u, so u is close to the fraction of the roll's length. With labels, u is drawn within
  segment `label` of n_components equal segments of [0, 1).

Everything is drawn with the caller's generator only, so the global RNG (and other draws) stay reproducible.
"""

from __future__ import annotations

import math

import torch

PRIORS = ("gaussian", "mixture", "swiss_roll")

MIXTURE_RADIUS = 4.0
MIXTURE_STD_RADIAL = 0.5
MIXTURE_STD_TANGENTIAL = 0.1

SWISS_RADIUS = 4.0  # the roll fits in [-4, 4]^2 before noise
SWISS_TURNS = 1.5  # angle runs over [0, 3*pi)
SWISS_NOISE = 0.1


def _component_angles(n_components: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.arange(n_components, dtype=torch.float64, device=device) * (2 * math.pi / n_components)


def mixture_centres(n_components: int = 10) -> torch.Tensor:
    """The n_components x 2 centres of the mixture prior (float32), for plots."""
    a = _component_angles(n_components)
    return (MIXTURE_RADIUS * torch.stack([a.cos(), a.sin()], 1)).float()


def _check_labels(labels: torch.Tensor, n: int, n_components: int, device: torch.device) -> torch.Tensor:
    if labels.shape != (n,) or labels.dtype != torch.int64:
        raise ValueError(f"labels must be int64 of shape ({n},), got {labels.dtype} {tuple(labels.shape)}")
    if n and (labels.min() < 0 or labels.max() >= n_components):
        raise ValueError(f"labels must lie in [0, {n_components}), got {int(labels.min())}..{int(labels.max())}")
    return labels.to(device)


def sample_prior(name: str, n: int, dim: int, generator: torch.Generator, labels: torch.Tensor | None = None,
                 n_components: int = 10) -> torch.Tensor:
    """n x dim float32 codes from prior `name` (one of PRIORS) on generator.device. `labels` (int64 (n,)) pick
    the mixture component or swiss-roll segment; the gaussian prior ignores them."""
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIORS)}")
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    device = generator.device
    if name == "gaussian":
        return torch.randn(n, dim, generator=generator, device=device)
    if dim != 2:
        raise ValueError(f"the {name} prior is 2-dimensional, got dim={dim}")
    if labels is not None:
        labels = _check_labels(labels, n, n_components, device)
    if name == "mixture":
        k = labels if labels is not None else torch.randint(n_components, (n,), generator=generator, device=device)
        a = _component_angles(n_components, device)[k].float()
        radial = torch.stack([a.cos(), a.sin()], 1)
        tangential = torch.stack([-a.sin(), a.cos()], 1)
        eps = torch.randn(n, 2, generator=generator, device=device)
        r = MIXTURE_RADIUS + MIXTURE_STD_RADIAL * eps[:, :1]
        return r * radial + MIXTURE_STD_TANGENTIAL * eps[:, 1:] * tangential
    u = torch.rand(n, generator=generator, device=device)
    if labels is not None:
        u = (labels + u) / n_components  # uniform within segment `label`
    root = u.sqrt()
    angle = SWISS_TURNS * 2 * math.pi * root
    roll = SWISS_RADIUS * root[:, None] * torch.stack([angle.cos(), angle.sin()], 1)
    return roll + SWISS_NOISE * torch.randn(n, 2, generator=generator, device=device)


def component_log_density(codes: torch.Tensor, n_components: int = 10) -> torch.Tensor:
    """n x n_components exact Gaussian log densities of 2-D codes under each mixture component (float64)."""
    if codes.dim() != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must be n x 2, got {tuple(codes.shape)}")
    a = _component_angles(n_components, codes.device)
    x = codes.to(torch.float64)
    # coordinates of each code in each component's own (radial, tangential) frame
    along = x[:, :1] * a.cos() + x[:, 1:] * a.sin() - MIXTURE_RADIUS
    across = -x[:, :1] * a.sin() + x[:, 1:] * a.cos()
    norm = math.log(2 * math.pi * MIXTURE_STD_RADIAL * MIXTURE_STD_TANGENTIAL)
    return -0.5 * ((along / MIXTURE_STD_RADIAL) ** 2 + (across / MIXTURE_STD_TANGENTIAL) ** 2) - norm


def component_of(codes: torch.Tensor, n_components: int = 10) -> torch.Tensor:
    """int64 (n,): the most responsible mixture component of each code (equal weights, so the highest density)."""
    return component_log_density(codes, n_components).argmax(1)


def share_in_component(codes: torch.Tensor, labels: torch.Tensor, n_components: int = 10) -> float:
    """The fraction of codes whose most responsible mixture component is their label's."""
    return float((component_of(codes, n_components) == labels.to(codes.device)).double().mean())
