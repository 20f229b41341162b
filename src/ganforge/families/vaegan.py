"""VAE-GAN (Larsen et al. 2016): a variational autoencoder whose decoder is also a GAN's generator, with the
reconstruction error measured in the discriminator's features instead of pixels.

Each training iteration, on one minibatch (the paper's Algorithm 1):
  D  the discriminator tells real images from reconstructions G(E(x)) and from prior samples G(z), z ~ N(0, I)
  E  the encoder minimises the prior KL plus the reconstruction error in D's features (L_prior + L_llike)
  G  the decoder minimises gamma * L_llike plus the GAN loss on reconstructions and prior samples
With family.gan=0 and family.reconstruction=pixels the same networks train as a plain VAE (the pixels as
Bernoulli means): the comparison of the paper's Fig. 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import losses
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import (
    AutoencoderGenerator,
    Family,
    Phase,
    Stats,
    Step,
    check_options,
    encode_images,
)
from ganforge.generator import eval_mode
from ganforge.nets.vaegan import build
from ganforge.options import at_least, choice, setting


@dataclass
class VAEGANOptions:
    gan: float = 1.0  # weight of the GAN terms in the decoder's loss; 0 trains a plain VAE
    gamma: float = 2e-2  # Larsen et al.'s gamma: weight of the feature reconstruction in the decoder's loss
    reconstruction: str = choice("features", "features", "pixels")  # where L_llike is measured
    z_dim: int = setting(100, was="model.z_dim")  # size of the code z (the encoder's output, the decoder's input)
    g_width: int = setting(64, was="model.g_width")  # base channel count of the decoder G (a DCGAN's G)
    d_width: int = setting(64, was="model.d_width")  # base channel count of the encoder E and of D


class VAEGANGenerator(AutoencoderGenerator):
    """Samples from z ~ N(0, I); its encoder gives posterior means; its D's features measure projections as
    they measure the decoder's reconstructions in training (Dis_l)."""

    def critic_features(self, images: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        if self.family.options.gan == 0:  # a plain VAE: its D never trained
            return []
        with eval_mode(self.family):
            return [self.family.D.features(images)]


class VAEGAN(Family):
    GENERATOR = VAEGANGenerator
    Options = VAEGANOptions
    GROUPS = ("E", "G", "D")
    SAMPLER = "G"  # the decoder
    LATENT = "gaussian"
    FIXED_SIZE = 28  # unless data.resolution sets another (a power of two)

    @classmethod
    def check_settings(cls, options: VAEGANOptions, cfg) -> None:
        at_least(options, 1, "z_dim", "g_width", "d_width")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: VAEGANOptions = self.options
        if not spec.is_image:
            raise UserError(f"the vaegan family trains on images; data.name={spec.name} is not an image dataset")
        if o.gan < 0 or o.gamma <= 0:
            raise UserError("config keys 'family.gan' (>= 0) and 'family.gamma' (> 0) set the decoder's weights")
        if o.gan == 0 and o.reconstruction == "features":
            raise UserError("family.gan=0 trains no discriminator, so its features cannot measure reconstructions; "
                            "set family.reconstruction=pixels for a plain VAE")
        self.z_dim = o.z_dim
        self.E, self.G, self.D = build(o, spec.shape)
        self.networks = {"E": self.E, "G": self.G, "D": self.D}

    def phases(self) -> list[Phase]:
        ae = [Phase("E", steps="E", freeze=("G", "D"), data=self.options.gan == 0),
              Phase("G", steps="G", freeze=("E", "D"), data=False)]
        return ae if self.options.gan == 0 else [Phase("D", steps="D"), *ae]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        x = batch.x
        if phase == "D":
            with torch.no_grad():
                recon = torch.tanh(self.G(self.sample_posterior(x, step)))
                prior = torch.tanh(self.G(step.randn(step.batch_size, self.z_dim)))
            d = self.wrapped.get("D", self.D)
            logits = d(torch.cat([x, recon, prior]))
            real, fake = logits[: len(x)], logits[len(x) :]
            loss = losses.d_loss_bce(real, fake)
            return loss, {"loss_d": loss.detach(), "d_real": torch.sigmoid(real.detach()).mean(),
                          "d_fake": torch.sigmoid(fake.detach()).mean()}
        if phase == "E":
            mean, log_var = self.wrapped.get("E", self.E)(x)
            z = mean + (0.5 * log_var).exp() * step.randn(len(x), self.z_dim)
            kl = losses.kl_to_standard_normal(mean, log_var)
            recon = self.reconstruction_error(self.G(z), x)
            return kl + recon, {"loss_kl": kl.detach(), "loss_recon": recon.detach()}
        with torch.no_grad():
            z = self.sample_posterior(x, step)
        g = self.wrapped.get("G", self.G)
        if self.options.gan == 0:
            recon = self.reconstruction_error(g(z), x)
            return recon, {"loss_recon_g": recon.detach()}
        out = g(torch.cat([z, step.randn(step.batch_size, self.z_dim)]))
        recon = self.reconstruction_error(out[: len(x)], x)
        adversarial = losses.g_loss_nonsaturating(self.D(torch.tanh(out)))  # reconstructions and prior samples
        loss = self.options.gamma * recon + self.options.gan * adversarial
        return loss, {"loss_recon_g": recon.detach(), "loss_g": adversarial.detach()}

    def sample_posterior(self, x: torch.Tensor, step: Step) -> torch.Tensor:
        mean, log_var = self.E(x)
        return mean + (0.5 * log_var).exp() * step.randn(len(x), self.z_dim)

    def reconstruction_error(self, pre: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """L_llike of the decoder's pre-activations `pre` for images x in [-1, 1]: in D's features (a Gaussian,
        Larsen et al.'s Dis_l), or in pixels as Bernoulli means (tanh(a) = 2 sigmoid(2a) - 1, so 2a are the
        logits of the pixels in [0, 1])."""
        if self.options.reconstruction == "pixels":
            error = F.binary_cross_entropy_with_logits(2 * pre.float(), (x.float() + 1) / 2, reduction="none")
            return error.flatten(1).sum(1).mean()
        with torch.no_grad():
            target = self.D.features(x)
        return losses.gaussian_feature_error(self.D.features(torch.tanh(pre)), target)

    # -- encoding and sampling -------------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """The posterior means E(x) of images in [-1, 1] (uint8 images are converted), in eval mode, batched."""
        return encode_images(self, self.E, x, batch, codes=lambda out: out[0])

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {"z": torch.randn(n, self.z_dim, generator=generator, device=generator.device)}

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())
        return torch.tanh(self.sampler()(inputs["z"]))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) from the posterior means, in [-1, 1], by the sampling decoder. Callers set eval mode."""
        return self.decode({"z": self.encode(x)})

    def pictures(self, dataset, folder: Path, step: int) -> None:
        """Reconstructions of 32 training images beside them."""
        from ganforge import viz

        was_training = self.training
        self.eval()
        try:
            recon = self.reconstruct(dataset.x[:32]).cpu()
        finally:
            self.train(was_training)
        viz.save_reconstructions(dataset.x[:32], recon, folder / f"recon_{step:06d}.png")

    def forward_check(self, device: torch.device) -> None:
        x = torch.zeros(2, *self.spec.shape, device=device)
        self.D(torch.tanh(self.G(self.E(x)[0])))

    def groups(self) -> dict[str, list[nn.Module]]:
        return {"E": [self.E], "G": [self.G], "D": [self.D]}
