"""Feature extractors and metrics: plain functions of features or samples, each with its protocol."""

import torch

from ganforge.errors import UserError


def check_features(x: torch.Tensor, name: str, needs: str) -> torch.Tensor:
    """x if it is an N x D tensor of at least 2 finite rows, else a UserError saying what is wrong."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(getattr(x, "shape", ()))
        raise UserError(f"{name} must be an N x D tensor of features, got shape {shape}")
    if x.shape[0] < 2:
        raise UserError(f"{name} needs at least 2 samples {needs}, got {x.shape[0]}")
    if not torch.isfinite(x).all():
        raise UserError(f"{name} contains NaN or infinite values")
    return x
