"""Networks of text-to-image GANs (GAN-INT-CLS, Reed et al. 2016) at 28x28.

- TextEncoder: word embeddings averaged over the caption's words, then an MLP to a unit-length embedding.
- ImageEncoder: a small CNN to the same space; with the text encoder it is trained on the matching objective
  (an image's captions score higher than other captions) before the GAN, and scores captions for images.
- TextG: the 28x28 DCGAN generator reading [z, phi(e)], phi a learned projection of the text embedding with
  LeakyReLU (the paper's 128-d compression); optionally its BatchNorm gains and biases read phi(e) too.
- TextD: the 28x28 DCGAN discriminator's convolutions, then phi(e) replicated over the 7x7 feature map and
  joined to it, a 1x1 convolution, and the linear head (the paper's depth concatenation at 4x4).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.conditional import ConditionalG, conditional_bn
from ganforge.nets.dcgan import build_28, init_weights


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int, word_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.words = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(word_dim, hidden), nn.ReLU(True), nn.Linear(hidden, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        present = (tokens > 0).float()
        mean = (self.words(tokens) * present[..., None]).sum(1) / present.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(self.mlp(mean), dim=1)


class ImageEncoder(nn.Module):
    def __init__(self, dim: int, width: int = 32, channels: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 14x14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),  # 7x7
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


class Projection(nn.Module):
    """phi(e) = LeakyReLU(W sqrt(dim) e + b): the unit-length embedding scaled to entries of about 1 first, so
    that at initialisation the condition weighs as much as z (unscaled, its entries are ~1/sqrt(dim))."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.scale = dim**0.5
        self.linear = nn.Linear(dim, out)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.linear(e * self.scale), 0.2)


class TextG(nn.Module):
    """G(z, e): 28x28 images in [-1, 1] from noise z and text embeddings e."""

    def __init__(self, options: Any, shape: tuple[int, ...], text_dim: int, proj_dim: int,
                 condition_bn: bool):
        super().__init__()
        self.project = Projection(text_dim, proj_dim)
        g, _ = build_28(dataclasses.replace(options, z_dim=options.z_dim + proj_dim), shape)
        if condition_bn:
            g, _ = conditional_bn(g, proj_dim)
        self.net = ConditionalG(g, proj_dim, concat=True)

    def forward(self, z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.net(z, self.project(e.to(z.dtype)))


class TextD(nn.Module):
    """D(x, e): one logit per image, real and matching its caption."""

    def __init__(self, options: Any, shape: tuple[int, ...], text_dim: int, proj_dim: int):
        super().__init__()
        _, d = build_28(options, shape)
        i = next(k for k, m in enumerate(d) if isinstance(m, nn.Flatten))
        self.body = d[:i]  # the strided convolutions: N x 2 d_width x 7 x 7
        width = 2 * options.d_width
        self.project = Projection(text_dim, proj_dim)
        self.join = nn.Sequential(nn.Conv2d(width + proj_dim, width, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * 7 * 7, 1), nn.Flatten(0))
        init_weights(self.join)
        init_weights(self.head)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        t = self.project(e.to(h.dtype))[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.head(self.join(torch.cat([h, t], 1)))
