"""The trained generator: what a run folder gives back (`ganforge.load`), apart from training.

A family trains; its Generator samples. The Generator owns the sampling network with its averaged (EMA)
weights, how its inputs are drawn, its sampling options, and its abilities, each declared as a protocol
below as an abstract class. A tool asks `isinstance(g, Encodes)`, never the family's name, and never imports
ganforge.training.

Each family file defines its Generator subclass (`Family.GENERATOR`), naming the protocols it fulfils:

    class AAEGenerator(Generator, Encodes, Reconstructs): ...
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganforge.errors import UserError

if TYPE_CHECKING:
    from ganforge.data.spec import DataSpec

DEFAULT_SAMPLES = 64  # `ganforge sample` without --n
SHOWCASE = 16  # held-out examples (images, clips) an image-to-image or video run draws its pictures from


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """`module` in eval mode (BatchNorm running statistics, no dropout) for the block; its mode restored."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class Generator:
    """A trained family's sampling side: inputs, samples, pictures, and the protocols of its subclass.

    `family` is the trained family (a families.base.Family; its training side is not used here); `data` is run.json's description of
    the training data; `step` the training step of the weights; `run_dir` the run folder (None for a family
    still training).
    """

    # True where only the sampling network has trained weights (a generator shipped with ganforge, loaded as
    # "pretrained:NAME"): its other networks, the discriminator among them, hold none, so no tool may read them
    sampler_only: bool = False

    def __init__(self, family: nn.Module, data: dict | None = None, step: int = 0, run_dir: Path | None = None):
        self.family = family
        self.data = data or {}
        self.step = step
        self.run_dir = None if run_dir is None else Path(run_dir)

    # -- what it is --------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The family's name (model.family), for messages."""
        return self.family.cfg.model.family

    @property
    def cfg(self):
        """The run's resolved config."""
        return self.family.cfg

    @property
    def spec(self) -> DataSpec:
        return self.family.spec

    @property
    def device(self) -> torch.device:
        return next(self.family.parameters()).device

    @property
    def options(self) -> tuple[str, ...]:
        """The sampling options this family takes (`ganforge sample --option NAME=VALUE`)."""
        return tuple(self.family.SAMPLE_OPTIONS)

    @property
    def option_help(self) -> dict[str, str]:
        return dict(self.family.SAMPLE_OPTIONS)

    @property
    def conditional(self) -> bool:
        """The samples follow a class or attribute condition (the gan family's family.condition)."""
        return bool(self.family.conditional)

    @property
    def attributes(self) -> bool:
        """The condition holds binary attributes, not a one-hot class."""
        return bool(self.family.attributes)

    @property
    def latent(self) -> str:
        """The code space: "gaussian" (z ~ N(0, I): every exploration, truncation by redrawing), "w" (a
        style-based mapping: truncation toward its average), "prior" (another prior's codes), "" (none: the
        samples come from images or clips)."""
        return self.family.latent_kind()

    def for_labels(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """`inputs` with sample i drawn for labels[i] (a class index, or a row of 0/1 attributes): what a
        conditional generator overrides; the others take no condition."""
        raise UserError(f"the {self.name} family's samples take no class or attribute condition")

    def network(self) -> nn.Module:
        """The sampling network (the averaged one when the run kept an average)."""
        return self.family.sampler()

    # -- inputs and samples ---------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The sampling network's inputs for n fresh samples (z, a condition, a showcase input), drawn from
        `generator`, on its device."""
        return self.family.noise(n, generator)

    def inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
               truncation: float | None = None, **options: Any) -> tuple[dict[str, torch.Tensor], int | None]:
        """The inputs of n samples (None: a default) with the family's sampling options, truncated at
        `truncation`, laid out as a picture's grid when `picture`: (inputs, grid columns or None)."""
        return self.family.sample_inputs(n, generator, picture=picture, truncation=truncation, **options)

    def check_truncation(self, psi: float) -> None:
        self.family.check_truncation(psi)

    def truncation_note(self) -> str:
        """What truncation does to this generator's codes, for files that record it."""
        return "z redrawn where |z| > psi"

    @torch.no_grad()
    def __call__(self, inputs: dict[str, torch.Tensor], batch: int = 512, **options: Any) -> torch.Tensor:
        """Samples in the data's value range for `inputs` (as `noise` draws them), in eval mode and batches
        of `batch`, on the inputs' device."""
        with eval_mode(self.family):
            n = len(next(iter(inputs.values())))
            parts = [{k: v[i : i + batch] for k, v in inputs.items()} for i in range(0, n, batch)]
            return torch.cat([self.family.decode(part, **options) for part in parts])

    def sample(self, n: int, seed: int = 0, truncation: float | None = None, **options: Any) -> torch.Tensor:
        """n samples for noise seed `seed` (the same seed gives the same samples), on the CPU: images
        N x C x H x W in [-1, 1], or points N x D. `options` are the family's sampling options."""
        if n < 1:
            raise UserError(f"n must be at least 1, got {n}")
        inputs, _ = self.inputs(n, torch.Generator().manual_seed(seed), truncation=truncation,
                                **{k: str(v) for k, v in options.items()})
        return self({k: v.to(self.device) for k, v in inputs.items()}).cpu()

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        return self.family.grid(inputs, n)

    def picture(self, inputs: dict[str, torch.Tensor], samples: torch.Tensor,
                columns: int | None) -> tuple[torch.Tensor, int | None]:
        """The images of a picture of `samples` (with what they were made from beside them, where that
        explains them: input | output | target)."""
        return self.family.picture(inputs, samples, columns)

    def row_labels(self, inputs: dict[str, torch.Tensor], columns: int | None, **options: Any) -> list[str] | None:
        """A caption for each row of a picture of `inputs` (`columns` to a row, drawn with the sampling
        `options`) where the rows differ by something worth naming; None: nothing to name."""
        return None

    # -- export ----------------------------------------------------------------------------------------------
    # `ganforge export` traces export_module() on export_inputs() and checks the trace on export_checks();
    # export_description() becomes the file's metadata. `options` are export options a subclass takes (a
    # translation's direction, a prediction's frame count); the base takes none.

    def export_module(self, **options: Any) -> nn.Module:
        """A module whose forward takes `export_inputs()` positionally and returns what this Generator returns
        for them. It holds the sampling network alone, so an export carries no other network's weights."""
        return ExportModule({"generator": self.network()}, self.family.decode, tuple(self.export_inputs(1)))

    def export_inputs(self, n: int = 2, seed: int = 0, **options: Any) -> dict[str, torch.Tensor]:
        """Example inputs of the exported module, by name, in the order it takes them."""
        return self.noise(n, torch.Generator(device=self.device).manual_seed(seed))

    def export_checks(self, **options: Any) -> list[dict[str, torch.Tensor]]:
        """Inputs a trace must reproduce the module on: a batch size other than the trace's, and other sizes
        where the module takes any (an image's, a caption's length)."""
        return [self.export_inputs(3, seed=1, **options)]

    def export_description(self, **options: Any) -> dict:
        """The exported file's signature for its metadata: {"inputs": [{name, shape, kind, about, ...}],
        "output": {name, shape, range, about}} and whatever else a user of the file needs. Shapes name their
        free dimensions ("N": the batch; "H", "W": any size the network takes)."""
        inputs = []
        for name, t in self.export_inputs(1).items():
            if name == "z":
                kind, about = "standard normal", "noise: N(0, I)"
            elif name == "c" and self.attributes:
                kind, about = "0/1 attributes", "the condition: one 0/1 value per attribute, attr_names order"
            elif name == "c":
                kind, about = "one-hot", "the condition: one-hot of the class, class_names order"
            else:
                kind, about = "", "as `ganforge.load(run).noise` draws it"
            inputs.append({"name": name, "shape": ["N", *t.shape[1:]], "kind": kind, "about": about})
        return {"inputs": inputs, "output": self.export_output()}

    def export_output(self) -> dict:
        """The exported module's output: the data's samples."""
        if self.spec.is_image:
            return {"name": "x", "shape": ["N", *self.spec.shape], "range": [-1.0, 1.0],
                    "about": "images N x C x H x W in [-1, 1]: pixel value = (x + 1) * 127.5"}
        return {"name": "x", "shape": ["N", *self.spec.shape], "range": None,
                "about": "points in the data's own coordinates"}


class ExportModule(nn.Module):
    """`fn(inputs by name)` over positional tensors, holding `networks` (the weights fn reads) and nothing else:
    fn is a function, not a submodule, so the family's other networks stay out of a trace."""

    def __init__(self, networks: dict[str, nn.Module], fn, names: tuple[str, ...]):
        super().__init__()
        self.networks = nn.ModuleDict(networks)
        self.fn = fn
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.fn(dict(zip(self.names, tensors, strict=True)))


# -- abilities -------------------------------------------------------------------------------------------------


class SamplesCodes(ABC):
    """Samples from codes in a latent space (z, or a style-based w): exploring, truncation, projection."""

    def codes(self: Generator, seeds: list[int]) -> dict[str, torch.Tensor]:
        """One sample's inputs per seed (row 0 of what each seed draws), on the generator's device."""
        parts = [self.noise(1, torch.Generator().manual_seed(s)) for s in seeds]
        return {k: torch.cat([p[k] for p in parts]).to(self.device) for k in parts[0]}


class Encodes(ABC):
    """Maps images to codes with a trained encoder (adversarial and variational autoencoders)."""

    @abstractmethod
    def encode(self, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """Codes of images (uint8, or floats in [-1, 1]) as the `z` input takes them."""


class Reconstructs(ABC):
    """Passes images through its encoder and decoder."""

    @abstractmethod
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstructions in [-1, 1] of images in [-1, 1]."""


class Projects(ABC):
    """Finds the code whose sample reproduces a given image by optimisation (GAN inversion, Karras et al. 2020).

    Codes are the network's inputs by name, as `g(codes)` takes them: "z" (and a condition "c"), or a style-based
    generator's "w" with its per-layer noise maps. ganforge.projection runs the optimisation; this says what
    the code is, where it starts, what holds it to the prior and what the run's discriminator sees."""

    projection_spaces: tuple[str, ...] = ("z",)  # the code spaces projection works in, the default first

    def projection_start(self: Generator, images: torch.Tensor, space: str) -> dict[str, torch.Tensor] | None:
        """The codes a projection of `images` (N x C x H x W in [-1, 1]) starts from; None: the nearest samples
        of a pool drawn as `inputs` draws them (the tool's search, which also finds a condition)."""
        return None

    def codes_in(self: Generator, inputs: dict[str, torch.Tensor], space: str) -> dict[str, torch.Tensor]:
        """Inputs as `noise` draws them, rewritten as codes in `space` that give the same samples."""
        return inputs

    def moved(self, space: str) -> tuple[str, ...]:
        """The codes a projection optimises, the code itself first; the others (a condition) stay as they start."""
        return ("z",)

    def code_spread(self, space: str) -> float:
        """The spread of one value of the code (1 for z ~ N(0, I)): the scale of the noise added to it early on."""
        return 1.0

    def render(self: Generator, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """Samples of `codes` in eval mode with their gradient: what `g(codes)` gives, differentiable."""
        with eval_mode(self.family):
            return self.family.decode(codes)

    def code_penalty(self, codes: dict[str, torch.Tensor]) -> torch.Tensor | float:
        """Per code: how far it strays from what the generator was trained on, added to the distance."""
        return 0.0

    @torch.no_grad()
    def tidy_codes(self, codes: dict[str, torch.Tensor]) -> None:
        """Puts the moved codes back in their domain, in place, after each optimiser step."""

    def critic_features(self: Generator, images: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The run's discriminator's features of `images` (Larsen et al.'s learned similarity), a tensor per layer,
        with the condition of `codes` where D takes one; [] where no discriminator sees images."""
        return []


class Translates(ABC):
    """Maps an image of one domain to another (pix2pix, CycleGAN both ways, super-resolution)."""

    directions: tuple[str, ...]

    @abstractmethod
    def translate(self, images: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        """Images in [-1, 1] translated along `direction`."""

    @abstractmethod
    def size_multiple(self, direction: str = "AB") -> int:
        """The input's height and width must be multiples of this."""

    @abstractmethod
    def input_channels(self, direction: str = "AB") -> int:
        """Channels of the input the network takes."""


class MixesStyles(ABC):
    """A style-based generator: styles per layer, swapped by band (coarse, middle, fine)."""

    @abstractmethod
    def style_ranges(self) -> dict[str, tuple[int, int]]:
        """Band name -> (first, last + 1) style rows."""

    @abstractmethod
    def styles(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The per-layer styles (N x layers x w_dim) of inputs as `noise` draws them."""

    @abstractmethod
    def synthesize(self, styles: torch.Tensor) -> torch.Tensor:
        """Images from per-layer styles."""


class TakesText(ABC):
    """Samples for a caption (text-to-image)."""

    @abstractmethod
    def embed(self, captions: list[str]) -> torch.Tensor:
        """Caption embeddings, as the network's `e` input takes them."""

    @abstractmethod
    def generate_for(self, captions: list[str], n: int = 1, seed: int = 0) -> torch.Tensor:
        """n samples per caption, in caption order."""

    @abstractmethod
    def caption_table(self) -> torch.Tensor:
        """The embedding of every caption the run draws from, row i for caption i (caption metrics)."""

    @abstractmethod
    def match(self, images: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """The trained image-caption matching score of each image against each of its candidate embeddings."""

    @abstractmethod
    def draw(self, embeddings: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One sample per embedding, z drawn from `generator`."""


class PredictsFrames(ABC):
    """Continues a clip (next-frame video prediction)."""

    context: int  # frames the prediction starts from

    @abstractmethod
    def predict(self, frames: torch.Tensor, n: int) -> torch.Tensor:
        """The next n frames (N x n x H x W in [-1, 1]) of clips N x context x H x W in [-1, 1]."""


class ScoresPoints(ABC):
    """A run on 1-D points whose discriminator's belief D(x) is drawn beside the samples (Goodfellow Fig. 1)."""

    @abstractmethod
    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """D's probability that each point is real."""


ABILITIES = (SamplesCodes, Encodes, Reconstructs, Projects, Translates, MixesStyles, TakesText, PredictsFrames,
             ScoresPoints)


def abilities(g: Generator) -> list[str]:
    """The names of the protocols `g` fulfils, for messages and the report."""
    return [p.__name__ for p in ABILITIES if isinstance(g, p)]


def require(g: Generator, ability: type, what: str, instead: str) -> None:
    """Refuse, in one line, a tool that needs an ability `g` lacks: `what` needs it; `instead` says what to do."""
    if not isinstance(g, ability):
        raise UserError(f"{what}; the {g.name} family's generator cannot ({ability.__doc__.strip().rstrip('.')} "
                        f"is not among its abilities): {instead}")
