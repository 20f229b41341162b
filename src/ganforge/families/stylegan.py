"""The style-based GAN (Karras et al. 2019, 2020: StyleGAN2's generator and residual discriminator) with its
training recipe: non-saturating logistic loss, lazy R1 on real images, style-mixing regularisation, and the
running average of w that truncation pulls samples towards. The networks are nets/stylegan.py.

Each iteration:
  D   softplus(D(G(z))) + softplus(-D(x))
  R1  every family.r1_every iterations: r1 * r1_every * 0.5 ||grad_x D(x)||^2 on the latest real batch
  G   softplus(-D(G(z))), with probability family.style_mixing two codes' w split at a random layer
The loop's EMA of G (train.ema) samples, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import losses
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Family, Phase, Stats, Step, check_options
from ganforge.generator import Generator, MixesStyles, Projects, SamplesCodes, eval_mode
from ganforge.nets.equalized import act
from ganforge.nets.stylegan import ResidualDiscriminator, StyleGenerator
from ganforge.options import at_least, setting

NOISE_PENALTY = 1e5  # projection: weight of the noise maps' autocorrelation (stylegan2-ada's projector)


@dataclass
class StyleGANOptions:
    w_dim: int = 128  # the intermediate latent w (the paper: 512)
    mapping_layers: int = 8  # fully connected layers z -> w
    max_channels: int = 256  # the widest convolution (g_width / d_width: channels at the image's size)
    style_mixing: float = 0.9  # share of G steps whose images mix two codes' styles
    r1: float = 0.01  # R1 weight gamma (StyleGAN2-ADA's value for 32x32 images)
    r1_every: int = 16  # lazy regularisation: R1 every this many iterations, scaled up to match
    w_avg_beta: float = 0.995  # the running mean of w: w_avg <- beta w_avg + (1 - beta) mean(w)
    mbstd_group: int = 4  # minibatch standard deviation group size in D
    z_dim: int = setting(100, was="model.z_dim")  # size of the code z that the mapping turns into w
    g_width: int = setting(64, was="model.g_width")  # G's channels at the image's size (doubled per halving)
    d_width: int = setting(64, was="model.d_width")  # D's channels at the image's size (doubled per halving)


class StyleGANGenerator(Generator, SamplesCodes, MixesStyles, Projects):
    """The style-based G: z through the mapping to w, w per layer into the synthesis network. Projection works in
    W (one w for every layer) or W+ (one per layer), from w_avg, with each layer's noise map optimised too and
    held to white noise (stylegan2-ada's projector)."""

    projection_spaces = ("w", "w+")

    def projection_start(self, images: torch.Tensor, space: str) -> dict[str, torch.Tensor]:
        g, n = self.network(), len(images)
        w = g.w_avg.to(images.device).expand(n, -1)
        codes = {"w": (w.unsqueeze(1).repeat(1, g.n_styles, 1) if space == "w+" else w).clone()}
        for i, layer in enumerate(g.layers):  # each layer's own noise map: the start draws the average image
            codes[f"noise{i}"] = layer.fixed_noise.to(images.device).expand(n, -1, -1, -1).clone()
        return codes

    @torch.no_grad()
    def codes_in(self, inputs: dict[str, torch.Tensor], space: str) -> dict[str, torch.Tensor]:
        if "w" in inputs:
            return inputs
        ws = self.styles(inputs)
        return {"w": ws if space == "w+" else ws[:, 0]}

    def moved(self, space: str) -> tuple[str, ...]:
        return ("w", *(f"noise{i}" for i in range(len(self.network().layers))))

    @torch.no_grad()
    def code_spread(self, space: str) -> float:
        g = self.network()
        z = torch.randn(2000, self.family.z_dim, generator=torch.Generator().manual_seed(0)).to(self.device)
        return float((g.mapping(z) - g.w_avg).pow(2).mean().sqrt())

    def code_penalty(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each noise map's autocorrelation at a one-pixel shift across and down, squared, at each scale down to
        8x8, weighted as stylegan2-ada weighs it: the maps stay noise, so w draws the image, not the noise."""
        total = 0.0
        for key in self.moved("w")[1:]:
            noise = codes[key]
            while True:
                total = total + (noise * noise.roll(1, 3)).mean((1, 2, 3)) ** 2
                total = total + (noise * noise.roll(1, 2)).mean((1, 2, 3)) ** 2
                if noise.shape[-1] <= 8:
                    break
                noise = F.avg_pool2d(noise, 2)
        return NOISE_PENALTY * total

    @torch.no_grad()
    def tidy_codes(self, codes: dict[str, torch.Tensor]) -> None:
        for key in self.moved("w")[1:]:  # each map back to zero mean and unit variance
            noise = codes[key]
            noise.sub_(noise.mean((1, 2, 3), keepdim=True))
            noise.mul_(noise.pow(2).mean((1, 2, 3), keepdim=True).add(1e-8).rsqrt())

    def critic_features(self, images: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The residual D's activations at each resolution, before its minibatch statistics."""
        d = self.family.D
        with eval_mode(self.family):
            h = act(d.from_image(images))
            features = [h]
            for block in d.blocks:
                features.append(h := block(h))
        return features

    def truncation_note(self) -> str:
        return "w pulled toward its running average: w_avg + psi (w - w_avg)"

    def style_ranges(self) -> dict[str, tuple[int, int]]:
        return self.family.style_ranges()

    @torch.no_grad()
    def styles(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        with eval_mode(self.family):
            return self.family.styles(inputs, self.family.sampler())

    @torch.no_grad()
    def synthesize(self, styles: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.family):
            return self.family.sampler().synthesis(styles)

    # -- export: z and psi in; psi is the truncation, one per sample (1: none) --------------------------------

    def export_inputs(self, n: int = 2, seed: int = 0, **options) -> dict[str, torch.Tensor]:
        z = self.noise(n, torch.Generator(device=self.device).manual_seed(seed))["z"]
        return {"z": z, "psi": torch.linspace(0.5, 1.0, n, device=z.device)}  # truncated and not, so both trace

    def export_description(self, **options) -> dict:
        meta = super().export_description()
        meta["inputs"][1].update(kind="truncation", about="one per sample: w = w_avg + psi (w - w_avg); 1 leaves "
                                                          "the sample as drawn, 0 gives the average image")
        meta["truncation"] = "input psi (N): 1 for untruncated samples, as `ganforge sample` draws them"
        return meta


class StyleGAN(Family):
    GENERATOR = StyleGANGenerator
    Options = StyleGANOptions
    GROUPS = ("G", "D")
    LATENT = "w"
    FIXED_SIZE = 28  # unless data.resolution sets another

    @classmethod
    def check_settings(cls, options: StyleGANOptions, cfg) -> None:
        at_least(options, 1, "z_dim", "g_width", "d_width")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: StyleGANOptions = self.options
        if not spec.is_image:
            raise UserError(f"the stylegan family trains on images; data.name={spec.name} is not an image dataset")
        if spec.shape[1] != spec.shape[2]:
            raise UserError(f"the stylegan family needs square images, got {spec.shape[1]}x{spec.shape[2]}; "
                            "set data.resolution")
        if not 0 <= o.style_mixing <= 1 or o.r1 < 0 or o.r1_every < 1 or not 0 <= o.w_avg_beta < 1:
            raise UserError("config keys 'family.style_mixing' (0..1), 'family.r1' (>= 0), 'family.r1_every' (>= 1) "
                            "and 'family.w_avg_beta' ([0, 1)) are out of range")
        self.z_dim = o.z_dim
        self.G = StyleGenerator(spec.shape, o.z_dim, o.w_dim, o.mapping_layers, o.g_width, o.max_channels)
        self.D = ResidualDiscriminator(spec.shape, o.d_width, o.max_channels, o.mbstd_group)
        self.networks = {"G": self.G, "D": self.D}

    def phases(self) -> list[Phase]:
        phases = [Phase("D", steps="D")]
        if self.options.r1 > 0:
            phases.append(Phase("R1", steps="D", every=self.options.r1_every, data=False))
        return [*phases, Phase("G", steps="G", freeze=("D",), data=False)]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        d = self.wrapped.get("D", self.D)
        if phase == "D":
            with torch.no_grad():
                fake = self.G(*self.codes(step, len(batch.x)))
            real_logits, fake_logits = d(batch.x), d(fake)
            loss = losses.d_loss_bce(real_logits, fake_logits)
            return loss, {"loss_d": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
                          "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
        if phase == "R1":  # through the plain D: DDP's wrapper cannot be differentiated by autograd.grad
            real = batch.x.detach().requires_grad_(True)
            penalty = losses.r1_penalty(self.D(real), real)
            loss = self.synced("D", self.options.r1 * self.options.r1_every * penalty, batch.x)
            return loss, {"r1": penalty.detach()}
        z, z2, cut = self.codes(step, len(batch.x))
        fake = self.wrapped.get("G", self.G)(z, z2, cut, w_avg_beta=self.options.w_avg_beta)  # w_avg: truncation's
        loss = losses.g_loss_nonsaturating(self.D(fake))
        return loss, {"loss_g": loss.detach()}

    def codes(self, step: Step, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, z2, cut) for G's forward: with probability style_mixing the styles from a random layer `cut` on
        come from a second code z2 (style-mixing regularisation), else cut is n_styles (no mixing). The cut
        stays a tensor on the device, so the decision costs no host sync."""
        z = step.randn(step.batch_size, self.z_dim)[:n]
        z2 = step.randn(step.batch_size, self.z_dim)[:n]
        draw = torch.rand(2, generator=step.noise, device=step.noise.device)
        n_styles = self.G.n_styles
        cut = torch.where(draw[0] < self.options.style_mixing, 1 + (draw[1] * (n_styles - 1)).long(),
                          torch.full_like(draw[1], n_styles, dtype=torch.long))  # 1 .. n_styles - 1, or n_styles
        return z, z2, cut.to(z.device)

    # -- sampling ---------------------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {"z": torch.randn(n, self.z_dim, generator=generator, device=generator.device)}

    def styles(self, inputs: dict[str, torch.Tensor], g: nn.Module | None = None) -> torch.Tensor:
        """ws of the sampling network for inputs: w = mapping(z), pulled towards w_avg by psi where given; or
        a projection's own "w" (N x w_dim, or N x layers x w_dim: one per layer, W+)."""
        g = self.sampler() if g is None else g
        if "w" in inputs:
            w = inputs["w"]
            return w if w.dim() == 3 else w.unsqueeze(1).repeat(1, g.n_styles, 1)
        w = g.mapping(inputs["z"])
        if "psi" in inputs:
            w = g.w_avg + inputs["psi"].view(-1, 1).to(w.dtype) * (w - g.w_avg)
        return w.unsqueeze(1).repeat(1, g.n_styles, 1)

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())
        g = self.sampler()
        noise = [inputs.get(f"noise{i}") for i in range(len(g.layers))] if "noise0" in inputs else None
        return g.synthesis(self.styles(inputs, g), noise)  # a projection's noise maps, else the layers' own

    def check_truncation(self, psi: float) -> None:
        if psi < 0:
            raise UserError(f"--truncation is psi in w = w_avg + psi (w - w_avg): 1 leaves samples as they are, "
                            f"0 gives the average image; got {psi}")

    def truncated(self, inputs: dict[str, torch.Tensor], psi: float | None,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The truncation of StyleGAN: w moved towards the running average of w by psi (applied in decode)."""
        if psi is None:
            return inputs
        self.check_truncation(psi)
        return {**inputs, "psi": torch.full((len(inputs["z"]),), float(psi), device=inputs["z"].device)}

    def style_ranges(self) -> dict[str, tuple[int, int]]:
        """Which style inputs are coarse, middle and fine: the first two (the lowest resolution), the next two,
        the rest (StyleGAN's Fig. 3 at the sizes a CPU trains)."""
        n = self.G.n_styles
        return {"coarse": (0, min(2, n)), "middle": (min(2, n), min(4, n)), "fine": (min(4, n), n)}

    def forward_check(self, device: torch.device) -> None:
        self.D(self.decode(self.noise(2, torch.Generator(device=device).manual_seed(0))))

