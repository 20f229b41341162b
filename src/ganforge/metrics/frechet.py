"""Frechet distance between Gaussians fitted to features: the distance behind FID (Heusel et al., 2017).

FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}), with (mu, S) the mean and covariance of
Inception features of real and generated images. The functions here take any N x D features, so the same
code serves Inception, a domain-specific network or raw toy data; everything is computed in float64.
"""

from __future__ import annotations

import torch

from ganforge.errors import UserError
from ganforge.metrics import check_features


def _as_features(x: torch.Tensor, name: str) -> torch.Tensor:
    """x as an N x D float64 tensor (float64: the covariance square root needs the precision)."""
    return check_features(x, name, "to estimate a covariance").to(torch.float64)


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D x D, ddof=1, like numpy.cov with rowvar=False), in float64.

    These are the statistics pytorch-fid stores and compares, so numbers match it for the same features.
    """
    x = _as_features(features, "features")
    mu = x.mean(dim=0)
    centred = x - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    return mu, sigma


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric PSD matrix via eigh; negative eigenvalues (rounding) are clipped to 0."""
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor,
                     sigma2: torch.Tensor) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    tr((S1 S2)^{1/2}) is the sum of square roots of the eigenvalues of S1 S2, which equal those of the
    symmetric PSD matrix A S2 A with A = S1^{1/2}. Using symmetric eigendecompositions throughout keeps it
    real and accurate for nearly singular covariances (e.g. fewer samples than feature dimensions), where
    scipy.linalg.sqrtm(S1 @ S2), as used by pytorch-fid, returns complex noise and needs an eps * I fix.
    """
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64).reshape(-1) for m in (mu1, mu2))
    s1, s2 = (torch.as_tensor(s, dtype=torch.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu2.shape[0] != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise UserError(f"statistics do not match: means of size {mu1.shape[0]} and {mu2.shape[0]}, "
                        f"covariances of shape {tuple(s1.shape)} and {tuple(s2.shape)}")
    a = _sqrt_psd(s1)
    m = a @ s2 @ a
    eigenvalues = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0)
    diff = mu1 - mu2
    fd = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * eigenvalues.sqrt().sum()
    # The true value is >= 0; a negative result can only be rounding (e.g. ~-1e-13 for identical statistics).
    return max(float(fd), 0.0)


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to real and fake features (N x D and M x D)."""
    mu1, sigma1 = feature_stats(real)
    mu2, sigma2 = feature_stats(fake)
    if mu1.shape != mu2.shape:
        raise UserError(f"real and fake features differ in dimension: {mu1.shape[0]} vs {mu2.shape[0]}")
    return frechet_distance(mu1, sigma1, mu2, sigma2)
