"""DCGAN (Radford et al. 2015) for power-of-two resolutions, and its 28x28 variant for (Fashion-)MNIST.

The paper's guidelines: strided convolutions in D and transposed convolutions in G instead of pooling;
BatchNorm in both, except at G's output and D's input; ReLU in G with tanh at the output; LeakyReLU (0.2)
in D; no hidden fully connected layers (G's first layer projects z, D's last layer reads one logit);
weights drawn from N(0, 0.02).
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from ganforge.errors import UserError


def init_weights(module: nn.Module) -> None:
    """The DCGAN initialisation: conv and linear weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def up(c_in: int, c_out: int) -> list[nn.Module]:
    """Double the resolution: transposed conv, BatchNorm, ReLU."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def down(c_in: int, c_out: int, norm: bool = True) -> list[nn.Module]:
    """Halve the resolution: strided conv, BatchNorm (not on D's input layer), LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return layers + [nn.LeakyReLU(0.2, True)]


def _check_shape(shape: tuple[int, ...], ok_sizes: str, ok: bool) -> tuple[int, int]:
    c, h, w = shape
    if c not in (1, 3):
        raise UserError(f"DCGAN needs 1 or 3 image channels, got {c}; set data.channels=1 or 3")
    if h != w or not ok:
        raise UserError(f"DCGAN needs square {ok_sizes} images, got {h}x{w}; set data.resolution")
    return c, h


def _base(shape: tuple[int, ...]) -> tuple[int, int, tuple[int, int]]:
    """(channels, doublings, (base height, base width)) of a DCGAN for C x H x W images: the long side a power of
    two >= 16, reached from 4 by doublings; the short side a quarter, half, three quarters of it or all of it, so
    a rectangle doubles up from a 4x1, 4x2 or 4x3 base as a square does from 4x4 (data.aspect=keep)."""
    c, h, w = shape
    long, short = max(h, w), min(h, w)
    if c in (1, 3) and h != w and not (long >= 16 and long & (long - 1) == 0 and (4 * short) % long == 0):
        raise UserError(f"DCGAN needs power-of-two (16, 32, 64, ...) images, square or with the short side a "
                        f"quarter, half or three quarters of the long one (data.aspect=keep), got {w}x{h}; set "
                        "data.resolution")
    _check_shape((c, long, long), "power-of-two (16, 32, 64, ...)", long >= 16 and long & (long - 1) == 0)
    n_up = int(math.log2(long)) - 2
    return c, n_up, (h >> n_up, w >> n_up)


def build(options: Any, shape: tuple[int, ...], pack: int = 1, extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    """DCGAN for square images of a power-of-two size >= 16 (64 in the paper), or rectangles of such a long side
    built on a 4x1, 4x2 or 4x3 base (_base); D reads `pack` samples at once, each with `extra_in` more channels (a
    cgan's label maps)."""
    c, n_up, base = _base(shape)  # the base (4x4 for squares) doubled n_up times
    gw, dw = options.g_width, options.d_width

    g_layers: list[nn.Module] = [
        nn.Unflatten(1, (options.z_dim, 1, 1)),
        nn.ConvTranspose2d(options.z_dim, gw * 2 ** (n_up - 1), base, 1, 0, bias=False),
        nn.BatchNorm2d(gw * 2 ** (n_up - 1)),
        nn.ReLU(True),
    ]
    for i in range(n_up - 1, 0, -1):
        g_layers += up(gw * 2**i, gw * 2 ** (i - 1))
    g_layers += [nn.ConvTranspose2d(gw, c, 4, 2, 1), nn.Tanh()]

    d_layers = down((c + extra_in) * pack, dw, norm=False)
    for i in range(n_up - 1):
        d_layers += down(dw * 2**i, dw * 2 ** (i + 1))
    d_layers += [nn.Conv2d(dw * 2 ** (n_up - 1), 1, base, 1, 0), nn.Flatten(0)]

    g, d = nn.Sequential(*g_layers), nn.Sequential(*d_layers)
    init_weights(g)
    init_weights(d)
    return g, d


def build_28(options: Any, shape: tuple[int, ...], pack: int = 1, extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    """The 28x28 DCGAN used for (Fashion-)MNIST: z -> 7x7 -> 14x14 -> 28x28, and back down in D."""
    c, _ = _check_shape(shape, "28x28", shape[1] == 28)
    gw, dw = options.g_width, options.d_width
    g = nn.Sequential(
        nn.Linear(options.z_dim, 2 * gw * 7 * 7, bias=False),  # the projection of z (not a hidden dense layer)
        nn.Unflatten(1, (2 * gw, 7, 7)),
        nn.BatchNorm2d(2 * gw),
        nn.ReLU(True),
        *up(2 * gw, gw),
        nn.ConvTranspose2d(gw, c, 4, 2, 1),
        nn.Tanh(),
    )
    d = nn.Sequential(*down((c + extra_in) * pack, dw, norm=False), *down(dw, 2 * dw), nn.Flatten(), nn.Linear(2 * dw * 7 * 7, 1), nn.Flatten(0))
    init_weights(g)
    init_weights(d)
    return g, d
