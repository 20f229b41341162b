"""SRGAN (Ledig et al. 2017): super-resolution by a residual generator and a discriminator.

G (SRResNet, nets/resnet.py: residual blocks, then sub-pixel convolutions that double the size) maps a
low-resolution image a to G(a) at `scale` times its size; D (nets/resnet.py's SRDiscriminator) tells real
high-resolution images from G's. Each iteration, on one minibatch of pairs (a, x):
  D  learns to tell x from G(a)                                    BCE (family.objective gan) or least squares
  G  pixel * |G(a) - x|^2 + content * |phi(G(a)) - phi(x)|^2 + gan * L_GAN(G(a))
phi is a feature map of a domain classifier (family.content_classifier), standing in for the paper's VGG
features, whose weights cannot be downloaded here: by default a second seed of ganforge's Fashion-MNIST recipe,
so that `ganforge eval`, which scores with the first, does not grade the loss by itself. family.gan=0 with
family.pixel=1 and family.content=0 is SRResNet, the paper's MSE-trained network; family.init starts an SRGAN
from such a run's G, as the paper does (a GAN started from random weights drifts to textures the feature
maps accept but no one would).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Phase, Stats, Step
from ganforge.families.pix2pix import OBJECTIVES, check_translation, d_loss, discriminator_score, g_loss
from ganforge.families.translation import TranslationFamily
from ganforge.nets.resnet import SRDiscriminator, SRResNet
from ganforge.options import choice, setting


@dataclass
class SRGANOptions:
    pixel: float = 0.0  # weight of the pixel MSE to the target in G's loss (SRResNet: 1, alone)
    content: float = 1.0  # weight of the MSE in the content classifier's feature maps (0: no classifier)
    gan: float = 1e-3  # weight of the adversarial loss in G's loss (the paper: 1e-3; 0: SRResNet, D unused)
    blocks: int = 16  # residual blocks in G (the paper: 16)
    d_stages: int = 3  # D's halvings of the image (the paper: 4 at 96 px)
    # the classifier whose 7x7 feature maps the content loss compares: a shipped name or a .safetensors path
    content_classifier: str = "fashion-mnist-seed1"
    # a run folder whose G starts this run: an SRResNet run (family.gan=0), as Ledig et al. start SRGAN;
    # empty: G starts from random weights
    init: str = ""
    # D's and G's objectives: BCE (gan, the paper's) or least squares (lsgan)
    objective: str = choice("gan", *OBJECTIVES, was="loss.objective")
    g_width: int = setting(64, was="model.g_width")  # channels of G's residual blocks
    d_width: int = setting(64, was="model.d_width")  # channels of D's first stage (doubled per halving)


class SRGAN(TranslationFamily):
    Options = SRGANOptions
    GROUPS = ("G", "D")
    SAMPLER = "G"
    AUGMENTS_IMAGES = False  # D would learn that augmented images are real, and G to draw them

    @classmethod
    def check_settings(cls, options: SRGANOptions, cfg) -> None:
        check_translation(options)
        if options.init and cfg.train.init:  # both would start G: one run's G would silently win
            raise UserError(f"config keys 'family.init' ({options.init}) and 'train.init' ({cfg.train.init}) both "
                            "start G; train.init starts every network: set family.init='' to fine-tune")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: SRGANOptions = self.options
        (c_in, h_in, w_in), (c_out, h, w) = spec.input_shape, spec.shape
        scale = h // h_in
        if c_in != c_out or h != scale * h_in or w != scale * w_in or scale < 2 or scale & (scale - 1):
            raise UserError(f"srgan enlarges images by 2, 4, 8, ...: the inputs ({c_in}x{h_in}x{w_in}) and targets "
                            f"({c_out}x{h}x{w}) must share channels, with the targets a power of two times larger; "
                            "for same-size translation use model.family=pix2pix")
        if min(o.pixel, o.content, o.gan) < 0 or o.pixel + o.content + o.gan == 0:
            raise UserError("config keys 'family.pixel', 'family.content' and 'family.gan' must be >= 0 and not "
                            "all 0")
        if not 1 <= o.d_stages <= 6 or (h >> o.d_stages) == 0:
            raise UserError(f"config key 'family.d_stages' must be 1-6 and at most log2 of the image size, got "
                            f"{o.d_stages}")
        self.objective = o.objective
        self.scale = scale
        self.G = SRResNet(c_in, scale, o.g_width, o.blocks)
        self.D = SRDiscriminator(c_out, o.d_width, o.d_stages)
        self.networks = {"G": self.G, "D": self.D}
        # in a list, not an attribute: a fixed judge, outside the weights, the optimisers and train()/eval()
        self._content = [load_content_classifier(o.content_classifier, spec.shape)] if o.content > 0 else []
        self._fake: torch.Tensor | None = None  # G(a) of the iteration's batch, made in D's phase, reused in G's

    def phases(self) -> list[Phase]:
        if self.options.gan == 0:  # SRResNet: D is never asked
            return [Phase("G", steps="G", freeze=("D",))]
        return [Phase("D", steps="D"), Phase("G", steps="G", freeze=("D",), data=False)]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        o: SRGANOptions = self.options
        d = self.wrapped.get("D", self.D)
        if phase == "D":
            self._fake = self.wrapped.get("G", self.G)(batch.a)  # kept with its graph for G's phase
            real, fake = d(batch.x), d(self._fake.detach())
            loss = d_loss(self.objective, real, fake)
            return loss, {"loss_d": loss.detach(), "d_real": discriminator_score(self.objective, real),
                          "d_fake": discriminator_score(self.objective, fake)}
        fake, self._fake = self._fake, None
        if fake is None:  # SRResNet has no D phase to make it
            fake = self.wrapped.get("G", self.G)(batch.a)
        loss = fake.new_zeros(())
        stats: Stats = {}
        if o.pixel > 0:
            pixel = F.mse_loss(fake, batch.x)
            loss, stats["loss_pixel"] = loss + o.pixel * pixel, pixel.detach()
        if o.content > 0:
            judge = self._content[0].to(fake.device)
            self._content[0] = judge
            content = F.mse_loss(judge.feature_maps(fake), judge.feature_maps(batch.x))
            loss, stats["loss_content"] = loss + o.content * content, content.detach()
        if o.gan > 0:
            adversarial = g_loss(self.objective, d(fake))
            loss, stats["loss_g"] = loss + o.gan * adversarial, adversarial.detach()
        return loss, stats

    def begin_training(self, dataset) -> None:
        o: SRGANOptions = self.options
        if o.init:
            self.G.load_state_dict(generator_weights(o.init, self.G))

    def translate(self, a: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        return self.sampler()(a)

    def size_multiple(self, direction: str = "AB") -> int:
        return 1  # convolutions and sub-pixel steps take any size

    def training_notes(self) -> list[str]:
        o: SRGANOptions = self.options
        terms = [f"{w:g} x {name}" for w, name in ((o.pixel, "pixel MSE"), (o.gan, "GAN"),
                                                    (o.content, f"content MSE ({o.content_classifier})")) if w]
        kind = "SRResNet" if o.gan == 0 else "SRGAN"
        start = f"G starts from {o.init}" if o.init else "G starts from random weights"
        return [f"{kind} {self.scale}x: G's loss = {' + '.join(terms)}; {o.blocks} residual blocks; {start}"]


def generator_weights(run_dir: str, like: torch.nn.Module) -> dict[str, torch.Tensor]:
    """G's weights in the latest checkpoint of the run `run_dir`, checked against the network `like`."""
    from pathlib import Path

    from ganforge.checkpoint import latest_checkpoint, load_checkpoint

    if not Path(run_dir).is_dir():
        raise UserError(f"config key 'family.init': {run_dir} is not a run folder; train the SRResNet first "
                        f"(ganforge train --config srgan-fashion-sr4-mse --out {run_dir}), give another run "
                        "trained with family.gan=0, or set family.init='' to start from random weights")
    model, _, _ = load_checkpoint(latest_checkpoint(Path(run_dir)), model_only=True)
    weights = {k.removeprefix("G."): v for k, v in model.items() if k.startswith("G.")}
    wanted = {k: tuple(v.shape) for k, v in like.state_dict().items()}
    if {k: tuple(v.shape) for k, v in weights.items()} != wanted:
        raise UserError(f"config key 'family.init': the G of {run_dir} is not this run's network; train both "
                        "with the same family.g_width and family.blocks")
    return weights


def load_content_classifier(name_or_path: str, shape: tuple[int, ...]):
    """The content loss's classifier, frozen, in eval mode; it must read the targets' shape."""
    from ganforge.metrics.classifier import load_classifier

    judge, meta = load_classifier(name_or_path)
    wanted = (meta.get("in_channels", 1), 28, 28)
    if tuple(shape) != wanted:
        raise UserError(f"config key 'family.content_classifier': {name_or_path} reads "
                        f"{'x'.join(map(str, wanted))} images and the targets are {'x'.join(map(str, shape))}; "
                        "set family.content=0 and family.pixel=1 (SRResNet's pixel loss), or give a classifier "
                        "trained on this data")
    return judge.requires_grad_(False)
