"""Gaussian Parzen-window log-likelihood, the MNIST score of Goodfellow et al. (2014) and Makhzani et al. (2015).

A mixture of N isotropic Gaussians of std sigma, one centred on each generated sample, is fitted; sigma is
chosen on a validation set, and the score is the mean log-likelihood (nats) of the test set under it, with its
standard error. The original protocol uses 10,000 samples, pixels scaled to [0, 1], sigma cross-validated on
np.logspace(-1, 0, 10); the numbers are only comparable under that protocol (and the estimate is known to be
poor in high dimensions, Theis et al. 2016).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(s) for s in np.logspace(-1, 0, 10))  # 0.1 .. 1.0


def _check(samples: torch.Tensor, data: torch.Tensor, batch: int) -> None:
    if samples.dim() != 2 or data.dim() != 2:
        raise ValueError(f"samples and data must be N x D, got {tuple(samples.shape)} and {tuple(data.shape)}")
    if samples.shape[1] != data.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} dimensions but data has {data.shape[1]}")
    if samples.shape[0] < 1 or data.shape[0] < 1:
        raise ValueError("samples and data must each have at least one row")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")


def _log_likelihoods(samples: torch.Tensor, data: torch.Tensor, sigmas: Sequence[float],
                     batch: int) -> torch.Tensor:
    """len(sigmas) x M log-likelihoods; the distances, the costly part, are computed once for all sigmas."""
    _check(samples, data, batch)
    if any(not s > 0 for s in sigmas):
        raise ValueError(f"sigmas must be positive, got {list(sigmas)}")
    # float64: the matmul identity cancels catastrophically in float32 for nearby points
    s = samples.to(device=data.device, dtype=torch.float64)
    x_all = data.to(torch.float64)
    n, d = s.shape
    s_sq = (s * s).sum(1)
    out = torch.empty(len(sigmas), len(x_all), dtype=torch.float64, device=data.device)
    for start in range(0, len(x_all), batch):  # batches bound memory to batch x N distances
        x = x_all[start:start + batch]
        d2 = ((x * x).sum(1, keepdim=True) + s_sq - 2 * x @ s.T).clamp_min_(0)  # rounding can go below 0
        for j, sigma in enumerate(sigmas):
            const = math.log(n) + 0.5 * d * math.log(2 * math.pi * sigma ** 2)
            # logsumexp, not log(sum(exp)): far points would underflow exp to 0 and give -inf
            out[j, start:start + batch] = torch.logsumexp(d2 / (-2 * sigma ** 2), dim=1) - const
    return out


def parzen_log_likelihood(samples: torch.Tensor, data: torch.Tensor, sigma: float,
                          batch: int = 1000) -> torch.Tensor:
    """Log-likelihood in nats (float64, (M,)) of each row of `data` (M x D) under the mixture of isotropic
    Gaussians of std `sigma` centred on the rows of `samples` (N x D), with equal weights:
    log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - (D/2) log(2 pi sigma^2)."""
    return _log_likelihoods(samples, data, [sigma], batch)[0]


def choose_sigma(samples: torch.Tensor, validation: torch.Tensor, sigmas: Sequence[float] | None = None,
                 batch: int = 1000) -> tuple[float, dict[float, float]]:
    """The sigma with the highest mean log-likelihood of `validation`, and the mean for each sigma tried
    (default: DEFAULT_SIGMAS, the original scripts' grid np.logspace(-1, 0, 10))."""
    grid = [float(s) for s in (DEFAULT_SIGMAS if sigmas is None else sigmas)]
    if not grid:
        raise ValueError("sigmas must not be empty")
    means = _log_likelihoods(samples, validation, grid, batch).mean(1).tolist()
    scores = dict(zip(grid, means))
    return max(scores, key=scores.__getitem__), scores


def parzen_score(samples: torch.Tensor, test: torch.Tensor, validation: torch.Tensor,
                 sigmas: Sequence[float] | None = None, batch: int = 1000) -> dict[str, float | int]:
    """The Parzen protocol: sigma chosen on `validation`, then the mean test log-likelihood and its standard
    error std / sqrt(M) (population std, as in Goodfellow et al.'s script)."""
    sigma, _ = choose_sigma(samples, validation, sigmas, batch)
    ll = parzen_log_likelihood(samples, test, sigma, batch)
    return {
        "parzen_ll": float(ll.mean()),
        "parzen_se": float(ll.std(correction=0)) / math.sqrt(len(ll)),
        "sigma": sigma,
        "n_samples": int(samples.shape[0]),
        "n_test": int(test.shape[0]),
        "n_validation": int(validation.shape[0]),
    }
