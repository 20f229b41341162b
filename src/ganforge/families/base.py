"""The contract between a family and the training loop.

A family is one training algorithm (the GAN of Goodfellow et al., the adversarial autoencoder, ...). It
declares its networks, how they are grouped under optimisers, its phases (which group each phase steps,
which groups it freezes, how often it runs) and one loss per phase; it says which network samples and how.
The loop (ganforge.training.loop) owns everything else: data, optimisers, precision, compilation, several
processes, the EMA of the sampling network, logging, checkpoints, rollback and resume. It never names a
network or a phase itself.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.augment import Augmenter
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.generator import (
    DEFAULT_SAMPLES,
    Encodes,
    Generator,
    Projects,
    Reconstructs,
    SamplesCodes,
    eval_mode,
)
from ganforge.options import build_options

Stats = dict[str, torch.Tensor]  # detached scalars, kept on the device until log time


@dataclass(frozen=True)
class Phase:
    """One part of a training iteration: a loss whose backward steps one optimiser group."""

    name: str  # passed to Family.loss
    steps: str  # the optimiser group the loss steps
    freeze: tuple[str, ...] = ()  # groups whose weights get no gradient here (D during G's step)
    repeat: int = 1  # times per iteration (k discriminator steps)
    every: int = 1  # runs on iterations divisible by this (lazy regularisation)
    data: bool = True  # draws a fresh real batch; False: sees the latest one drawn


@dataclass
class Step:
    """Where training is, for a loss: the iteration, the images seen, and this rank's random stream."""

    index: int  # iterations completed before this one
    images_seen: int
    batch_size: int  # the global batch of this iteration (each rank holds its share of it)
    noise: torch.Generator  # training noise: this stream alone, so resume restores it exactly
    device: torch.device
    rank: int = 0
    world: int = 1

    def randn(self, n: int, *dims: int) -> torch.Tensor:
        """Normal noise for a global batch of n, this rank's share of it: every rank draws the same global
        batch, so N processes train on the very noise one process would."""
        z = torch.randn(n, *dims, generator=self.noise, device=self.device)
        if self.world == 1:
            return z
        share = n // self.world
        return z[self.rank * share : (self.rank + 1) * share]


class Family(nn.Module):
    """Subclass, set GROUPS, build `networks` in __init__(cfg, spec), and define phases, loss and decode.

    GROUPS names the optimiser groups (their settings are optim.<group in lower case>); `groups()` maps
    each to the networks it trains (a network may sit in two groups, each with its own optimiser state).
    SAMPLER names the network that samples: train.ema averages it, and the average samples.
    """

    Options: ClassVar[type | None] = None  # a dataclass of the family's own keys (config section `family:`)
    GROUPS: ClassVar[tuple[str, ...]] = ()
    SAMPLER: ClassVar[str] = "G"
    AUGMENTS_IMAGES: ClassVar[bool] = False  # D sees images, so train.augment applies (see make_augmenter)
    FIXED_SIZE: ClassVar[int | None] = None  # the image size of the family's networks (image_size), if fixed
    RECTANGLES_HINT: ClassVar[str] = ""  # data.aspect=keep refused: a setting that builds rectangles ("...; or ")
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {}  # `ganforge sample --option NAME=VALUE`: name -> help
    LATENT: ClassVar[str] = ""  # "gaussian": inputs["z"] ~ N(0, I), "prior": another prior; "": no latent space
    GENERATOR: ClassVar[type[Generator]] = Generator  # the trained artefact; its abilities are its base classes

    networks: dict[str, nn.Module]
    wrapped: dict[str, nn.Module] = {}  # noqa: RUF012 - per instance after distribute(); shared empty default
    ema: Any = None  # the loop's EMA of the sampling network (train.ema > 0)
    conditional: bool = False  # the sampling network takes a condition vector (the gan's family.condition)
    attributes: bool = False  # the condition holds binary attributes, not a one-hot class
    n_cond: int = 0
    progress: bool = True  # begin_training's long work shows a bar (the loop clears it for a quiet run)

    def __init__(self, cfg, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
        self.options = self.read_options(cfg)
        self.augmenter = self.make_augmenter(cfg, spec)

    def make_augmenter(self, cfg, spec: DataSpec):
        """train.augment: the Augmenter for what D sees (None when off). A family whose D sees images applies
        it to D's every input in training (AUGMENTS_IMAGES); others refuse the key."""
        t = cfg.train
        if t.augment == "none":
            return None
        if not self.AUGMENTS_IMAGES or not spec.is_image:
            what = "toy data" if not spec.is_image else f"the {cfg.model.family} family (its D does not see images)"
            raise UserError(f"config key 'train.augment' augments the images D sees; {what} has none: set "
                            "train.augment=none")
        return Augmenter(t.augment, t.augment_policy, t.ada_target, t.ada_kimg, t.ada_interval, t.batch_size,
                         t.seed)

    @classmethod
    def read_options(cls, cfg):
        """The family's Options from the config's `family:` section, each key and type checked, then its own
        checks (check_settings)."""
        name = cfg.model.family
        if cls.Options is None:
            if cfg.family:
                raise not_read(f"family.{next(iter(cfg.family))}", name, None)
            cls.check_aspect(None, cfg)
            return None
        options = build_options(cls.Options, cfg.family, "family.", lambda key: not_read(key, name, cls.Options))
        cls.check_settings(options, cfg)
        cls.check_aspect(options, cfg)
        return options

    @classmethod
    def check_settings(cls, options, cfg) -> None:
        """Refuse option values out of range or at odds with the rest of the config; run when the config is
        loaded, before anything is trained or written."""

    @classmethod
    def check_aspect(cls, options, cfg) -> None:
        """Refuse data.aspect=keep (images of their own aspect, rectangles) where the networks build squares only."""
        if cfg.data.aspect == "keep" and not cls.builds_rectangles(options, cfg):
            raise UserError(f"config key 'data.aspect': keep trains on rectangular images, and "
                            f"{cls.describe_settings(options, cfg)[0]} builds square ones only; "
                            f"{cls.RECTANGLES_HINT}set data.aspect=crop (the centre) or pad (black bands)")

    @classmethod
    def builds_rectangles(cls, options, cfg) -> bool:
        """Whether the networks take images of any aspect (data.aspect=keep). Default: no."""
        return False

    @classmethod
    def check_data(cls, cfg, layout: str | None) -> None:
        """Refuse data of the wrong kind: `layout` is "single" (images, points or clips), "paired" or "unpaired"
        (image-to-image data), told before the data is read (data.registry.data_layout; None: not known), so
        that this, the most basic mismatch, is named before any complaint about the files. Default: any."""

    @classmethod
    def image_size(cls, options) -> int | None:
        """The image size the family's networks fix, for data without data.resolution (None: the data's own)."""
        return cls.FIXED_SIZE

    @classmethod
    def fit_images(cls, options, width: int, height: int, aspect: str = "crop") -> tuple[int, dict] | None:
        """For an image folder of width x height images and no data.resolution: (the resolution to train at,
        the option values that go with it), or None to train at image_size(). `aspect`: data.aspect."""
        return None

    # -- training ------------------------------------------------------------------------------------------

    def groups(self) -> dict[str, list[nn.Module]]:
        """Optimiser group -> the networks it steps (default: each group trains the network of its name)."""
        return {name: [self.networks[name]] for name in self.GROUPS}

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        """The loss of `phase` on this rank's share of the real batch; the loop backpropagates it and steps
        the phase's group."""
        raise NotImplementedError

    def batch_size(self, step: int) -> int:
        """The global batch at iteration `step` (progressive growing changes it with the resolution)."""
        return self.cfg.train.batch_size

    def after_step(self, group: str) -> None:
        """Called after the optimiser of `group` stepped: the place for weight constraints."""

    def distribute(self, wrap) -> None:
        """Multi-process training: `wrap(net)` (DistributedDataParallel) for each network, as
        `self.wrapped[name]`. The rule a loss keeps under torchrun:
        - at least one forward through `self.wrapped[name]` for each network whose weights its backward trains:
          that readies DDP's all-reduce of the network's gradient. Further uses in the same loss, through the
          wrapper again or the plain module, and wrapped forwards of networks frozen in the phase, are free:
          autograd sums a parameter's gradient over all its uses before DDP's hook averages it
          (tests/training/test_distributed.py checks StyleGAN's, CycleGAN's and the GAN's against one process);
        - never torch.autograd.grad through a wrapped forward (gradient penalties, R1): DDP does not support it,
          and the gradient would stay this rank's. Penalties go through the plain module; a loss made of a
          penalty alone adds `synced(name, loss, inputs)`."""
        self.wrapped = {name: wrap(net) for name, net in self.networks.items()}

    def synced(self, name: str, loss: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        """`loss`, none of whose uses of network `name` went through its wrapper (a gradient penalty), with a
        forward of `inputs` through the wrapper weighted 0 added under torchrun, so DDP all-reduces the
        network's gradient of it. In one process: `loss` itself, with no extra forward."""
        if name not in self.wrapped:
            return loss
        return loss + 0.0 * self.wrapped[name](*inputs).sum()

    def training_notes(self) -> list[str]:
        """Lines the loop prints before training: settings that work but are not what the user may think."""
        return []

    def describe(self) -> str:
        """The family as the training header names it: its name (a family with variants adds the variant)."""
        return self.describe_settings(self.options, self.cfg)[0]

    @classmethod
    def describe_settings(cls, options, cfg) -> list[str]:
        """A few words each: the family's name as describe() gives it, then its own settings worth naming in a
        run's one-line description (the report's subtitle), read from the config alone. Default: the name."""
        return [cfg.model.family]

    def begin_training(self, dataset) -> None:
        """Called once when a run starts from step 0 (not on resume), before anything is written, with the
        training data (data/registry.Dataset): e.g. weights taken from another run, encoders pre-trained on the
        data. Default: nothing."""

    def forward_check(self, device: torch.device) -> None:
        """A trial forward of every network on two samples (torch.compile is checked with it); default: the
        sampling path only."""
        self.decode(self.noise(2, torch.Generator(device=device).manual_seed(0)))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Training state beyond the weights (buffers, counters) to save in checkpoints, as tensors."""
        return {}

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` returned."""

    def sampling_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors beyond the networks that sampling needs (an image-to-image family's held-out showcase),
        saved with the weights."""
        return {}

    def load_sampling_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `sampling_tensors` returned."""

    def attach_showcase(self, examples) -> None:
        """Called by the loop before training with a few held-out examples (a Dataset): a family that samples
        from images rather than noise keeps them to draw its pictures from (see sampling_tensors)."""

    def picture(self, inputs: dict[str, torch.Tensor], samples: torch.Tensor,
                columns: int | None) -> tuple[torch.Tensor, int | None]:
        """The images of a picture of `samples` drawn from `inputs` (as `grid` laid them out): the samples
        themselves, or with what they were made from beside them (input | output | target)."""
        return samples, columns

    def pictures(self, dataset, folder: Path, step: int) -> None:
        """Pictures of this family's own beside the sample grid, written at each sample step as
        folder/<name>_<step:06d>.png (reconstructions, a code space); the run keeps the latest of each series
        as <name>.png and an animation of it as <name>.gif."""

    # -- sampling ------------------------------------------------------------------------------------------

    def generator(self, data: dict | None = None, step: int = 0, run_dir: Path | None = None) -> Generator:
        """The family's sampling side as its Generator (GENERATOR): what every tool after training uses."""
        return self.GENERATOR(self, data, step, run_dir)

    def sampler(self) -> nn.Module:
        """The network that samples: the EMA average when the loop keeps one (its BatchNorm statistics brought
        up to date), else the live network."""
        if self.ema is None:
            return self.networks[self.SAMPLER]
        self.ema.refresh_batchnorm(lambda n, generator: tuple(self.noise(n, generator).values()))
        return self.ema.shadow

    def attach_ema(self, ema) -> None:
        """Called by the loop: `ema` averages the sampling network; its copy is saved as <SAMPLER>_ema."""
        self.ema = ema
        self.add_module(f"{self.SAMPLER}_ema", ema.shadow)

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The sampling network's inputs for n fresh samples, drawn from `generator` on its device, in the order
        the network takes them (z, and the condition for a conditional network)."""
        raise NotImplementedError

    def decode(self, inputs: dict[str, torch.Tensor], **options: Any) -> torch.Tensor:
        """Samples in the data's value range from inputs as `noise` draws them. Callers set eval mode."""
        raise NotImplementedError

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        """A picture's layout of inputs as `noise` draws them (about n samples when given): (inputs, columns);
        None columns: a square-ish grid."""
        return inputs, None

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options: Any) -> tuple[dict[str, torch.Tensor], int | None]:
        """`ganforge sample`: the inputs of n samples (None: DEFAULT_SAMPLES, or a grid's own default) with the
        user's options (SAMPLE_OPTIONS), z truncated at `truncation`, laid out as a picture's grid when
        `picture`, and the grid's columns."""
        check_options(self, options)
        inputs = self.truncated(self.noise(n or DEFAULT_SAMPLES, generator), truncation, generator)
        return self.grid(inputs, n) if picture else (inputs, None)

    def latent_kind(self) -> str:
        """What `ganforge explore` can do here: "gaussian" (everything, truncation included), "prior" (paths
        and arithmetic in another prior's codes), "" (no latent space: image-to-image families)."""
        return self.LATENT

    def check_truncation(self, psi: float) -> None:
        """Refuse a truncation this family cannot apply, or a psi that is not positive."""
        if self.latent_kind() != "gaussian":
            raise UserError(f"--truncation redraws Gaussian codes; the {self.cfg.model.family} family's samples "
                            "come from " + ("another prior" if self.latent_kind() else "images, not codes"))
        if psi <= 0:
            raise UserError(f"--truncation must be > 0 (values of z beyond it are redrawn), got {psi}")

    def truncated(self, inputs: dict[str, torch.Tensor], psi: float | None,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
        """inputs with z truncated to [-psi, psi] by redrawing (None: unchanged)."""
        if psi is None:
            return inputs
        self.check_truncation(psi)
        from ganforge.latent import truncate_normal

        return {**inputs, "z": truncate_normal(inputs["z"], psi, generator)}


class AutoencoderGenerator(Generator, SamplesCodes, Encodes, Reconstructs, Projects):
    """The decoder of a family with an encoder (aae, vaegan): samples from codes; `encode` and `reconstruct`
    are the family's own; projection refines the encoder's code."""

    def projection_start(self, images: torch.Tensor, space: str) -> dict[str, torch.Tensor]:
        return {"z": self.encode(images).to(images.device)}

    def encode(self, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        return self.family.encode(images, batch)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.family):
            return self.family.reconstruct(images)


@torch.no_grad()
def encode_images(family: Family, encoder: nn.Module, x: torch.Tensor, batch: int = 1000,
                  codes=lambda out: out) -> torch.Tensor:
    """codes(encoder(images)) for images in [-1, 1] (uint8 images are converted), in eval mode, in batches on
    the encoder's device: what the families with an encoder (aae, vaegan) give `encode`."""
    with eval_mode(family):
        device = next(encoder.parameters()).device
        parts = []
        for part in x.split(batch):
            part = part.to(device)
            if part.dtype == torch.uint8:
                part = part.float().div_(127.5).sub_(1.0)
            parts.append(codes(encoder(part)).float())
        return torch.cat(parts)


def not_read(key: str, family: str, options: type | None) -> UserError:
    """The refusal of a config key the family does not read: where its settings live, or the closest one."""
    if options is None:
        return UserError(f"config key '{key}': the {family} family does not read it and has no settings of its "
                         "own; remove it")
    names = [f.name for f in dataclasses.fields(options)]
    close = difflib.get_close_matches(key.split(".")[-1], names, n=1, cutoff=0.75) if key.startswith("family.") else []
    if close:
        return UserError(f"unknown config key '{key}'; did you mean 'family.{close[0]}'? (the {family} family's "
                         "settings: `ganforge presets --keys`)")
    return UserError(f"config key '{key}': the {family} family does not read it; its own settings are family.* "
                     "(`ganforge presets --keys`)")


def check_options(family: Family, options: dict, allowed: tuple[str, ...] | None = None) -> None:
    """Refuse sampling options outside `allowed` (default: the family's SAMPLE_OPTIONS), naming the family's."""
    allowed = tuple(family.SAMPLE_OPTIONS) if allowed is None else allowed
    unknown = [k for k in options if k not in allowed]
    if unknown:
        have = ", ".join(family.SAMPLE_OPTIONS) or "none"
        raise UserError(f"sample option '{unknown[0]}' is not one of the {family.cfg.model.family} family's "
                        f"(options: {have})")


__all__ = ["Batch", "DataSpec", "Family", "Phase", "Stats", "Step"]
