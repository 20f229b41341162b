"""Network architectures. `build_networks(cfg, shape)` returns (G, D) for `model.arch`."""

from __future__ import annotations

from torch import nn

from ganforge.config import ModelConfig
from ganforge.errors import UserError
from ganforge.nets import dcgan, dense, mlp


def build_networks(model: ModelConfig, shape: tuple[int, ...], is_image: bool) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for data of `shape` (C x H x W for images, (D,) for vectors)."""
    out = model.g_output if model.g_output != "auto" else ("tanh" if is_image else "linear")
    if model.arch == "mlp":
        return mlp.build(model, shape, out)
    if model.arch == "dense":
        return dense.build(model, shape, out)
    if not is_image or len(shape) != 3:
        raise UserError(f"model.arch '{model.arch}' needs image data; use model.arch=mlp for toy data")
    if model.arch == "dcgan":
        return dcgan.build(model, shape)
    if model.arch == "dcgan28":
        return dcgan.build_28(model, shape)
    raise UserError(f"unknown model.arch '{model.arch}'")
