"""Kernel Inception Distance (Binkowski et al., 2018): an unbiased MMD^2 between feature sets.

Unlike FID, the estimator is unbiased, so its expectation does not depend on the number of samples and
it is ~0 (it can be slightly negative) when both sets come from the same distribution. Following the
paper and torch-fidelity, it uses the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 and reports the
mean and standard deviation of the estimate over random subsets.
"""

from __future__ import annotations

import torch

from ganforge.errors import UserError
from ganforge.metrics import check_features

SUBSETS = 100  # subset pairs per estimate, as the paper and torch-fidelity
SUBSET_SIZE = 1000  # their subset size, used where both sets hold at least twice as many
MIN_IMAGES = 4  # subsets of half of each set: the unbiased estimate needs 2 rows per subset


def subset_plan(n_real: int, n_fake: int) -> tuple[int, int]:
    """(subset size, number of subsets) for sets of n_real and n_fake features: 100 subsets of 1,000 where
    both sets hold at least 2,000, else 100 subsets of half the smaller set. Subsets as large as the set
    would all hold the same rows, so the estimates would not vary (a std of 0 that says nothing)."""
    m = min(n_real, n_fake)
    if m < MIN_IMAGES:
        raise UserError(f"kid needs at least {MIN_IMAGES} images in each set (its subsets take half of them), got "
                        f"{n_real} real and {n_fake} fake: use a larger --n or drop kid from --metrics")
    return min(SUBSET_SIZE, m // 2), SUBSETS


def _as_features(x: torch.Tensor, name: str) -> torch.Tensor:
    return check_features(x, name, "for the unbiased MMD estimate")


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Kernel matrix of k(x, y) = (x.y / d + 1)^3, d the feature dimension, in float64."""
    x, y = x.to(torch.float64), y.to(torch.float64)
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased estimate of MMD^2 between the distributions of x (m x d) and y (n x d).

    mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j): leaving out the
    diagonal k(x_i, x_i) is what removes the bias (Gretton et al., 2012, eq. 3).
    """
    x, y = _as_features(x, "x"), _as_features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise UserError(f"x and y differ in feature dimension: {x.shape[1]} vs {y.shape[1]}")
    return _mmd2(x, y)


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """mmd2_unbiased without the input checks."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    yy = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(xx + yy - 2 * k_xy.mean())


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, n_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """KID: mean and std (ddof=0, as torch-fidelity) of mmd2_unbiased over n_subsets random subset pairs.

    Each subset takes subset_size rows without replacement from real and, independently, from fake;
    subset_size is capped at min(len(real), len(fake)). The subsets come from a torch.Generator seeded
    with `seed`, so the result is reproducible.
    """
    real, fake = _as_features(real, "real"), _as_features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise UserError(f"real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]}")
    if n_subsets < 1:
        raise UserError(f"n_subsets must be at least 1, got {n_subsets}")
    if subset_size < 2:
        raise UserError(f"subset_size must be at least 2, got {subset_size}")
    size = min(subset_size, real.shape[0], fake.shape[0])
    gen = torch.Generator().manual_seed(seed)
    estimates = []
    for _ in range(n_subsets):
        i = torch.randperm(real.shape[0], generator=gen)[:size].to(real.device)
        j = torch.randperm(fake.shape[0], generator=gen)[:size].to(fake.device)
        estimates.append(_mmd2(real[i], fake[j]))
    values = torch.tensor(estimates, dtype=torch.float64)
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std(correction=0))}
