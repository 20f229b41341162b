"""Residual generators for translation at a fixed scale (CycleGAN) and for super-resolution (SRResNet).

- `ResnetGenerator` (Johnson et al. 2016, as CycleGAN uses it, Zhu et al. 2017 App. 7.2): c7s1-64, two
  stride-2 convolutions (d128, d256), `blocks` residual blocks, two transposed convolutions (u128, u64),
  c7s1-C and tanh; instance normalisation and reflection padding. Sizes must divide by 4.
- `SRResNet` (Ledig et al. 2017, Fig. 4): a 9 x 9 convolution and PReLU, `blocks` residual blocks
  (conv-BN-PReLU-conv-BN plus the input), a conv-BN joined by a skip to the first layer's output, then one
  sub-pixel step per doubling (a convolution to 4x the channels, PixelShuffle(2), PReLU), and a 9 x 9
  convolution to the image's channels (tanh: samples live in [-1, 1] here).
- `SRDiscriminator` (Ledig et al., Fig. 4): 3 x 3 convolutions in pairs of stride 1 and 2, widths 64 to 512,
  BatchNorm and LeakyReLU, then dense 1024 and one logit (the dense layers read the average over positions,
  so any size works).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        if norm == "instance":
            self.body = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
                nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                nn.InstanceNorm2d(channels, affine=True))
        else:  # SRResNet's
            self.body = nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.PReLU(channels),
                nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7),
                                   nn.InstanceNorm2d(width, affine=True), nn.ReLU(True)]
        c = width
        for _ in range(2):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c, affine=True), nn.ReLU(True)]
            c *= 2
        layers += [ResidualBlock(c) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(c // 2, affine=True), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SRResNet(nn.Module):
    def __init__(self, channels: int, scale: int, width: int = 64, blocks: int = 16):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"the sub-pixel steps double the size: scale must be 2, 4, 8, ..., got {scale}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[ResidualBlock(width, norm="batch") for _ in range(blocks)],
                                    nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        up: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            up += [nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.tail = nn.Sequential(*up, nn.Conv2d(width, channels, 9, padding=4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        return self.tail(features + self.blocks(features))


class SRDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int = 64, stages: int = 4):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for i in range(stages):
            c_next = width * 2**i
            if i > 0:
                layers += [nn.Conv2d(c, c_next, 3, 1, 1, bias=False), nn.BatchNorm2d(c_next), nn.LeakyReLU(0.2, True)]
            layers += [nn.Conv2d(c_next, c_next, 3, 2, 1, bias=False), nn.BatchNorm2d(c_next), nn.LeakyReLU(0.2, True)]
            c = c_next
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(c, 16 * width), nn.LeakyReLU(0.2, True), nn.Linear(16 * width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))
