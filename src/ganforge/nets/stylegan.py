"""A StyleGAN2-style generator and its residual discriminator (Karras et al. 2019, 2020), in plain PyTorch:
no custom CUDA kernels, so the same code runs on a CPU and on a GPU.

Generator: a mapping network z -> w (pixel-normalised z, fully connected layers at a hundredth of the learning
rate), a learned constant input, and per resolution two 3x3 convolutions whose weights each style modulates
and demodulates, per-pixel noise with a learned strength, and a 1x1 "to image" layer whose outputs are summed
up the resolutions (the skip architecture). Every layer uses the equalised learning rate (nets/equalized.py). The synthesis starts at 4x4 for power-of-two sizes and at
7x7 for 28x28 images.

Discriminator: residual blocks (two 3x3 convolutions and a 1x1 skip, each halving by average pooling, the sum
scaled by 1/sqrt(2)), then the minibatch standard deviation, a 3x3 convolution and two linear layers.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import UserError
from ganforge.nets.equalized import GAIN, EqualConv2d, EqualLinear, act
from ganforge.nets.stabilisers import MinibatchStdDev


class ModulatedConv2d(nn.Module):
    """StyleGAN2's convolution: the style s = A(w) scales each input channel of the weights; demodulation then
    rescales each output channel to unit expected norm, which replaces AdaIN's instance normalisation without
    its droplet artefacts. Run as one grouped convolution over the batch."""

    def __init__(self, c_in: int, c_out: int, kernel: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1: the plain convolution
        self.scale, self.padding = 1 / math.sqrt(c_in * kernel * kernel), kernel // 2
        self.demodulate, self.up = demodulate, up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # Scaling the input channels by the style and the output channels by the demodulation factor equals
        # convolving each sample with its own modulated weights, and runs as one ordinary convolution (the
        # per-sample grouped convolution is several times slower on a CPU).
        style = self.affine(w)  # B x C_in
        weight = self.weight * self.scale
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = F.conv2d(x * style[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:  # 1 / ||W_o * s||: sum over (c_in, kernel) of W^2 s^2
            norms = style.pow(2) @ weight.pow(2).sum((2, 3)).t()  # B x C_out
            out = out * torch.rsqrt(norms + 1e-8)[:, :, None, None]
        return out


class NoisyLayer(nn.Module):
    """A modulated 3x3 convolution, per-pixel noise times a learned strength (0 at the start), bias, leaky ReLU.
    In training the noise is fresh; in eval mode it is a fixed draw kept with the weights, so a seed gives
    the same image every time."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("fixed_noise", torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(size)))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`noise`: a map per sample (N x 1 x size x size) in place of the drawn or fixed one (projection)."""
        x = self.conv(x, w)
        if noise is None:
            noise = torch.randn_like(x[:, :1]) if self.training else self.fixed_noise.to(x.dtype)
        return act(x + noise * self.noise_strength + self.bias.view(1, -1, 1, 1))


class ToImage(nn.Module):
    """1x1 modulated convolution to the image's channels, without demodulation (StyleGAN2's tRGB)."""

    def __init__(self, c_in: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


def plan(resolution: int) -> tuple[int, int]:
    """(the synthesis' first size, its doublings) for an image side: 4 and log2(side) - 2 for a power of two
    from 8 up, 7 and 2 for 28."""
    if resolution == 28:
        return 7, 2
    if resolution >= 8 and resolution & (resolution - 1) == 0:
        return 4, int(math.log2(resolution)) - 2
    raise UserError(f"the stylegan family needs square 28x28 images or a power of two from 8 up, got "
                    f"{resolution}x{resolution}; set data.resolution")


def widths(base: int, first: int, doublings: int, cap: int) -> list[int]:
    """Channels at each resolution, coarse to fine: base * 2^k halving towards the image, at most cap."""
    return [min(cap, base * 2 ** (doublings - i)) for i in range(doublings + 1)]


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        sizes = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activate=True) for a, b in pairwise(sizes)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)  # pixel norm: z on the sphere of radius sqrt(D)
        return self.net(z)


class StyleGenerator(nn.Module):
    """z (B x z_dim) -> image in [-1, 1]; `synthesis(ws)` takes one w per style input (B x n_styles x w_dim), the
    handle for style mixing and truncation."""

    def __init__(self, shape: tuple[int, ...], z_dim: int, w_dim: int, mapping_layers: int, base: int, cap: int):
        super().__init__()
        channels, resolution = shape[0], shape[1]
        first, doublings = plan(resolution)
        ch = widths(base, first, doublings, cap)
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(1, ch[0], first, first))
        self.layers = nn.ModuleList([NoisyLayer(ch[0], ch[0], w_dim, first)])
        self.to_image = nn.ModuleList([ToImage(ch[0], channels, w_dim)])
        size = first
        for i in range(1, doublings + 1):
            size *= 2
            self.layers.extend([NoisyLayer(ch[i - 1], ch[i], w_dim, size, up=True), NoisyLayer(ch[i], ch[i], w_dim, size)])
            self.to_image.append(ToImage(ch[i], channels, w_dim))
        self.n_styles = len(self.layers) + 1  # each layer's w, and the last image layer's (as in StyleGAN2)
        self.z_dim, self.w_dim = z_dim, w_dim
        self.register_buffer("w_avg", torch.zeros(w_dim))  # the running mean of w: truncation's centre

    def synthesis(self, ws: torch.Tensor, noise: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Images of per-layer styles; `noise`: a noise map per layer (None: the layer's own)."""
        noise = noise or [None] * len(self.layers)
        x = self.const.expand(ws.shape[0], -1, -1, -1)  # shape, not len: a trace takes any batch size
        x = self.layers[0](x, ws[:, 0], noise[0])
        image = self.to_image[0](x, ws[:, 1])
        for i in range(1, len(self.to_image)):
            a, b = 2 * i - 1, 2 * i
            x = self.layers[a](x, ws[:, a], noise[a])
            x = self.layers[b](x, ws[:, b], noise[b])
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
            image = image + self.to_image[i](x, ws[:, b + 1])
        return torch.tanh(image)  # ganforge's images live in [-1, 1]

    def forward(self, z: torch.Tensor, z2: torch.Tensor | None = None, cut: int | torch.Tensor | None = None,
                w_avg_beta: float | None = None) -> torch.Tensor:
        """Images of codes z; with z2, the style inputs from `cut` (an int or a 0-d tensor) on take z2's w
        (style mixing); with w_avg_beta, the buffer w_avg moves towards the mean of z's w (for truncation)."""
        w = self.mapping(z)
        if w_avg_beta is not None:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().to(self.w_avg.dtype).mean(0), 1 - w_avg_beta)
        ws = w.unsqueeze(1).expand(-1, self.n_styles, -1)
        if z2 is not None:
            later = (torch.arange(self.n_styles, device=z.device) >= torch.as_tensor(cut, device=z.device))
            ws = torch.where(later.view(1, -1, 1), self.mapping(z2).unsqueeze(1), ws)
        return self.synthesis(ws)


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.conv2 = EqualConv2d(c_in, c_in, 3), EqualConv2d(c_in, c_out, 3)
        self.skip = EqualConv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = act(self.conv2(act(self.conv1(x))))
        # (pool(y) + pool(skip(x))) / sqrt(2) with one pooling: pooling is linear
        return F.avg_pool2d(y + self.skip(x), 2) / GAIN


class ResidualDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], base: int, cap: int, mbstd_group: int = 4):
        super().__init__()
        channels, resolution = shape[0], shape[1]
        first, doublings = plan(resolution)
        ch = list(reversed(widths(base, first, doublings, cap)))  # fine to coarse
        self.from_image = EqualConv2d(channels, ch[0], 1)
        self.blocks = nn.Sequential(*[ResidualBlock(ch[i], ch[i + 1]) for i in range(doublings)])
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = EqualConv2d(ch[-1] + 1, ch[-1], 3)
        self.fc = EqualLinear(ch[-1] * first * first, ch[-1], activate=True)
        self.out = EqualLinear(ch[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(act(self.from_image(x)))
        if x.shape[0] % min(self.mbstd.group_size, x.shape[0]) == 0:
            x = self.mbstd(x)
        else:  # a batch the groups do not divide (a last partial batch): one group of all
            x = MinibatchStdDev(x.shape[0])(x)
        x = act(self.conv(x))
        return self.out(self.fc(x.flatten(1))).flatten()
