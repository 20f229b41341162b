"""Class and attribute conditioning for any architecture's G and D.

Labels reach the networks as a condition vector c per sample: the one-hot class (K classes) or the 0/1
attribute vector (K attributes), so one code path serves both.

- cgan (Mirza and Osindero 2014): G reads [z, c]; D reads its input joined with c (as K constant feature
  maps for convolutional D, as K extra inputs for MLPs).
- acgan (Odena et al. 2017): G reads [z, c]; D has a second head that predicts c from D's features.
- projection (Miyato and Koyama 2018): D's output is head(phi(x)) + <V c, phi(x)>, the projection of the label
  embedding on D's features phi; G's BatchNorm layers become class-conditional (gain and bias per label);
  a G without BatchNorm reads [z, c] instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganforge.errors import UserError


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias depend on the condition: y = BN(x) * (1 + c W_gain) + c W_bias.

    With a one-hot c this is one (gain, bias) pair per class (de Vries et al. 2017, Miyato and Koyama 2018);
    both start at the identity (gain 1, bias 0), like a fresh BatchNorm.
    """

    def __init__(self, channels: int, n_cond: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(n_cond, channels, bias=False)
        self.bias = nn.Linear(n_cond, channels, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(c)[:, :, None, None]
        return self.bn(x) * gain + self.bias(c)[:, :, None, None]


class ConditionalG(nn.Module):
    """G(z, c): the architecture's G with c concatenated to z, or with its BatchNorm layers made conditional."""

    def __init__(self, net: nn.Sequential, n_cond: int, concat: bool):
        super().__init__()
        self.net, self.n_cond, self.concat = net, n_cond, concat

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, c.to(z.dtype)], 1) if self.concat else z
        for layer in self.net:
            h = layer(h, c) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class BigGANG(nn.Module):
    """BigGAN's conditioning of G(z, c): z is split into one chunk for G's input and one per BatchNorm layer;
    each layer's gain and bias read [E c, its chunk], E a class embedding shared by all layers."""

    def __init__(self, net: nn.Sequential, n_cond: int, shared_dim: int, chunks: list[int]):
        super().__init__()
        self.net, self.n_cond, self.chunks = net, n_cond, chunks
        self.shared = nn.Linear(n_cond, shared_dim, bias=False)  # one row per class, as nn.Embedding
        nn.init.normal_(self.shared.weight, 0.0, 0.02)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        parts = z.split(self.chunks, 1)
        embedding = self.shared(c.to(z.dtype))
        h, k = parts[0], 1
        for layer in self.net:
            if isinstance(layer, ConditionalBatchNorm2d):
                h, k = layer(h, torch.cat([embedding, parts[k]], 1)), k + 1
            else:
                h = layer(h)
        return h


def z_chunks(z_dim: int, n_layers: int) -> list[int]:
    """z's split for BigGAN's hierarchical z: equal chunks for G's input and n_layers conditioned layers, the
    input's taking the remainder."""
    each = z_dim // (n_layers + 1)
    if each < 1:
        raise UserError(f"family.z_dim={z_dim} is too small to split across {n_layers + 1} parts (hierarchical z); "
                        f"set family.z_dim to at least {n_layers + 1}")
    return [z_dim - n_layers * each] + [each] * n_layers


class ConditionalD(nn.Module):
    """D(x, c) -> (logit of real, class logits or None).

    `body` is the architecture's D up to its head (the last Linear or Conv2d, which reads all of the body's
    output: DCGAN's 4x4 valid convolution on a 4x4 map, or a Linear); `head` is the rest.
    """

    def __init__(self, body: nn.Sequential, head: nn.Sequential, mode: str, n_cond: int, n_features: int,
                 conv: bool, pack: int = 1):
        super().__init__()
        self.body, self.head, self.mode, self.n_cond, self.pack = body, head, mode, n_cond, pack
        self.conv = conv  # cgan: c joins a convolutional D's input as feature maps
        self.projects, self.classifies = "projection" in mode, "acgan" in mode  # projection+acgan: both
        if self.classifies:
            self.classifier = nn.Linear(n_features, n_cond)
        if self.projects:
            self.embed = nn.Linear(n_cond, n_features, bias=False)  # V: one row per class, as nn.Embedding
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        c = c.to(x.dtype)
        if self.mode == "cgan":
            x = join_condition(x, c, self.conv)
        if self.pack > 1:  # cgan only: each sample keeps its label maps inside the pack
            x = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        h = self.body(x)
        out = self.head(h)
        features = h.flatten(1)
        if self.projects:
            out = out + (self.embed(c) * features).sum(1)
        return out, (self.classifier(features) if self.classifies else None)


def join_condition(x: torch.Tensor, c: torch.Tensor, conv: bool) -> torch.Tensor:
    """x with c appended: K constant maps for a convolutional D ([N, C, H, W] -> [N, C+K, H, W]), else K more
    inputs after the flattened x."""
    if conv:
        return torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
    return torch.cat([x.flatten(1), c], 1)


def condition_vector(y: torch.Tensor, n_cond: int) -> torch.Tensor:
    """Labels as condition vectors: int64 classes (N,) -> one-hot (N, K); 0/1 attributes (N, K) unchanged."""
    if y.dtype == torch.int64:
        return F.one_hot(y, n_cond).float()
    return y.float()


def split_head(d: nn.Sequential) -> tuple[nn.Sequential, nn.Sequential, int]:
    """(body, head, number of features the head reads) of a Sequential D: the head starts at its last Linear
    or Conv2d."""
    i = max(k for k, m in enumerate(d) if isinstance(m, (nn.Linear, nn.Conv2d)))
    head = d[i]
    n = head.in_features if isinstance(head, nn.Linear) else head.weight[0].numel()
    return nn.Sequential(*d[:i]), nn.Sequential(*d[i:]), n


def conditional_bn(g: nn.Sequential, n_cond: int) -> tuple[nn.Sequential, bool]:
    """G with each BatchNorm2d replaced by a ConditionalBatchNorm2d reading n_cond values; False when G has
    none."""
    layers = [ConditionalBatchNorm2d(m.num_features, n_cond) if isinstance(m, nn.BatchNorm2d) else m for m in g]
    return nn.Sequential(*layers), any(isinstance(m, ConditionalBatchNorm2d) for m in layers)


def g_config(options: Any, n_cond: int) -> Any:
    """The architecture's config for a G that reads [z, c]."""
    return dataclasses.replace(options, z_dim=options.z_dim + n_cond)


def check_condition(options: Any, n_cond: int, data_name: str) -> None:
    if n_cond == 0:
        raise UserError(f"family.condition={options.condition} needs labels, but {data_name} has none; use a "
                        "labelled dataset (class subfolders, IDX labels, or an attributes.csv in the image folder) "
                        "or set family.condition=none")
    if options.pack > 1 and options.condition != "cgan":
        raise UserError(f"family.pack={options.pack} works with family.condition=cgan or none, not "
                        f"{options.condition} (a pack of samples has several labels); set family.pack=1")


def default_condition(n: int, n_cond: int, attributes: bool, device: torch.device | str = "cpu") -> torch.Tensor:
    """Labels for n samples when none are asked for: classes in turn (0, 1, ..., K-1, 0, ...), or for
    attributes the binary numbers 0, 1, 2, ... in turn (sample i has attribute j when bit j of i is set)."""
    i = torch.arange(n, device=device)
    if attributes:
        bits = torch.arange(n_cond, device=device).clamp(max=62)  # attributes past bit 62 stay 0
        return ((i[:, None] >> bits) & 1).float()
    return condition_vector(i % n_cond, n_cond)
