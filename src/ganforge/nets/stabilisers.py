"""Discriminator add-ons that fight mode collapse and unstable training.

MinibatchStdDev and MinibatchDiscrimination let D see statistics across the batch (a collapsed G produces
batches with no variety); spectral_norm_all bounds D's Lipschitz constant; pack makes D judge m samples at once.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation layer (Karras et al. 2018, ProGAN, section 3).

    For each group of G = min(group_size, N) samples: s = mean over (C, H, W) of sqrt(Var_group[x] + 1e-8)
    (population variance per position), appended as one extra feature map holding s for every group member:
    [N, C, H, W] -> [N, C+1, H, W], or [N, F] -> [N, F+1] for MLP discriminators. As in the reference code,
    groups are strided: sample i belongs to group i mod (N / G).
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 4):
            raise ValueError(f"MinibatchStdDev takes [N, F] or [N, C, H, W], got shape {tuple(x.shape)}")
        n = x.shape[0]
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"batch size {n} is not divisible by the minibatch-stddev group size {g}")
        y = x.reshape(g, n // g, *x.shape[1:])  # y[k, m] = x[k * (n // g) + m]
        # population variance across the group, two passes written out: torch's var over a short leading dim
        # runs ~50x slower on a CPU (4 ms for a [4, 8, 64, 7, 7] tensor on one core)
        var = (y - y.mean(0)).square().mean(0)
        std = (var + 1e-8).sqrt()  # [n // g, C, H, W]: spread across the group
        s = std.flatten(1).mean(1)  # [n // g]: one number per group
        # back to one value per sample, broadcast over the spatial dims (none for 2-D inputs)
        spatial = x.shape[2:]
        s = s.view(1, n // g, 1, *(1,) * len(spatial)).expand(g, n // g, 1, *spatial).reshape(n, 1, *spatial)
        return torch.cat([x, s.to(x.dtype)], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2).

    M = x T reshaped to [N, B, C]; c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_L1);
    o(x_i)_b = sum_{j != i} c_b(x_i, x_j); output [x, o(x)]: [N, in_features] -> [N, in_features + B].
    """

    def __init__(self, in_features: int, n_kernels: int, kernel_dim: int):
        super().__init__()
        self.n_kernels, self.kernel_dim = n_kernels, kernel_dim
        # small (std 0.1) so the distances start moderate: exp(-L1) is then neither ~1 everywhere nor ~0, so
        # the feature is informative from the start without dominating D's own features
        self.T = nn.Parameter(torch.randn(in_features, n_kernels * kernel_dim) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x @ self.T).view(x.shape[0], self.n_kernels, self.kernel_dim)  # [N, B, C]
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)  # [N, N, B]; memory N^2 B C, fine for D batches
        o = torch.exp(-l1).sum(1) - 1  # drop j = i, whose term is exp(0) = 1
        return torch.cat([x, o], dim=1)


def add_batch_statistics(d: nn.Sequential, minibatch_std: int = 0, minibatch_disc: int = 0,
                         disc_dim: int = 5) -> nn.Sequential:
    """D with minibatch discrimination and/or the minibatch std inserted before its head (its last Linear or
    Conv2d), which gets the extra inputs. The head's weights for them start at zero, so D starts out computing
    exactly what it did without them and learns how much to use them.

    A Conv2d head with minibatch discrimination must cover its whole input map (DCGAN's 4 x 4 valid conv on a
    4 x 4 map, and a Linear head elsewhere), so it can be rewritten as Flatten + the equivalent Linear.
    """
    if not (minibatch_std or minibatch_disc):
        return d
    i = max(k for k, m in enumerate(d) if isinstance(m, (nn.Linear, nn.Conv2d)))
    head, layers = d[i], []
    if isinstance(head, nn.Conv2d) and minibatch_disc:
        linear = nn.Linear(head.weight[0].numel(), head.out_channels, bias=head.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(head.weight.flatten(1))
            if head.bias is not None:
                linear.bias.copy_(head.bias)
        layers.append(nn.Flatten())
        head = linear
    n_in = head.in_features if isinstance(head, nn.Linear) else head.in_channels
    extra = 0
    if minibatch_disc:
        layers.append(MinibatchDiscrimination(n_in, minibatch_disc, disc_dim))
        extra += minibatch_disc
    if minibatch_std:
        layers.append(MinibatchStdDev(minibatch_std))
        extra += 1
    if isinstance(head, nn.Linear):
        new = nn.Linear(n_in + extra, head.out_features, bias=head.bias is not None)
    else:
        new = nn.Conv2d(n_in + extra, head.out_channels, head.kernel_size, head.stride, head.padding,
                        bias=head.bias is not None)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :n_in].copy_(head.weight)
        if head.bias is not None:
            new.bias.copy_(head.bias)
    layers.append(new)
    return nn.Sequential(*d[:i], *layers, *d[i + 1 :])


def spectral_norm_all(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalisation of every Linear, Conv2d, ConvTranspose2d and Embedding weight (Miyato et al. 2018).

    W_SN = W / sigma(W), sigma estimated by power iteration (n_power_iterations per training-mode forward)
    on W reshaped to [out, -1], which bounds each layer's Lipschitz constant by ~1. Already-normalised
    weights (any that already carry a parametrisation) and weights that start at zero are left alone. Returns `module`, changed in place.
    """
    for m in list(module.modules()):  # list: registering parametrisations adds modules while we iterate
        if not isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            continue
        if parametrize.is_parametrized(m, "weight"):
            continue
        if not m.weight.any():  # zero-initialised (conditional BatchNorm's gains): sigma 0 would divide by 0
            continue
        # a ConvTranspose2d weight is [in, out, kH, kW]: its output dimension is 1
        dim = 1 if isinstance(m, nn.ConvTranspose2d) else 0
        spectral_norm(m, n_power_iterations=n_power_iterations, dim=dim)
    return module


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN packing (Lin et al. 2018): D judges m samples jointly, which penalises mode collapse.

    [N, C, H, W] -> [N/m, C*m, H, W] (or [N, F] -> [N/m, F*m]): packed item k holds samples km, ..., km+m-1
    concatenated along channels, in order. D's first layer must take C*m channels (F*m features), and real
    and fake batches are packed separately (each pack all real or all fake).
    """
    if m < 1:
        raise ValueError(f"pack size m must be >= 1, got {m}")
    n = x.shape[0]
    if n % m:
        raise ValueError(f"batch size {n} is not divisible by the pack size {m}")
    # rows of a contiguous batch are consecutive in memory, so one reshape concatenates m samples' channels
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])
