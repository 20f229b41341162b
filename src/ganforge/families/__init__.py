"""GAN families: each file declares its networks and its discriminator and generator losses.

The training loop (ganforge.train.loop) owns everything else. A new family subclasses `Family` and
registers itself in FAMILIES.
"""

from __future__ import annotations

from ganforge.errors import UserError
from ganforge.families.base import Batch, DataSpec, Family
from ganforge.families.gan import GAN

FAMILIES: dict[str, type[Family]] = {"gan": GAN}


def build_family(cfg, spec: DataSpec) -> Family:
    try:
        cls = FAMILIES[cfg.model.family]
    except KeyError:
        raise UserError(f"unknown model.family '{cfg.model.family}'; families: {', '.join(FAMILIES)}") from None
    return cls(cfg, spec)


__all__ = ["FAMILIES", "Batch", "DataSpec", "Family", "build_family"]
