"""The self-attention block of SAGAN (Zhang et al. 2019), which BigGAN keeps in G and D at one resolution:
every position attends to every other through 1x1 projections (keys and queries at an eighth of the channels,
values at half), and the result joins the input through a learned gate that starts at 0, so the block begins
as the identity."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import UserError


class SelfAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, max(1, channels // 2), 1, bias=False)
        self.out = nn.Conv2d(max(1, channels // 2), channels, 1, bias=False)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.query(x).flatten(2)  # B x C' x N
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)  # B x C/2 x N
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # B x N x N: row i, where position i looks
        y = (v @ attention.transpose(1, 2)).view(b, -1, h, w)
        return x + self.gate * self.out(y)


def insert_attention(net: nn.Sequential, example: torch.Tensor, resolution: int) -> nn.Sequential:
    """`net` with a SelfAttention block after its first activation whose output is resolution x resolution
    (found by running `example` through it in eval mode); refused where no layer has that size."""
    sizes = []
    was_training = net.training
    net.eval()
    with torch.no_grad():
        h = example
        for layer in net:
            h = layer(h)
            sizes.append(tuple(h.shape[1:]) if h.dim() == 4 else None)
    net.train(was_training)
    for i, (layer, shape) in enumerate(zip(net, sizes, strict=True)):
        if isinstance(layer, (nn.ReLU, nn.LeakyReLU)) and shape is not None and shape[1] == resolution:
            return nn.Sequential(*net[: i + 1], SelfAttention(shape[0]), *net[i + 1 :])
    have = sorted({s[1] for s in sizes if s is not None})
    raise UserError(f"family.attention={resolution}: the networks have no layer of that size; sizes: "
                    f"{', '.join(map(str, have))}")
