"""Layers with the equalised learning rate of progressive growing (Karras et al. 2018), which StyleGAN keeps:
weights drawn from N(0, 1) and multiplied by He's constant at run time, so Adam's steps change every layer
at the same relative rate whatever its fan-in; and the pixel-wise feature normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

GAIN = math.sqrt(2.0)  # keeps activations' scale through leaky ReLUs (StyleGAN's lrelu gain)


def act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * GAIN


class EqualLinear(nn.Module):
    """A linear layer with the equalised learning rate; lr_mul scales both its weights' step and its bias."""

    def __init__(self, n_in: int, n_out: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((n_out,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(n_in), lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return act(y) if self.activate else y


class EqualConv2d(nn.Module):
    """A convolution with the equalised learning rate (padding keeps the size)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale, self.padding = 1 / math.sqrt(c_in * kernel * kernel), kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit root mean square (ProGAN's G, after every convolution)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)
