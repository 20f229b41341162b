"""Exponential moving average of a generator's weights.

Sampling from the averaged weights gives smoother, usually better images than the last iterate, which
oscillates around the equilibrium (Yazici et al. 2019; Karras et al. 2018 use it for ProGAN).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """shadow = beta_t shadow + (1 - beta_t) param after every update.

    beta_t = min(beta, (1 + t) / (10 + t)) with warmup (t = updates so far; TF's ExponentialMovingAverage
    with num_updates), else beta: the first averages then follow the weights rather than stay dominated by
    the random initialisation. Buffers (BatchNorm running stats, num_batches_tracked) are copied, not
    averaged. `shadow` is a deep copy of the model in eval mode with requires_grad off, on the model's device
    at construction.
    """

    def __init__(self, model: nn.Module, beta: float = 0.999, warmup: bool = True):
        if not 0 <= beta <= 1:
            raise ValueError(f"EMA beta must be in [0, 1], got {beta}")
        self.beta, self.warmup = beta, warmup
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.num_updates = 0

    def decay(self) -> float:
        """beta_t for the next update."""
        t = self.num_updates
        return min(self.beta, (1 + t) / (10 + t)) if self.warmup else self.beta

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        beta_t = self.decay()
        for s, p in zip(self.shadow.parameters(), model.parameters(), strict=True):
            if s.dtype.is_floating_point:
                s.mul_(beta_t).add_(p.detach(), alpha=1 - beta_t)
            else:
                s.copy_(p)
        for s, b in zip(self.shadow.buffers(), model.buffers(), strict=True):
            s.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow's state_dict under "shadow.<name>", and "num_updates" (int64, shape [1])."""
        state = {f"shadow.{k}": v for k, v in self.shadow.state_dict().items()}
        state["num_updates"] = torch.tensor([self.num_updates], dtype=torch.int64)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict({k.removeprefix("shadow."): v for k, v in state.items()
                                     if k.startswith("shadow.")})
        self.num_updates = int(state["num_updates"].item())
