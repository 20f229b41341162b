"""Progressive growing of GANs (Karras et al. 2018): training starts at 4x4 (7x7 for 28x28 images) and adds a
level at a time, fading each new level in while alpha goes from 0 to 1, with the equalised learning rate,
pixel norm and the minibatch standard deviation (nets/progan.py), and WGAN-GP with the drift term.

The schedule is counted in images shown: level 0 trains for family.images_per_phase images, then each new
level fades in over that many images and trains stable for as many more; the last level trains on to the
end. family.batch_sizes gives a batch per level (smaller at higher resolutions, as in the paper). Where the
growth stands is a function of the iteration, so a run resumed mid-fade continues exactly where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import losses
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Family, Phase, Stats, Step, check_options
from ganforge.generator import ExportModule, Generator, Projects, SamplesCodes, eval_mode
from ganforge.nets.equalized import act
from ganforge.nets.progan import ProDiscriminator, ProGenerator, resize_real
from ganforge.options import at_least, setting


@dataclass
class ProGANOptions:
    images_per_phase: int = 64_000  # images per fade-in and per stable phase (the paper: 800k)
    batch_sizes: list[int] = field(default_factory=list)  # one per level, coarse to fine; empty: train.batch_size
    max_channels: int = 256  # the widest convolution (g_width / d_width: channels at the image's size)
    gp: float = 10.0  # WGAN-GP weight lambda
    drift: float = 0.001  # epsilon of the drift term eps * D(x)^2, which keeps D's outputs near 0
    mbstd_group: int = 4
    z_dim: int = setting(100, was="model.z_dim")  # size of the noise vector z
    g_width: int = setting(64, was="model.g_width")  # G's channels at the image's size (doubled per halving)
    d_width: int = setting(64, was="model.d_width")  # D's channels at the image's size (doubled per halving)


class ProGANGenerator(Generator, SamplesCodes, Projects):
    """The grown G at its last level, from z."""

    def critic_features(self, images: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """D's activations at each level from the one reached down to the first, before its minibatch statistics
        (images averaged down to the level's size, as G draws them there)."""
        d, level = self.family.D, int(self.network().growth[0])
        x = F.avg_pool2d(images, 2 ** (d.levels - level)) if level < d.levels else images
        with eval_mode(self.family):
            features = [act(d.from_image[level](x))]
            for i in range(level, 0, -1):
                features.append(d.down(features[-1], i))
        return features

    def export_module(self, **options) -> nn.Module:
        """The level and fade-in reached, read from G's buffer here: fixed in the file, not read at run time."""
        net = self.network()
        level, alpha = int(net.growth[0]), float(net.growth[1])
        return ExportModule({"generator": net}, lambda inputs: net(inputs["z"], level, alpha).clamp(-1, 1), ("z",))


class ProGAN(Family):
    GENERATOR = ProGANGenerator
    Options = ProGANOptions
    GROUPS = ("G", "D")
    LATENT = "gaussian"
    FIXED_SIZE = 28  # unless data.resolution sets another

    @classmethod
    def check_settings(cls, options: ProGANOptions, cfg) -> None:
        at_least(options, 1, "z_dim", "g_width", "d_width")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: ProGANOptions = self.options
        if not spec.is_image or spec.shape[1] != spec.shape[2]:
            raise UserError("the progan family grows square images; set data.resolution for an image folder")
        if o.images_per_phase < 1 or o.gp < 0 or o.drift < 0:
            raise UserError("config keys 'family.images_per_phase' (>= 1), 'family.gp' and 'family.drift' (>= 0)")
        self.z_dim = o.z_dim
        self.G = ProGenerator(spec.shape, o.z_dim, o.g_width, o.max_channels)
        self.D = ProDiscriminator(spec.shape, o.d_width, o.max_channels, o.mbstd_group)
        self.levels = self.G.levels
        if o.batch_sizes and (len(o.batch_sizes) != self.levels + 1 or min(o.batch_sizes) < 1):
            raise UserError(f"config key 'family.batch_sizes' needs one positive batch size per level: "
                            f"{self.levels + 1} for {spec.shape[1]}x{spec.shape[2]} images, got {o.batch_sizes}")
        self.networks = {"G": self.G, "D": self.D}
        self.G.growth.copy_(torch.tensor([0.0, 1.0]))  # samples before training come from the first level

    # -- the growth schedule ---------------------------------------------------------------------------------

    def level_batch(self, level: int) -> int:
        return self.options.batch_sizes[level] if self.options.batch_sizes else self.cfg.train.batch_size

    def schedule(self) -> list[tuple[int, bool, int]]:
        """(level, fading, iterations) of each phase before the last level's stable phase, which is open-ended."""
        phases = []
        for level in range(self.levels + 1):
            steps = math.ceil(self.options.images_per_phase / self.level_batch(level))
            if level:
                phases.append((level, True, steps))
            if level < self.levels:
                phases.append((level, False, steps))
        return phases

    def growth(self, step: int) -> tuple[int, float]:
        """(level, alpha) at iteration `step`."""
        for level, fading, steps in self.schedule():
            if step < steps:
                return level, (step / steps if fading else 1.0)
            step -= steps
        return self.levels, 1.0

    def batch_size(self, step: int) -> int:
        return self.level_batch(self.growth(step)[0])

    def training_notes(self) -> list[str]:
        sizes = [self.G.first * 2**level for level in range(self.levels + 1)]
        return [(f"progressive growing: {' -> '.join(f'{s}x{s}' for s in sizes)}, "
                 f"{self.options.images_per_phase:,} images per fade-in and per stable phase")]

    # -- training ---------------------------------------------------------------------------------------------

    def phases(self) -> list[Phase]:
        return [Phase("D", steps="D"), Phase("G", steps="G", freeze=("D",), data=False)]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        level, alpha = self.growth(step.index)
        z = step.randn(step.batch_size, self.z_dim)[: len(batch.x)]
        if phase == "D":
            d = self.wrapped.get("D", self.D)
            with torch.no_grad():
                fake = self.G(z, level, alpha, full_size=False)
            real = resize_real(batch.x, self.levels, level, alpha)
            real_logits, fake_logits = d(real, level, alpha), d(fake, level, alpha)
            loss = fake_logits.mean() - real_logits.mean()
            penalty = losses.gradient_penalty(lambda x: self.D(x, level, alpha), real, fake, step.noise)
            drift = real_logits.pow(2).mean()
            device = real_logits.device  # every stat on the device, as the loop keeps them until log time
            stats = {"loss_d": loss.detach(), "gp": penalty.detach(),
                     "level": torch.tensor(float(level), device=device), "alpha": torch.tensor(alpha, device=device),
                     "critic_real": real_logits.detach().mean(),
                     "critic_fake": fake_logits.detach().mean()}
            return loss + self.options.gp * penalty + self.options.drift * drift, stats
        self.G.growth.copy_(torch.tensor([float(level), alpha]))  # sampling draws at the trained level
        loss = -self.D(self.wrapped.get("G", self.G)(z, level, alpha, full_size=False), level, alpha).mean()
        return loss, {"loss_g": loss.detach()}

    # -- sampling ---------------------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {"z": torch.randn(n, self.z_dim, generator=generator, device=generator.device)}

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())
        return self.sampler()(inputs["z"]).clamp(-1, 1)  # at the level reached, upsampled to the data's size
