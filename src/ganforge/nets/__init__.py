"""Network architectures. `build_networks(options, shape)` returns (G, D) for the gan family's options
(family.arch, ...: families/gan_options.py), with the stabilisers that change the networks (spectral norm,
minibatch statistics, PacGAN packing) and the conditioning (family.condition) applied. The builders read a
family's options object: any with the attributes they name (z_dim, g_width, d_width, ...)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from ganforge.errors import UserError
from ganforge.nets import conditional, dcgan, dense, mlp
from ganforge.nets.attention import insert_attention
from ganforge.nets.stabilisers import add_batch_statistics, spectral_norm_all


def build_networks(options: Any, shape: tuple[int, ...], is_image: bool,
                   n_cond: int = 0) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for data of `shape` (C x H x W for images, (D,) for vectors); with
    family.condition, G(z, c) and D(x, c) -> (logit, class logits or None) for `n_cond` classes or attributes."""
    mode = options.condition
    if mode == "none":
        g, d = _build_architecture(options, shape, is_image)
    elif mode == "biggan":
        g, d = _biggan(options, shape, is_image, n_cond)
    else:
        concat_options = conditional.g_config(options, n_cond)
        g, _ = _build_architecture(options if mode == "projection" else concat_options, shape, is_image)
        concat = mode != "projection"
        if mode == "projection":
            g, has_bn = conditional.conditional_bn(g, n_cond)
            if not has_bn:  # an MLP G has no BatchNorm to condition: it reads [z, c]
                g, _ = _build_architecture(concat_options, shape, is_image)
                concat = True
        g = conditional.ConditionalG(g, n_cond, concat)
        _, d = _build_architecture(options, shape, is_image, extra_in=n_cond if mode == "cgan" else 0)
    d = add_batch_statistics(d, options.minibatch_std, options.minibatch_disc, options.minibatch_disc_dim)
    if mode != "none":
        body, head, n_features = conditional.split_head(d)
        conv = options.arch in ("dcgan", "dcgan28")
        d_mode = "projection" if mode == "biggan" else mode
        if options.d_condition != "auto":
            if mode not in ("projection", "biggan"):
                raise UserError(f"family.d_condition={options.d_condition} sets the D of a projection or biggan run; "
                                f"family.condition={mode}: leave family.d_condition at auto")
            d_mode = options.d_condition
        d = conditional.ConditionalD(body, head, d_mode, n_cond, n_features, conv, options.pack if mode == "cgan" else 1)
    if options.spectral_norm in ("d", "both"):
        spectral_norm_all(d)
    if options.spectral_norm in ("g", "both"):
        spectral_norm_all(g)
    return g, d


def _biggan(options: Any, shape: tuple[int, ...], is_image: bool, n_cond: int) -> tuple[nn.Module, nn.Module]:
    """G conditioned as BigGAN's (shared embedding, hierarchical z) and the plain D (made a projection D)."""
    if options.arch not in ("dcgan", "dcgan28"):
        raise UserError(f"family.condition=biggan conditions G's BatchNorm layers; family.arch={options.arch} has none: "
                        "use dcgan or dcgan28")
    g, _ = _build_architecture(options, shape, is_image)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in g)
    chunks = conditional.z_chunks(options.z_dim, n_bn)
    g, _ = _build_architecture(dataclasses.replace(options, z_dim=chunks[0]), shape, is_image)
    layers = [conditional.ConditionalBatchNorm2d(m.num_features, options.shared_dim + chunks[1]) if isinstance(
        m, nn.BatchNorm2d) else m for m in g]
    _, d = _build_architecture(options, shape, is_image)
    return conditional.BigGANG(nn.Sequential(*layers), n_cond, options.shared_dim, chunks), d


def _build_architecture(options: Any, shape: tuple[int, ...], is_image: bool,
                        extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    g, d = _plain_architecture(options, shape, is_image, extra_in)
    if options.attention:
        if options.arch not in ("dcgan", "dcgan28"):
            raise UserError(f"family.attention adds a block to convolutional networks; family.arch={options.arch} "
                            "is not one: use dcgan or dcgan28")
        g = insert_attention(g, torch.zeros(2, options.z_dim), options.attention)
        d = insert_attention(d, torch.zeros(2, (shape[0] + extra_in) * options.pack, *shape[1:]), options.attention)
    return g, d


def _plain_architecture(options: Any, shape: tuple[int, ...], is_image: bool,
                        extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    out = options.g_output if options.g_output != "auto" else ("tanh" if is_image else "linear")
    if options.arch == "mlp":
        return mlp.build(options, shape, out, options.pack, extra_in)
    if options.arch == "dense":
        return dense.build(options, shape, out, options.pack, extra_in)
    if not is_image or len(shape) != 3:
        raise UserError(f"family.arch '{options.arch}' needs image data; use family.arch=mlp for toy data")
    if options.arch == "dcgan":
        return dcgan.build(options, shape, options.pack, extra_in)
    if options.arch == "dcgan28":
        return dcgan.build_28(options, shape, options.pack, extra_in)
    raise UserError(f"unknown family.arch '{options.arch}'")
