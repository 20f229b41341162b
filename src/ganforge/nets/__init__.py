"""Network architectures. `build_networks(cfg, shape)` returns (G, D) for `model.arch`, with the stabilisers
that change the networks (spectral norm, minibatch statistics, PacGAN packing) applied."""

from __future__ import annotations

from torch import nn

from ganforge.config import ModelConfig
from ganforge.errors import UserError
from ganforge.nets import dcgan, dense, mlp
from ganforge.nets.stabilisers import add_batch_statistics, spectral_norm_all


def build_networks(model: ModelConfig, shape: tuple[int, ...], is_image: bool) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for data of `shape` (C x H x W for images, (D,) for vectors)."""
    g, d = _build_architecture(model, shape, is_image)
    d = add_batch_statistics(d, model.minibatch_std, model.minibatch_disc, model.minibatch_disc_dim)
    if model.spectral_norm in ("d", "both"):
        spectral_norm_all(d)
    if model.spectral_norm in ("g", "both"):
        spectral_norm_all(g)
    return g, d


def _build_architecture(model: ModelConfig, shape: tuple[int, ...], is_image: bool) -> tuple[nn.Module, nn.Module]:
    out = model.g_output if model.g_output != "auto" else ("tanh" if is_image else "linear")
    if model.arch == "mlp":
        return mlp.build(model, shape, out, model.pack)
    if model.arch == "dense":
        return dense.build(model, shape, out, model.pack)
    if not is_image or len(shape) != 3:
        raise UserError(f"model.arch '{model.arch}' needs image data; use model.arch=mlp for toy data")
    if model.arch == "dcgan":
        return dcgan.build(model, shape, model.pack)
    if model.arch == "dcgan28":
        return dcgan.build_28(model, shape, model.pack)
    raise UserError(f"unknown model.arch '{model.arch}'")
