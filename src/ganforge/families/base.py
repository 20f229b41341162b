"""What every family provides to the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DataSpec:
    """What a family needs to know about its data to build networks."""

    shape: tuple[int, ...]  # one example: C x H x W for images, (D,) for toy vectors
    is_image: bool
    n_classes: int = 0
    attr_names: tuple[str, ...] = ()  # binary attributes per example (conditioning on them replaces classes)
    n_examples: int = 0  # training examples, for schedules counted in epochs (0: unknown)

    @property
    def n_cond(self) -> int:
        """Length of the condition vector: one per attribute, else one per class."""
        return len(self.attr_names) or self.n_classes


@dataclass
class Batch:
    x: torch.Tensor  # images in [-1, 1] or toy vectors
    y: torch.Tensor | None = None  # int64 classes (N,), or float 0/1 attributes (N, A)


Stats = dict[str, torch.Tensor]  # detached scalars, kept on the device until log time


class Family(nn.Module):
    """Networks of one GAN family plus its two losses.

    `networks` maps an optimiser name ("G", "D") to the module it trains. The loop calls `d_loss` k times
    and then `g_loss` once per step, and owns backward passes, optimiser steps and everything else.
    """

    networks: dict[str, nn.Module]
    def sampler(self) -> nn.Module:
        """The generator that samples: the EMA copy (submodule G_ema, with its EMA object as `ema`, both set by
        the loop when train.ema > 0) when there is one, its BatchNorm statistics brought up to date, else G."""
        ema = getattr(self, "ema", None)
        if ema is None:
            return self.networks["G"]
        ema.refresh_batchnorm(self.noise_inputs)
        return ema.shadow

    def noise_inputs(self, n: int, generator: torch.Generator) -> tuple:
        """G's inputs for n fresh samples drawn from `generator`: (z,), or (z, labels) for a conditional G."""
        raise NotImplementedError

    def distribute(self, wrap) -> None:
        """Multi-process training: `wrap(net)` (DistributedDataParallel) for each network, used by the losses
        for the one forward per backward that readies the gradient all-reduce."""
        self.wrapped = {name: wrap(net) for name, net in self.networks.items()}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Training state beyond the weights (buffers, counters) to save in checkpoints, as tensors."""
        return {}

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` returned."""

    def d_loss(self, real: Batch, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def g_loss(self, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def after_step(self, name: str) -> None:
        """Called after optimiser `name` stepped: the place for weight constraints."""

    wrapped: dict[str, nn.Module] = {}  # noqa: RUF012 - per instance after distribute(); shared empty default
    conditional: bool = False  # G and D take labels (model.condition)
    n_cond: int = 0  # length of the condition vector
    attributes: bool = False  # the condition holds binary attributes, not a one-hot class

    def generate(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Samples in the data's value range, for grids, `ganforge sample` and evaluation; `c` holds the
        condition vectors of a conditional family (one-hot classes or 0/1 attributes)."""
        raise NotImplementedError

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """D's probability that `x` is real (for the 1D picture of D(x))."""
        raise NotImplementedError
