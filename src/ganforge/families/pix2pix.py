"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN.

G, a U-Net with skips (nets/unet.py), maps an input image a to an output G(a); D, a PatchGAN (nets/patchgan.py),
sees the input beside an output, (a, b) or (a, G(a)), and scores each patch as real or fake. Each iteration,
on one minibatch of pairs (a, b) (the paper's Eq. 4):
  D  learns to tell (a, b) from (a, G(a))                       BCE (family.objective gan) or least squares
  G  fools D and stays near the target:  gan * L_GAN + l1 * |b - G(a)|_1    (the paper: l1 = 100)
family.gan=0 is "L1 alone" and family.l1=0 "cGAN alone" of the paper's Table 1; family.patch_layers sets D's
receptive field (0: the 1x1 PixelGAN, 1-5: patches of 16, 34, 70, 142, 286 pixels, -1: the whole image).
Dropout in G's decoder is its only noise, as in the paper; sampling runs G in eval mode (deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge import losses
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Phase, Stats, Step
from ganforge.families.translation import TranslationFamily
from ganforge.nets.patchgan import PatchDiscriminator
from ganforge.nets.unet import UNet, unet_depth
from ganforge.options import at_least, choice, setting

OBJECTIVES = ("gan", "lsgan")
SHALLOW = 4  # U-Net halvings below which the training note suggests a size that halves more


@dataclass
class Pix2PixOptions:
    l1: float = 100.0  # weight of the L1 distance to the target in G's loss (0: cGAN alone)
    gan: float = 1.0  # weight of the adversarial loss in G's loss (0: L1 alone; D still trains, unused)
    patch_layers: int = 3  # D's strided layers: 0 PixelGAN, 1-5 patches of 16/34/70/142/286 px, -1 ImageGAN
    unet_depth: int = 0  # G's halvings (0: as many as the image size divides, at most 8)
    dropout: bool = True  # dropout 0.5 in G's innermost decoder layers
    d_norm: str = choice("batch", "batch", "instance")  # D's normalisation layers
    # D's and G's objectives on each patch: BCE (gan) or least squares (lsgan)
    objective: str = choice("gan", *OBJECTIVES, was="loss.objective")
    g_width: int = setting(64, was="model.g_width")  # channels of G's first level (doubled per halving)
    d_width: int = setting(64, was="model.d_width")  # channels of D's first layer (doubled per halving)


def check_translation(options) -> None:
    """The checks of the keys the translation families share."""
    at_least(options, 1, "g_width", "d_width")


def d_loss(objective: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return losses.d_loss_bce(real, fake) if objective == "gan" else losses.d_loss_lsgan(real, fake)


def g_loss(objective: str, fake: torch.Tensor) -> torch.Tensor:
    return losses.g_loss_nonsaturating(fake) if objective == "gan" else losses.g_loss_lsgan(fake)


class Pix2Pix(TranslationFamily):
    Options = Pix2PixOptions
    GROUPS = ("G", "D")
    SAMPLER = "G"
    AUGMENTS_IMAGES = False  # D sees (input, image) pairs; augmenting one side alone would break the pairing

    @classmethod
    def check_settings(cls, options: Pix2PixOptions, cfg) -> None:
        check_translation(options)

    @classmethod
    def check_data(cls, cfg, layout: str | None) -> None:
        super().check_data(cfg, layout)
        if layout == "unpaired":
            raise UserError("pix2pix learns from pairs, and this data holds two unpaired domains: use "
                            "model.family=cyclegan, or paired data (A/ and B/ with matching names)")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: Pix2PixOptions = self.options
        if spec.input_shape[1:] != spec.shape[1:]:
            raise UserError(f"pix2pix maps an image to one of the same size, and the inputs are "
                            f"{'x'.join(map(str, spec.input_shape[1:]))} where the targets are "
                            f"{'x'.join(map(str, spec.shape[1:]))}; for super-resolution use model.family=srgan")
        if o.l1 < 0 or o.gan < 0 or o.l1 + o.gan == 0:
            raise UserError("config keys 'family.l1' and 'family.gan' must be >= 0 and not both 0")
        if not -1 <= o.patch_layers <= 5:
            raise UserError(f"config key 'family.patch_layers' must be -1 (ImageGAN), 0 (PixelGAN) or 1-5, "
                            f"got {o.patch_layers}")
        self.objective = o.objective
        c_in, c_out, (h, w) = spec.input_shape[0], spec.shape[0], spec.shape[1:]
        depth = unet_depth(h, w, o.unet_depth or None)
        self.G = UNet(c_in, c_out, depth, o.g_width, dropout_levels=3 if o.dropout else 0)
        self.D = PatchDiscriminator(c_in + c_out, o.patch_layers, o.d_width, o.d_norm, image_size=(h, w))
        self.networks = {"G": self.G, "D": self.D}
        self._fake: torch.Tensor | None = None  # G(a) of the iteration's batch, made in D's phase, reused in G's

    def phases(self) -> list[Phase]:
        return [Phase("D", steps="D"), Phase("G", steps="G", freeze=("D",), data=False)]

    def critic(self, a: torch.Tensor, b: torch.Tensor, sync: bool = False) -> torch.Tensor:
        d = self.wrapped.get("D", self.D) if sync else self.D
        return d(torch.cat([a, b], 1))

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        if phase == "D":
            self._fake = self.wrapped.get("G", self.G)(batch.a)  # kept with its graph for G's phase
            real = self.critic(batch.a, batch.x, sync=True)
            fake = self.critic(batch.a, self._fake.detach())
            loss = d_loss(self.objective, real, fake)
            return loss, {"loss_d": loss.detach(), "d_real": discriminator_score(self.objective, real),
                          "d_fake": discriminator_score(self.objective, fake)}
        o: Pix2PixOptions = self.options
        fake, self._fake = self._fake, None  # G's phase sees the batch of D's phase (Phase.data=False)
        adversarial = g_loss(self.objective, self.critic(batch.a, fake, sync=True))
        l1 = (fake - batch.x).abs().mean()
        return o.gan * adversarial + o.l1 * l1, {"loss_g": adversarial.detach(), "loss_l1": l1.detach()}

    def translate(self, a: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        return self.sampler()(a)

    def size_multiple(self, direction: str = "AB") -> int:
        return 2**self.G.depth

    def training_notes(self) -> list[str]:
        from ganforge.nets.patchgan import receptive_field

        o: Pix2PixOptions = self.options
        field = {-1: "the whole image", 0: "1x1 pixels (PixelGAN)"}.get(o.patch_layers)
        field = field or f"{receptive_field(o.patch_layers)}x{receptive_field(o.patch_layers)} patches"
        notes = [(f"pix2pix: G's loss = {o.gan:g} x GAN + {o.l1:g} x L1; D judges {field}; U-Net of "
                  f"{self.G.depth} halvings")]
        h, w = self.spec.shape[1:]
        if not o.unet_depth and self.G.depth < SHALLOW:
            better = max(32, 32 * round(max(h, w) / 32))  # the nearest square a multiple of 32: 5 halvings
            notes.append(f"{h}x{w} divides by 2 only {self.G.depth} times, so G's U-Net is shallow (its narrowest "
                         f"level {h >> self.G.depth}x{w >> self.G.depth}); data.resolution={better} gives "
                         f"{unet_depth(better, better)} halvings")
        return notes

def discriminator_score(objective: str, logits: torch.Tensor) -> torch.Tensor:
    """D's mean verdict: the probability of real (gan) or the raw output (lsgan, targets 0 and 1)."""
    logits = logits.detach()
    return torch.sigmoid(logits).mean() if objective == "gan" else logits.mean()

