"""Multilayer perceptrons: the networks of the original GAN (Goodfellow et al. 2014).

G maps z through ReLU layers to the data; D is an MLP with LeakyReLU or maxout units (the paper used
maxout and dropout in D) ending in one logit.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class Maxout(nn.Module):
    """max over `pieces` linear maps (Goodfellow et al. 2013)."""

    def __init__(self, n_in: int, n_out: int, pieces: int = 5):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(n_in, n_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return y.view(*y.shape[:-1], -1, self.pieces).amax(-1)


def output_layer(kind: str) -> nn.Module:
    return nn.Tanh() if kind == "tanh" else nn.Identity()


def uniform_init(net: nn.Module, scale: float) -> None:
    """Weights ~ U(-scale, scale), biases 0, as the paper's pylearn2 models did; scale 0 keeps PyTorch's default."""
    if scale > 0:
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -scale, scale)
                nn.init.zeros_(m.bias)


def build(options: Any, shape: tuple[int, ...], out: str, pack: int = 1,
          extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D; D reads `pack` samples at once (PacGAN), each with `extra_in` more inputs (a cgan's label)."""
    n = math.prod(shape)
    g_layers: list[nn.Module] = []
    width = options.z_dim
    for h in options.g_hidden:
        g_layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    g_layers += [nn.Linear(width, n), output_layer(out), nn.Unflatten(1, shape)]

    d_layers: list[nn.Module] = [nn.Flatten()]
    if options.d_input_dropout > 0:
        d_layers.append(nn.Dropout(options.d_input_dropout))
    width = (n + extra_in) * pack
    for h in options.d_hidden:
        unit = Maxout(width, h) if options.d_activation == "maxout" else nn.Sequential(nn.Linear(width, h), nn.LeakyReLU(0.2))
        d_layers += [unit] + ([nn.Dropout(options.d_dropout)] if options.d_dropout > 0 else [])
        width = h
    d_layers += [nn.Linear(width, 1), nn.Flatten(0)]
    g, d = nn.Sequential(*g_layers), nn.Sequential(*d_layers)
    uniform_init(g, options.g_init)
    uniform_init(d, options.d_init)
    return g, d
