"""Exponential moving average of a generator's weights.

Sampling from the averaged weights gives smoother, usually better images than the last iterate, which
oscillates around the equilibrium (Yazici et al. 2019; Karras et al. 2018 use it for ProGAN).

A generator with BatchNorm (DCGAN) needs one more step: the live G's running statistics belong to the live
weights, not to their average, so before the average samples its statistics are re-estimated from its own
activations on fresh noise ("standing statistics", Brock et al. 2019).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn


class EMA:
    """shadow = beta_t shadow + (1 - beta_t) param after every update.

    beta_t = min(beta, (1 + t) / (10 + t)) with warmup (t = updates so far; TF's ExponentialMovingAverage
    with num_updates), else beta: the first averages then follow the weights rather than stay dominated by
    the random initialisation. Buffers (BatchNorm running stats, num_batches_tracked) are copied, not
    averaged (until refresh_batchnorm re-estimates them). `shadow` is a deep copy of the model in eval mode with
    requires_grad off, on the model's device at construction.
    """

    REFRESH_BATCHES, REFRESH_BATCH_SIZE = 16, 64  # 1,024 draws for the standing statistics

    def __init__(self, model: nn.Module, beta: float = 0.999, warmup: bool = True):
        if not 0 <= beta <= 1:
            raise ValueError(f"EMA beta must be in [0, 1], got {beta}")
        self.beta, self.warmup = beta, warmup
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.num_updates = 0
        self.batchnorms = [m for m in self.shadow.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.batchnorm_stale = False  # True while the shadow holds the live G's copied statistics
        self.paired_with: nn.Module | None = None  # the model whose tensors update() has listed beside the shadow's

    def decay(self) -> float:
        """beta_t for the next update."""
        t = self.num_updates
        return min(self.beta, (1 + t) / (10 + t)) if self.warmup else self.beta

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        if self.paired_with is not model:  # listed once: walking the modules every step slows a small MLP
            self.pair(model)
        beta_t = self.decay()
        if self.averaged:  # one call for all tensors, the same arithmetic as s.mul_(beta).add_(p, alpha=1 - beta)
            torch._foreach_mul_(self.averaged, beta_t)
            torch._foreach_add_(self.averaged, self.averaged_from, alpha=1 - beta_t)
        for s, p in self.copied:
            s.copy_(p)
        self.num_updates += 1
        self.batchnorm_stale = bool(self.batchnorms)

    def pair(self, model: nn.Module) -> None:
        """List the shadow's tensors beside the model's: floating-point parameters to average, the rest and all
        buffers to copy. The parameters themselves are kept (not detached views), so they stay valid when
        .to() moves a module's data."""
        params = list(zip(self.shadow.parameters(), model.parameters(), strict=True))
        self.averaged = [s for s, _ in params if s.dtype.is_floating_point]
        self.averaged_from = [p for s, p in params if s.dtype.is_floating_point]
        self.copied = [(s, p) for s, p in params if not s.dtype.is_floating_point]
        self.copied += list(zip(self.shadow.buffers(), model.buffers(), strict=True))
        self.paired_with = model

    @torch.no_grad()
    def refresh_batchnorm(self, draw_inputs: Callable[[int, torch.Generator], tuple]) -> None:
        """Standing statistics: each BatchNorm's running mean and variance set to the average over
        REFRESH_BATCHES batches of the shadow's own batch statistics, the batches being
        shadow(*draw_inputs(REFRESH_BATCH_SIZE, generator)). A no-op unless the shadow has BatchNorm and was
        updated since. The noise comes from a generator seeded by num_updates, so the result does not depend on
        when it is asked for, and the global random streams (training's) are not touched."""
        if not self.batchnorm_stale:
            return
        device = next(self.shadow.parameters()).device
        generator = torch.Generator(device=device).manual_seed(self.num_updates)
        momenta = [bn.momentum for bn in self.batchnorms]
        for bn in self.batchnorms:
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over the batches, each weighted equally
        was_training = self.shadow.training
        self.shadow.train()
        try:
            for _ in range(self.REFRESH_BATCHES):
                self.shadow(*draw_inputs(self.REFRESH_BATCH_SIZE, generator))
        finally:
            self.shadow.train(was_training)
            for bn, momentum in zip(self.batchnorms, momenta):
                bn.momentum = momentum
        self.batchnorm_stale = False

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow's state_dict under "shadow.<name>", and "num_updates" (int64, shape [1])."""
        state = {f"shadow.{k}": v for k, v in self.shadow.state_dict().items()}
        state["num_updates"] = torch.tensor([self.num_updates], dtype=torch.int64)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict({k.removeprefix("shadow."): v for k, v in state.items()
                                     if k.startswith("shadow.")})
        self.num_updates = int(state["num_updates"].item())
        self.batchnorm_stale = bool(self.batchnorms)  # recomputed on demand: the same values, seeded
