"""k-nearest-neighbour manifold metrics: precision/recall and density/coverage.

Precision and recall (Kynkaanniemi et al., 2019) separate fidelity from diversity, which a single FID
mixes: each set's manifold is the union of balls around its samples, of radius the distance to the k-th
nearest other sample of the same set. Density and coverage (Naeem et al., 2020) count ball memberships
instead, which makes them less sensitive to outliers in the real set and gives density an expectation
of 1 when real and fake come from the same distribution.

A point is inside a ball when its distance to the centre is <= the radius (Kynkaanniemi et al.'s
reference code; Naeem et al.'s uses <, which differs only for points exactly on a boundary).

Distances come from torch.cdist in float64, chunk_size rows at a time, so 10k x 10k sets need only
chunk_size x 10k distances in memory at once.
"""

from __future__ import annotations

import torch

from ganforge.errors import UserError

CHUNK_SIZE = 1000
PR_K, DC_K = 3, 5  # the papers' k: Kynkaanniemi et al.'s for precision/recall, Naeem et al.'s for density/coverage
# Both papers measure 10,000 (Naeem et al.) to 50,000 (Kynkaanniemi et al.) images per set, and the density/coverage
# authors name about 1,000 per set as the least for a steady density (github.com/clovaai/generative-evaluation-prdc,
# issue 3). The values also drift with n, since the k-NN balls shrink as sets grow: density of the same two 64-d
# Gaussians (N(0, 1) vs N(0.3, 0.8^2), three seeds) is 3.8 at 100 images per set, 4.8 at 300, 6.0 at 1,000 and
# 7.2 at 3,000. So a warning below 1,000, and values of different n are not compared.
RELIABLE_N = 1000


def size_warning(metrics: tuple[str, ...], n_real: int, n_fake: int) -> str | None:
    """Refuse pr or dc where a set holds no more than k images (a k-NN ball needs k other points); one line of
    warning where a set holds fewer than RELIABLE_N; None otherwise."""
    used = [(m, k) for m, k in (("pr", PR_K), ("dc", DC_K)) if m in metrics]
    for m, k in used:
        if min(n_real, n_fake) <= k:
            raise UserError(f"{m} needs more than k={k} images in each set (each image's {k} nearest neighbours), "
                            f"got {n_real} real and {n_fake} fake: use a larger --n or drop {m} from --metrics")
    if not used or min(n_real, n_fake) >= RELIABLE_N:
        return None
    names = " and ".join(f"{m} (k={k})" for m, k in used)
    return (f"{names} on {min(n_real, n_fake):,} images per set, below the {RELIABLE_N:,} where their estimates "
            "steady: read them as rough, and compare them only between evaluations of the same n")


def _check_sets(real: torch.Tensor, fake: torch.Tensor, k: int,
                chunk_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """real and fake as float64 N x D and M x D tensors with more than k rows each, or a UserError."""
    out = []
    for x, name in ((real, "real"), (fake, "fake")):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            shape = tuple(getattr(x, "shape", ()))
            raise UserError(f"{name} must be an N x D tensor of features, got shape {shape}")
        if not torch.isfinite(x).all():
            raise UserError(f"{name} contains NaN or infinite values")
        if k < 1 or x.shape[0] <= k:
            raise UserError(f"k must be at least 1 and less than the number of {name} samples "
                            f"({x.shape[0]}), got k={k}")
        out.append(x.to(torch.float64))
    if out[0].shape[1] != out[1].shape[1]:
        raise UserError(f"real and fake features differ in dimension: {out[0].shape[1]} vs {out[1].shape[1]}")
    if chunk_size < 1:
        raise UserError(f"chunk_size must be at least 1, got {chunk_size}")
    return out[0], out[1]


def knn_radii(x: torch.Tensor, k: int, chunk_size: int = CHUNK_SIZE) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (the point itself excluded by index,
    so an exact duplicate counts as a neighbour at distance 0).

    The distances are taken column-wise from cdist(x[chunk], x), the orientation and chunking that
    _ball_counts uses for membership: cdist's matrix-product path is not exactly symmetric, and this way
    a point on a ball's boundary (for identical sets, the k-th neighbour itself) is judged from the very
    same float as the radius.
    """
    nearest = None  # the k smallest distances to each column seen so far, k x N
    for start in range(0, x.shape[0], chunk_size):
        d = torch.cdist(x[start:start + chunk_size], x)
        rows = torch.arange(d.shape[0], device=d.device)
        d[rows, rows + start] = float("inf")
        candidates = d if nearest is None else torch.cat([nearest, d])
        nearest = candidates.topk(min(k, candidates.shape[0]), dim=0, largest=False).values
    return nearest[k - 1]


def _ball_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                 chunk_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each point, how many balls (centres, radii) contain it; for each centre, whether its ball
    contains any point."""
    counts = []
    covered = torch.zeros(centres.shape[0], dtype=torch.bool, device=centres.device)
    for start in range(0, points.shape[0], chunk_size):
        inside = torch.cdist(points[start:start + chunk_size], centres) <= radii
        counts.append(inside.sum(dim=1))
        covered |= inside.any(dim=0)
    return torch.cat(counts), covered


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                     chunk_size: int = CHUNK_SIZE) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019).

    precision: fraction of fake samples inside the real manifold (some real sample's k-NN ball);
    recall: fraction of real samples inside the fake manifold (the same with the roles swapped).
    """
    real, fake = _check_sets(real, fake, k, chunk_size)
    fake_in_real, _ = _ball_counts(fake, real, knn_radii(real, k, chunk_size), chunk_size)
    real_in_fake, _ = _ball_counts(real, fake, knn_radii(fake, k, chunk_size), chunk_size)
    return {"precision": float((fake_in_real > 0).double().mean()),
            "recall": float((real_in_fake > 0).double().mean())}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5,
                     chunk_size: int = CHUNK_SIZE) -> dict[str, float]:
    """Density and coverage (Naeem et al., 2020), both from the real samples' k-NN balls only.

    density = (1 / (k M)) sum_j sum_i 1[fake_j in ball(real_i)]: how many real balls a fake sample falls
    in, relative to k; it is not capped at 1 (fakes crowded where real data is dense score above 1).
    coverage = (1 / N) sum_i 1[some fake_j in ball(real_i)]: fraction of real balls that hold a fake.
    Identical sets give density (k + 1) / k, not 1, when no distances tie: each real ball then holds
    exactly k + 1 of the fakes, the copy of its centre and of its k nearest neighbours.
    """
    real, fake = _check_sets(real, fake, k, chunk_size)
    counts, covered = _ball_counts(fake, real, knn_radii(real, k, chunk_size), chunk_size)
    return {"density": float(counts.double().sum() / (k * fake.shape[0])),
            "coverage": float(covered.double().mean())}
