"""The adversarial autoencoder (Makhzani et al. 2015): an autoencoder whose codes are made to follow a prior
by a GAN played on the codes, so the decoder turns any prior draw into a sample.

Each training iteration, on one minibatch (Section 2 of the paper):
  recon  encoder E and decoder G minimise the reconstruction error of x -> E(x) -> G(E(x))
  D      the code discriminator learns to tell prior draws z ~ p(z) (real) from codes E(x) (fake)
  E      the encoder, as D's generator, makes its codes look like prior draws (non-saturating loss)
Priors: a Gaussian, a mixture of 10 Gaussians in 2-D, a swiss roll (ganforge.data.priors). With
family.supervised, D also sees the one-hot label and prior draws come from the label's component (the
paper's Fig. 4): each class is sent to its own part of the code space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import losses
from ganforge.data import priors
from ganforge.data.priors import PRIORS, component_of, mixture_centres, sample_prior, share_in_component
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
from ganforge.nets.autoencoder import build
from ganforge.options import choice

PICTURE_POINTS = 2000  # training examples encoded for the code-space picture


@dataclass
class AAEOptions:
    prior: str = choice("gaussian", *PRIORS)
    code_dim: int = 8  # the code's size (mixture and swiss_roll: 2)
    hidden: list[int] = field(default_factory=lambda: [1000, 1000])  # hidden layers of E, G (reversed) and D
    supervised: bool = False  # D sees the label; the prior draw comes from the label's component
    reconstruction: str = choice("bce", "bce", "mse")  # bce: pixels in [0, 1] as Bernoulli means; mse: squared error


class AAEGenerator(AutoencoderGenerator):
    """The decoder of an adversarial autoencoder: samples from prior codes; its encoder maps images to codes."""

    def export_description(self, **options) -> dict:
        """z as a draw from the prior the encoder was matched to (the decoder's input)."""
        meta = super().export_description()
        o, k = self.family.options, self.family.n_classes
        if o.prior == "gaussian":
            meta["inputs"][0].update(kind="standard normal", about="the code: N(0, I), the prior the encoder matched")
            return meta
        prior = {"name": o.prior, "components": max(k, 10)}  # sample_prior's component count
        if o.prior == "mixture":
            prior.update(radius=priors.MIXTURE_RADIUS, std_radial=priors.MIXTURE_STD_RADIAL,
                         std_tangential=priors.MIXTURE_STD_TANGENTIAL)
        else:
            prior.update(radius=priors.SWISS_RADIUS, turns=priors.SWISS_TURNS, noise=priors.SWISS_NOISE)
        which = "component k makes class k (class_names order)" if k else "any component"
        meta["inputs"][0].update(kind=f"{o.prior} prior", prior=prior,
                                 about=f"the code: a draw from the 2-D {o.prior} prior as "
                                       f"ganforge.data.priors.sample_prior draws it; {which}")
        return meta


class AAE(Family):
    GENERATOR = AAEGenerator
    Options = AAEOptions
    FIXED_SIZE = 28  # image folders are resized to 28x28 unless data.resolution says otherwise
    GROUPS = ("AE", "D", "E")  # optim.ae: reconstruction (E and G); optim.d: code D; optim.e: E as D's generator
    SAMPLER = "G"  # the decoder
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {"class": "supervised runs: every sample from this class's part of the code space"}

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: AAEOptions = self.options
        if o.prior != "gaussian" and o.code_dim != 2:
            raise UserError(f"config key 'family.code_dim' must be 2 for family.prior={o.prior}, got {o.code_dim}")
        if o.code_dim < 1 or not o.hidden or min(o.hidden) < 1:
            raise UserError("config keys 'family.code_dim' and 'family.hidden' must be positive")
        if o.supervised:
            if o.prior == "gaussian":
                raise UserError("family.supervised gives each class its own part of a mixture or swiss_roll prior; "
                                "set family.prior=mixture or swiss_roll")
            if not spec.n_classes or spec.attr_names:
                raise UserError("family.supervised needs data with class labels (MNIST, Fashion-MNIST, class folders)")
        self.n_classes = spec.n_classes if o.supervised else 0
        self.E, self.G, self.D = build(spec.shape, o.code_dim, o.hidden, self.n_classes)
        self.networks = {"E": self.E, "G": self.G, "D": self.D}
        self._codes: torch.Tensor | None = None  # E(x) of the iteration's batch, from the reconstruction phase

    def groups(self) -> dict[str, list[nn.Module]]:
        return {"AE": [self.E, self.G], "D": [self.D], "E": [self.E]}

    def phases(self) -> list[Phase]:
        return [Phase("recon", steps="AE"), Phase("D", steps="D", data=False),
                Phase("E", steps="E", freeze=("D",), data=False)]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        labels = self._labels(batch)
        if phase == "recon":
            codes = self.wrapped.get("E", self.E)(batch.x)
            logits = self.wrapped.get("G", self.G)(codes)
            loss = self.reconstruction_error(logits, batch.x)
            self._codes = codes.detach()
            return loss, {"loss_recon": loss.detach()}
        if phase == "D":
            prior = self.prior_draws(step, labels)
            real = self.critic(prior, labels, sync=True)
            fake = self.critic(self._codes, labels)
            loss = losses.d_loss_bce(real, fake)
            return loss, {"loss_d": loss.detach(), "d_real": torch.sigmoid(real.detach()).mean(),
                          "d_fake": torch.sigmoid(fake.detach()).mean()}
        loss = losses.g_loss_nonsaturating(self.critic(self.wrapped.get("E", self.E)(batch.x), labels))
        return loss, {"loss_g": loss.detach()}

    def reconstruction_error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per example, summed over its values: the binary cross-entropy to the pixels in [0, 1], or the
        squared error in [-1, 1]."""
        if self.options.reconstruction == "bce":
            error = F.binary_cross_entropy_with_logits(logits.float(), (x.float() + 1) / 2, reduction="none")
        else:
            error = (torch.tanh(logits.float() / 2) - x.float()) ** 2
        return error.flatten(1).sum(1).mean()

    def critic(self, codes: torch.Tensor, labels: torch.Tensor | None, sync: bool = False) -> torch.Tensor:
        d = self.wrapped.get("D", self.D) if sync else self.D
        if labels is None:
            return d(codes)
        return d(torch.cat([codes, F.one_hot(labels, self.n_classes).to(codes.dtype)], 1))

    def prior_draws(self, step: Step, labels: torch.Tensor | None) -> torch.Tensor:
        """This rank's share of a global batch of prior draws (with labels: each from its label's component)."""
        o = self.options
        n = step.batch_size
        global_labels = None if labels is None else labels.repeat(step.world)  # rank r's labels at slice r
        draws = sample_prior(o.prior, n, o.code_dim, step.noise, global_labels, max(self.n_classes, 10))
        share = n // step.world
        return draws[step.rank * share : (step.rank + 1) * share]

    def _labels(self, batch: Batch) -> torch.Tensor | None:
        if not self.n_classes:
            return None
        if batch.y is None:
            raise UserError("family.supervised needs labelled data, but the batch has no labels")
        return batch.y

    # -- encoding and sampling -------------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """Codes of examples in [-1, 1] (uint8 images are converted), in eval mode, batched."""
        return encode_images(self, self.E, x, batch)

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Prior draws; supervised: the classes in turn (sample i from component i mod K)."""
        o = self.options
        labels = torch.arange(n, device=generator.device) % self.n_classes if self.n_classes else None
        return {"z": sample_prior(o.prior, n, o.code_dim, generator, labels, max(self.n_classes, 10))}

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())  # class acts on the prior draws (sample_inputs)
        return torch.tanh(self.sampler()(inputs["z"]) / 2)  # 2 sigmoid(logit) - 1: the pixel means in [-1, 1]

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        return inputs, (self.n_classes or None)  # supervised: one column per class

    def latent_kind(self) -> str:
        return "gaussian" if self.options.prior == "gaussian" else "prior"

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) in [-1, 1] by the sampling decoder. Callers set eval mode."""
        return self.decode({"z": self.encode(x)})

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options) -> tuple[dict[str, torch.Tensor], int | None]:
        check_options(self, options)
        if "class" not in options:
            return super().sample_inputs(n, generator, picture, truncation)
        if truncation is not None:
            self.check_truncation(truncation)  # refused: a class's part of the prior is not N(0, I)
        names = list(self.spec.class_names) or [str(i) for i in range(self.n_classes)]
        k = options["class"]
        if not self.n_classes:
            raise UserError("--class needs a supervised run (family.supervised=true)")
        if k not in names and not (k.isdigit() and int(k) < self.n_classes):
            raise UserError(f"--class {k}: not a class of this run; classes: {', '.join(names)}")
        label = names.index(k) if k in names else int(k)
        labels = torch.full((n or 64,), label, dtype=torch.int64, device=generator.device)
        o = self.options
        return {"z": sample_prior(o.prior, len(labels), o.code_dim, generator, labels, self.n_classes)}, None

    # -- pictures and measurements ------------------------------------------------------------------------------

    def pictures(self, dataset, folder: Path, step: int) -> None:
        """Reconstructions beside their inputs, and with a 2-D code the code space coloured by class."""
        from ganforge import viz

        x = dataset.x[:32]
        with torch.no_grad():
            was_training = self.training
            self.eval()
            recon = torch.tanh(self.G(self.encode(x).to(next(self.G.parameters()).device)) / 2).cpu()
            self.train(was_training)
        viz.save_reconstructions(x, recon, folder / f"recon_{step:06d}.png")
        if self.options.code_dim == 2:
            codes = self.encode(dataset.x[:PICTURE_POINTS]).cpu()
            labels = None if dataset.y is None else dataset.y[:PICTURE_POINTS]
            centres = mixture_centres(max(self.n_classes, 10)) if self.options.prior == "mixture" else None
            viz.plot_codes(codes.numpy(), None if labels is None else labels.numpy(), folder / f"codes_{step:06d}.png",
                           title=f"codes of {len(codes):,} training examples, step {step}",
                           centres=None if centres is None else centres.numpy(), class_names=dataset.class_names)

    def code_share(self, x: torch.Tensor, labels: torch.Tensor) -> float:
        """Mixture prior: the share of examples whose code's most responsible component is their class's."""
        return share_in_component(self.encode(x).cpu(), labels.cpu(), max(self.n_classes, 10))

    def components(self, x: torch.Tensor) -> torch.Tensor:
        return component_of(self.encode(x).cpu(), max(self.n_classes, 10))
