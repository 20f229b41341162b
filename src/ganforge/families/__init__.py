"""Training algorithms, one file each: a Family subclass (families/base.py) that declares its networks,
optimiser groups, phases, one loss per phase and how it samples. Registering it in FAMILIES is the only
change outside its file; the loop, the config module and the commands need none.
"""

from __future__ import annotations

from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.aae import AAE
from ganforge.families.base import Family, Phase, Step
from ganforge.families.cyclegan import CycleGAN
from ganforge.families.gan import GAN
from ganforge.families.pix2pix import Pix2Pix
from ganforge.families.progan import ProGAN
from ganforge.families.srgan import SRGAN
from ganforge.families.stylegan import StyleGAN
from ganforge.families.text2image import Text2Image
from ganforge.families.vaegan import VAEGAN
from ganforge.families.video import Video

FAMILIES: dict[str, type[Family]] = {"gan": GAN, "aae": AAE, "pix2pix": Pix2Pix, "cyclegan": CycleGAN,
                                  "srgan": SRGAN, "vaegan": VAEGAN,
                                  "stylegan": StyleGAN, "progan": ProGAN, "text2image": Text2Image,
                                  "video": Video}


def family_class(name: str) -> type[Family]:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model.family '{name}'; families: {', '.join(FAMILIES)}") from None


def build_family(cfg, spec: DataSpec) -> Family:
    return family_class(cfg.model.family)(cfg, spec)


__all__ = ["FAMILIES", "Batch", "DataSpec", "Family", "Phase", "Step", "build_family", "family_class"]
