"""Convolutional encoder, decoder and discriminator of the VAE-GAN (Larsen et al. 2016), for 28x28 images and
square power-of-two sizes from 16 up.

The decoder is the DCGAN generator without its tanh (it returns pre-activations a; the image is tanh(a)).
The discriminator has no BatchNorm: its features are the VAE-GAN's reconstruction space, and BatchNorm would
make an image's features depend on the batch it sits in.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganforge.nets import dcgan


def _halvings(shape: tuple[int, ...]) -> int:
    """Stride-2 layers from the image down to 7x7 (28x28 images) or 4x4 (power-of-two sizes)."""
    return 2 if shape[1] == 28 else int(math.log2(shape[1])) - 2


class Encoder(nn.Module):
    """Image -> (mean, log-variance) of q(z | x): strided convolutions, then one linear layer."""

    def __init__(self, shape: tuple[int, ...], z_dim: int, width: int):
        super().__init__()
        c, n = shape[0], _halvings(shape)
        layers = dcgan.down(c, width, norm=False)
        for i in range(n - 1):
            layers += dcgan.down(width * 2**i, width * 2 ** (i + 1))
        side = shape[1] >> n
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(width * 2 ** (n - 1) * side * side, 2 * z_dim)
        dcgan.init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.head(self.body(x)).chunk(2, dim=1)
        return mean, log_var.clamp(-10, 10)  # keeps exp(log_var) finite early in training


class Discriminator(nn.Module):
    """Image -> logit; `features(x)` is the representation its last convolution gives (Larsen et al.'s Dis_l),
    in which the VAE-GAN measures reconstructions."""

    def __init__(self, shape: tuple[int, ...], width: int):
        super().__init__()
        c, n = shape[0], _halvings(shape)
        layers = dcgan.down(c, width, norm=False)
        for i in range(n - 1):
            layers += dcgan.down(width * 2**i, width * 2 ** (i + 1), norm=False)
        top = width * 2 ** (n - 1)
        layers += [nn.Conv2d(top, top, 3, 1, 1)]  # the feature layer, at the lowest resolution
        side = shape[1] >> n
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(top * side * side, 1), nn.Flatten(0))
        dcgan.init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit, features) in one pass."""
        f = self.body(x)
        return self.head(f), f


def build(options: Any, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(encoder, decoder returning tanh's pre-activations, discriminator) for `shape` (checked as DCGAN does)."""
    g, _ = (dcgan.build_28 if shape[1] == 28 else dcgan.build)(options, shape)
    decoder = g[:-1]  # without the tanh: the VAE's pixel likelihood takes the pre-activations as logits
    return Encoder(shape, options.z_dim, options.d_width), decoder, Discriminator(shape, options.d_width)
