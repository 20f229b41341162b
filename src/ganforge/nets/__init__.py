"""Network architectures. `build_networks(cfg, shape)` returns (G, D) for `model.arch`, with the stabilisers
that change the networks (spectral norm, minibatch statistics, PacGAN packing) and the conditioning
(model.condition) applied."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.errors import UserError
from ganforge.nets import conditional, dcgan, dense, mlp
from ganforge.nets.attention import insert_attention
from ganforge.nets.stabilisers import add_batch_statistics, spectral_norm_all


def build_networks(model: ModelConfig, shape: tuple[int, ...], is_image: bool,
                   n_cond: int = 0) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for data of `shape` (C x H x W for images, (D,) for vectors); with
    model.condition, G(z, c) and D(x, c) -> (logit, class logits or None) for `n_cond` classes or attributes."""
    mode = model.condition
    if mode == "none":
        g, d = _build_architecture(model, shape, is_image)
    elif mode == "biggan":
        g, d = _biggan(model, shape, is_image, n_cond)
    else:
        concat_model = conditional.g_config(model, n_cond)
        g, _ = _build_architecture(model if mode == "projection" else concat_model, shape, is_image)
        concat = mode != "projection"
        if mode == "projection":
            g, has_bn = conditional.conditional_bn(g, n_cond)
            if not has_bn:  # an MLP G has no BatchNorm to condition: it reads [z, c]
                g, _ = _build_architecture(concat_model, shape, is_image)
                concat = True
        g = conditional.ConditionalG(g, n_cond, concat)
        _, d = _build_architecture(model, shape, is_image, extra_in=n_cond if mode == "cgan" else 0)
    d = add_batch_statistics(d, model.minibatch_std, model.minibatch_disc, model.minibatch_disc_dim)
    if mode != "none":
        body, head, n_features = conditional.split_head(d)
        conv = model.arch in ("dcgan", "dcgan28")
        d_mode = "projection" if mode == "biggan" else mode
        if model.d_condition != "auto":
            if mode not in ("projection", "biggan"):
                raise UserError(f"model.d_condition={model.d_condition} sets the D of a projection or biggan run; "
                                f"model.condition={mode}: leave model.d_condition at auto")
            d_mode = model.d_condition
        d = conditional.ConditionalD(body, head, d_mode, n_cond, n_features, conv, model.pack if mode == "cgan" else 1)
    if model.spectral_norm in ("d", "both"):
        spectral_norm_all(d)
    if model.spectral_norm in ("g", "both"):
        spectral_norm_all(g)
    return g, d


def _biggan(model: ModelConfig, shape: tuple[int, ...], is_image: bool, n_cond: int) -> tuple[nn.Module, nn.Module]:
    """G conditioned as BigGAN's (shared embedding, hierarchical z) and the plain D (made a projection D)."""
    if model.arch not in ("dcgan", "dcgan28"):
        raise UserError(f"model.condition=biggan conditions G's BatchNorm layers; model.arch={model.arch} has none: "
                        "use dcgan or dcgan28")
    g, _ = _build_architecture(model, shape, is_image)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in g)
    chunks = conditional.z_chunks(model.z_dim, n_bn)
    g, _ = _build_architecture(dataclasses.replace(model, z_dim=chunks[0]), shape, is_image)
    layers = [conditional.ConditionalBatchNorm2d(m.num_features, model.shared_dim + chunks[1]) if isinstance(
        m, nn.BatchNorm2d) else m for m in g]
    _, d = _build_architecture(model, shape, is_image)
    return conditional.BigGANG(nn.Sequential(*layers), n_cond, model.shared_dim, chunks), d


def _build_architecture(model: ModelConfig, shape: tuple[int, ...], is_image: bool,
                        extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    g, d = _plain_architecture(model, shape, is_image, extra_in)
    if model.attention:
        if model.arch not in ("dcgan", "dcgan28"):
            raise UserError(f"model.attention adds a block to convolutional networks; model.arch={model.arch} "
                            "is not one: use dcgan or dcgan28")
        g = insert_attention(g, torch.zeros(2, model.z_dim), model.attention)
        d = insert_attention(d, torch.zeros(2, (shape[0] + extra_in) * model.pack, *shape[1:]), model.attention)
    return g, d


def _plain_architecture(model: ModelConfig, shape: tuple[int, ...], is_image: bool,
                        extra_in: int = 0) -> tuple[nn.Module, nn.Module]:
    out = model.g_output if model.g_output != "auto" else ("tanh" if is_image else "linear")
    if model.arch == "mlp":
        return mlp.build(model, shape, out, model.pack, extra_in)
    if model.arch == "dense":
        return dense.build(model, shape, out, model.pack, extra_in)
    if not is_image or len(shape) != 3:
        raise UserError(f"model.arch '{model.arch}' needs image data; use model.arch=mlp for toy data")
    if model.arch == "dcgan":
        return dcgan.build(model, shape, model.pack, extra_in)
    if model.arch == "dcgan28":
        return dcgan.build_28(model, shape, model.pack, extra_in)
    raise UserError(f"unknown model.arch '{model.arch}'")
