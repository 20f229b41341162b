"""Measures of a latent space: how smoothly paths move, and how often an edit changes what it should."""

from __future__ import annotations

import torch


def path_jump_ratio(features: torch.Tensor) -> torch.Tensor:
    """For P paths of T frames (P x T x D features), the largest step between neighbouring frames over the
    mean step, per path: 1 for evenly spaced frames, up to T - 1 for a path that stands still and then jumps
    once (what a generator that memorised its training images would do between two of them)."""
    if features.dim() != 3 or features.shape[1] < 2:
        raise ValueError(f"P x T x D features with T >= 2 expected, got {tuple(features.shape)}")
    steps = (features[:, 1:] - features[:, :-1]).double().norm(dim=-1)
    return (steps.max(1).values / steps.mean(1).clamp_min(1e-12)).float()


def share_changed_to(labels_before: torch.Tensor, labels_after: torch.Tensor, target: int) -> float:
    """Among examples not of class `target` before an edit, the share the edit made `target`."""
    eligible = labels_before != target
    if not eligible.any():
        raise ValueError(f"every example is already of class {target}")
    return float((labels_after[eligible] == target).float().mean())


def random_direction_like(vector: torch.Tensor, generator: torch.Generator, rows: bool = False) -> torch.Tensor:
    """A uniformly random direction with the norm of `vector` (the control of an attribute vector); with `rows`,
    one per row of `vector`, each with that row's norm."""
    d = torch.randn(vector.shape, generator=generator, dtype=vector.dtype).to(vector.device)
    if rows:
        scale = vector.flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1)
        return d * scale.view(-1, *[1] * (vector.dim() - 1))
    return d * (vector.norm() / d.norm())
