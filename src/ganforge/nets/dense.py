"""The dense Fashion-MNIST GAN of Géron's Hands-On Machine Learning (ch. 17), Keras style.

G: codings (30) -> Dense(100, SELU) -> Dense(150, SELU) -> image; D: Dense(150, SELU) -> Dense(100, SELU)
-> one logit. SELU layers use LeCun-normal initialisation as in Keras, which keeps them self-normalising.
The book's sigmoid output on [0, 1] images becomes tanh on ganforge's [-1, 1] images.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from ganforge.nets.mlp import output_layer


def selu_dense(n_in: int, n_out: int) -> nn.Sequential:
    layer = nn.Linear(n_in, n_out)
    nn.init.normal_(layer.weight, std=1.0 / math.sqrt(n_in))  # LeCun normal
    nn.init.zeros_(layer.bias)
    return nn.Sequential(layer, nn.SELU())


def build(options: Any, shape: tuple[int, ...], out: str, pack: int = 1,
          extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    n = math.prod(shape)
    g = nn.Sequential(
        selu_dense(options.z_dim, 100), selu_dense(100, 150), nn.Linear(150, n), output_layer(out), nn.Unflatten(1, shape)
    )
    d = nn.Sequential(nn.Flatten(), selu_dense((n + extra_in) * pack, 150), selu_dense(150, 100), nn.Linear(100, 1), nn.Flatten(0))
    return g, d
