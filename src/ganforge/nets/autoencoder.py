"""Fully connected encoder, decoder and code discriminator of the adversarial autoencoder (Makhzani et al.
2015 used two hidden layers of 1,000 ReLU units in each on MNIST)."""

from __future__ import annotations

import math
from itertools import pairwise

from torch import nn


def mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers between consecutive sizes, ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(True))
    return layers


def build(shape: tuple[int, ...], code_dim: int, hidden: list[int], cond_dim: int = 0) -> tuple[nn.Module, ...]:
    """(encoder: example -> code, decoder: code -> logits of the example's values in [0, 1], discriminator:
    code (joined to a cond_dim one-hot label) -> logit that the code came from the prior)."""
    size = math.prod(shape)
    encoder = nn.Sequential(nn.Flatten(), *mlp([size, *hidden, code_dim]))
    decoder = nn.Sequential(*mlp([code_dim, *reversed(hidden), size]), nn.Unflatten(1, tuple(shape)))
    discriminator = nn.Sequential(*mlp([code_dim + cond_dim, *hidden, 1]), nn.Flatten(0))
    return encoder, decoder, discriminator
