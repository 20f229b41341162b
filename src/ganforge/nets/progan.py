"""Progressive growing's networks (Karras et al. 2018): a generator and a discriminator built for the final
resolution that run at any level of the growth, with the newest level faded in by alpha.

Level 0 works at the first size (4x4, or 7x7 for 28x28 images); level l at first * 2^l. G: pixel-normalised z
-> a linear layer to first x first maps -> 3x3 conv; each level up: nearest 2x upsampling and two 3x3 convs;
leaky ReLU and pixel norm after every layer; a 1x1 "to image" layer per level. While level l fades in, G's
image is (1 - alpha) * upsampled(to_image[l - 1]) + alpha * to_image[l]; D mirrors it with "from image" layers
and average pooling, and ends in the minibatch standard deviation, a 3x3 conv and two linear layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.equalized import EqualConv2d, EqualLinear, PixelNorm, act
from ganforge.nets.stabilisers import MinibatchStdDev
from ganforge.nets.stylegan import plan, widths


class ProGenerator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int, base: int, cap: int):
        super().__init__()
        channels, resolution = shape[0], shape[1]
        self.first, self.levels = plan(resolution)
        ch = widths(base, self.first, self.levels, cap)
        self.norm = PixelNorm()
        self.input = EqualLinear(z_dim, ch[0] * self.first**2)
        self.blocks = nn.ModuleList([nn.ModuleList([EqualConv2d(ch[0], ch[0], 3)])])
        for i in range(1, self.levels + 1):
            self.blocks.append(nn.ModuleList([EqualConv2d(ch[i - 1], ch[i], 3), EqualConv2d(ch[i], ch[i], 3)]))
        self.to_image = nn.ModuleList([EqualConv2d(c, channels, 1) for c in ch])
        self.ch0 = ch[0]
        # where the growth stands, kept with the weights so that sampling draws at the trained level
        self.register_buffer("growth", torch.tensor([float(self.levels), 1.0]))  # (level, alpha)

    def features(self, z: torch.Tensor, level: int) -> list[torch.Tensor]:
        """The feature maps of levels 0..level."""
        # -1, not len(z): a trace (ganforge export) then takes any batch size
        x = self.norm(act(self.input(self.norm(z))).view(-1, self.ch0, self.first, self.first))
        out = []
        for i in range(level + 1):
            if i:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            for conv in self.blocks[i]:
                x = self.norm(act(conv(x)))
            out.append(x)
        return out

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float | None = None,
                full_size: bool = True) -> torch.Tensor:
        """Images at level `level` (default: the stored growth), at that level's size, or with `full_size`
        upsampled (nearest) to the final size so that every level's samples have the data's shape."""
        level = int(self.growth[0]) if level is None else level
        alpha = float(self.growth[1]) if alpha is None else alpha
        maps = self.features(z, level)
        image = self.to_image[level](maps[-1])
        if level and alpha < 1:
            previous = F.interpolate(self.to_image[level - 1](maps[-2]), scale_factor=2, mode="nearest")
            image = previous + alpha * (image - previous)
        scale = 2 ** (self.levels - level)
        return F.interpolate(image, scale_factor=scale, mode="nearest") if full_size and scale > 1 else image


class ProDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], base: int, cap: int, mbstd_group: int = 4):
        super().__init__()
        channels, resolution = shape[0], shape[1]
        self.first, self.levels = plan(resolution)
        ch = widths(base, self.first, self.levels, cap)  # coarse to fine, as G
        self.from_image = nn.ModuleList([EqualConv2d(channels, c, 1) for c in ch])
        self.blocks = nn.ModuleList([nn.ModuleList([EqualConv2d(ch[i], ch[i], 3), EqualConv2d(ch[i], ch[i - 1], 3)])
                                     for i in range(1, self.levels + 1)])
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = EqualConv2d(ch[0] + 1, ch[0], 3)
        self.fc = EqualLinear(ch[0] * self.first**2, ch[0], activate=True)
        self.out = EqualLinear(ch[0], 1)

    def forward(self, x: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        """D(x) for images at level `level`'s size (first * 2^level), the newest level faded in by alpha."""
        h = act(self.from_image[level](x))
        if level:
            h = self.down(h, level)
            if alpha < 1:
                skip = act(self.from_image[level - 1](F.avg_pool2d(x, 2)))
                h = skip + alpha * (h - skip)
            for i in range(level - 1, 0, -1):
                h = self.down(h, i)
        n = len(h)
        h = self.mbstd(h) if n % min(self.mbstd.group_size, n) == 0 else MinibatchStdDev(n)(h)
        return self.out(self.fc(act(self.conv(h)).flatten(1))).flatten()

    def down(self, h: torch.Tensor, level: int) -> torch.Tensor:
        """Level `level`'s two convolutions, then halving: the features one level coarser."""
        for conv in self.blocks[level - 1]:
            h = act(conv(h))
        return F.avg_pool2d(h, 2)


def resize_real(x: torch.Tensor, levels: int, level: int, alpha: float) -> torch.Tensor:
    """Real images brought to level `level`'s size by average pooling, and while it fades in blended with
    the previous level's (pooled once more, then upsampled), so D sees reals and fakes made alike."""
    k = 2 ** (levels - level)
    x = F.avg_pool2d(x, k) if k > 1 else x
    if level and alpha < 1:
        coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = coarse + alpha * (x - coarse)
    return x
