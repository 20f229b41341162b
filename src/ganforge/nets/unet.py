"""The U-Net generator of pix2pix (Isola et al. 2017, Sec. 3.1.1 and App. 6.1.1), for any image size that
its halvings divide and any channel counts.

An encoder of `depth` strided 4 x 4 convolutions (C64-C128-C256-C512-..., BatchNorm on all but the first
and the innermost, LeakyReLU 0.2) and a mirror decoder of transposed convolutions (BatchNorm, ReLU), each
decoder layer reading the encoder layer of its size beside it (the skips that carry the input's structure
across). Dropout 0.5 on the innermost decoder layers is the only noise, as in the paper (no z). Output tanh.
The paper's 256 x 256 net has depth 8; ganforge takes the depth that the image divides (`unet_depth`).
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import UserError

MAX_WIDTH_FACTOR = 8  # widths double up to 8x the first layer's (64 -> 512), then stay


def unet_depth(h: int, w: int, wanted: int | None = None) -> int:
    """The number of halvings for an h x w image: `wanted`, or as many as both sides divide (at most 8, the
    paper's, down to a 1-pixel side). A size that divides fewer than 2 times is refused."""
    most = 0
    while most < 8 and h % (2 ** (most + 1)) == 0 and w % (2 ** (most + 1)) == 0:
        most += 1
    if wanted is None:
        wanted = most
    if wanted < 2 or wanted > most:
        raise UserError(f"the U-Net halves an image {wanted if wanted >= 2 else 'at least 2'} times, and "
                        f"{h} x {w} divides by 2 only {most} times: use sizes divisible by "
                        f"{2 ** max(wanted, 2)} (pad the images; `ganforge translate` pads and crops back)")
    return wanted


class UNetLevel(nn.Module):
    """One level: down, the inner levels, up, and the skip that joins this level's input to its output."""

    def __init__(self, c_outer: int, c_inner: int, inner: nn.Module | None, outermost: bool, innermost: bool,
                 dropout: bool, c_in: int, c_out: int):
        super().__init__()
        down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2, True)]
        down.append(nn.Conv2d(c_in if outermost else c_outer, c_inner, 4, 2, 1, bias=outermost or innermost))
        if not (outermost or innermost):
            down.append(nn.BatchNorm2d(c_inner))
        up_in = c_inner if innermost else 2 * c_inner  # the inner level's output joined with its skip
        up: list[nn.Module] = [nn.ReLU(True), nn.ConvTranspose2d(up_in, c_out if outermost else c_outer, 4, 2, 1,
                                                                 bias=outermost)]
        if outermost:
            up.append(nn.Tanh())
        else:
            up.append(nn.BatchNorm2d(c_outer))
            if dropout:
                up.append(nn.Dropout(0.5))
        self.down, self.inner, self.up = nn.Sequential(*down), inner, nn.Sequential(*up)
        self.outermost = outermost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.inner is not None:
            y = self.inner(y)
        y = self.up(y)
        return y if self.outermost else torch.cat([x, y], 1)


class UNet(nn.Module):
    """in_channels -> out_channels at the same size, `depth` halvings, first width `width`."""

    def __init__(self, in_channels: int, out_channels: int, depth: int, width: int = 64, dropout_levels: int = 3):
        super().__init__()
        widths = [width * min(2**i, MAX_WIDTH_FACTOR) for i in range(depth)]  # encoder layer i's channels
        level = None
        for i in reversed(range(depth)):  # build from the innermost level out
            innermost, outermost = i == depth - 1, i == 0
            c_outer = widths[i - 1] if i > 0 else in_channels
            # dropout on the innermost decoder layers below the innermost itself (the paper's first 3 CD512)
            dropout = not innermost and not outermost and i >= depth - 1 - dropout_levels
            level = UNetLevel(c_outer, widths[i], level, outermost, innermost, dropout, in_channels, out_channels)
        self.net = level
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
