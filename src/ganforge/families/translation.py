"""What the image-to-image families (pix2pix, CycleGAN, super-resolution) share: they sample by translating
images, not noise. Each keeps a showcase of held-out inputs and their targets (saved with the weights, so
`ganforge sample` needs no data) and draws its pictures as input | output | target.

A family says how it translates (`translate(a, direction)`); `noise` hands out showcase inputs in turn and
`decode` translates them, so the loop's pictures and `ganforge sample` work as for any family.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.spec import DataSpec
from ganforge.errors import UserError
from ganforge.families.base import Family, check_options
from ganforge.generator import SHOWCASE, ExportModule, Generator, Translates, eval_mode


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [-1, 1]; floats pass through."""
    return x.float().div(127.5).sub(1.0) if x.dtype == torch.uint8 else x


class TranslationGenerator(Generator, Translates):
    """An image-to-image G (pix2pix, super-resolution; CycleGAN both ways)."""

    @property
    def directions(self) -> tuple[str, ...]:
        return self.family.DIRECTIONS

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        if direction not in self.directions:
            raise UserError(f"the {self.name} family translates {' and '.join(self.directions)}, not {direction}")
        with eval_mode(self.family):
            return self.family.translate(images, direction)

    def size_multiple(self, direction: str = "AB") -> int:
        return self.family.size_multiple(direction)

    def input_channels(self, direction: str = "AB") -> int:
        return self.family.input_channels(direction)

    # -- export: the input image alone in, its translation out, at any size the network divides -------------

    def export_network(self, direction: str = "AB") -> nn.Module:
        """The network that translates along `direction`."""
        return self.network()

    def export_module(self, direction: str = "AB") -> nn.Module:
        self.check_direction(direction)
        return ExportModule({"generator": self.export_network(direction)},
                            lambda inputs: self.family.translate(inputs["image"], direction), ("image",))

    def export_inputs(self, n: int = 2, seed: int = 0, direction: str = "AB",
                      size: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
        """Showcase inputs (n from the seed-th on; direction BA: its targets, or noise where the run has
        none), resized to `size` when given."""
        self.check_direction(direction)
        k = (torch.arange(n) + seed) % SHOWCASE
        if direction == "AB":
            images = self.family.showcase_a[k]
        elif bool(self.family.showcase_has_b):
            images = self.family.showcase_b[k]
        else:
            g = torch.Generator().manual_seed(seed)
            images = torch.rand(n, *self.family.spec.shape, generator=g).mul(2).sub(1).to(self.device)
        if size is not None:
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return {"image": images}

    def export_checks(self, direction: str = "AB") -> list[dict[str, torch.Tensor]]:
        """Another batch size, and another image size (a multiple more on each side, more on the width)."""
        m = self.size_multiple(direction)
        h, w = self.export_inputs(1, direction=direction)["image"].shape[-2:]
        return [self.export_inputs(3, seed=1, direction=direction),
                self.export_inputs(1, seed=2, direction=direction, size=(h + m, w + 2 * m))]

    def export_description(self, direction: str = "AB") -> dict:
        m = self.size_multiple(direction)
        (c_in, h_in, w_in), (c_out, h_out, w_out) = self._shapes(direction)
        scale = h_out // h_in

        def side(name: str) -> str:
            return name if scale == 1 else f"{scale}*{name}"

        source, target = direction
        sides = "any height H and width W" + (f" that are multiples of {m}" if m > 1 else "")
        return {
            "inputs": [{"name": "image", "shape": ["N", c_in, "H", "W"],
                        "kind": f"domain {source} images",
                        "about": f"images of domain {source} in [-1, 1] (pixel / 127.5 - 1), {sides}; trained at "
                                 f"{h_in} x {w_in}"}],
            "output": {"name": "translated", "shape": ["N", c_out, side("H"), side("W")],
                       "range": [-1.0, 1.0], "about": f"the images translated to domain {target}, in [-1, 1]: "
                                                      f"pixel value = (x + 1) * 127.5; trained at {h_out} x {w_out}"},
            "direction": direction,
            "directions": {d: f"domain {d[0]} -> {d[1]}" + (" (this file)" if d == direction else
                                                             f": ganforge export RUN --direction {d}")
                           for d in self.directions},
        }

    def _shapes(self, direction: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input, output) C x H x W as trained."""
        a, b = tuple(self.spec.input_shape), tuple(self.spec.shape)
        return (a, b) if direction == "AB" else (b, a)

    def check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise UserError(f"--direction {direction}: the {self.name} family translates "
                            f"{' and '.join(self.directions)}")


class TranslationFamily(Family):
    GENERATOR = TranslationGenerator
    DIRECTIONS: ClassVar[tuple[str, ...]] = ("AB",)  # AB: domain A (inputs) to B (images); CycleGAN adds BA
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {}

    @classmethod
    def check_data(cls, cfg, layout: str | None) -> None:
        if layout == "single":
            raise UserError(f"the {cfg.model.family} family translates images and needs image-to-image data: "
                            "data.name fashion-edges, fashion-sr4 or mnist-colour, or a folder holding A/ and B/ "
                            "(pairs: the same file names), trainA/ and trainB/ (unpaired), or images with A and B "
                            "side by side (data.layout=side_by_side)")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        self.check_data(cfg, spec.layout)
        if cfg.train.ema:  # the average's BatchNorm statistics would be refreshed from noise, and there is none
            raise UserError(f"config key 'train.ema': the {cfg.model.family} family samples with the live G; "
                            "set train.ema=0")
        self.register_buffer("showcase_a", torch.zeros(SHOWCASE, *spec.input_shape))
        self.register_buffer("showcase_b", torch.zeros(SHOWCASE, *spec.shape))
        self.register_buffer("showcase_has_b", torch.zeros((), dtype=torch.bool))  # targets known

    # -- the showcase -----------------------------------------------------------------------------------------

    def attach_showcase(self, examples) -> None:
        k = torch.arange(SHOWCASE) % len(examples.inputs)  # fewer examples than SHOWCASE repeat
        self.showcase_a.copy_(to_unit_range(examples.inputs[k]))
        if examples.paired:
            self.showcase_b.copy_(to_unit_range(examples.x[k]))
        self.showcase_has_b.fill_(bool(examples.paired))

    def sampling_tensors(self) -> dict[str, torch.Tensor]:
        return {"showcase_a": self.showcase_a, "showcase_b": self.showcase_b,
                "showcase_has_b": self.showcase_has_b}

    def load_sampling_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, value in tensors.items():
            getattr(self, name).copy_(value)

    # -- sampling ---------------------------------------------------------------------------------------------

    def translate(self, a: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        """Images of one domain in [-1, 1] -> the other domain's, in [-1, 1]. Callers set eval mode."""
        raise NotImplementedError

    def size_multiple(self, direction: str = "AB") -> int:
        """The number both sides of an input must divide (`ganforge translate` pads up to it)."""
        raise NotImplementedError

    def input_channels(self, direction: str = "AB") -> int:
        return self.spec.input_shape[0] if direction == "AB" else self.spec.shape[0]

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The showcase's inputs in turn (with their targets, for pictures); no randomness."""
        k = torch.arange(n, device=self.showcase_a.device) % SHOWCASE
        return {"a": self.showcase_a[k], "b": self.showcase_b[k]}

    def decode(self, inputs: dict[str, torch.Tensor], **options: Any) -> torch.Tensor:
        check_options(self, options, allowed=())
        return self.translate(inputs["a"])

    def forward_check(self, device: torch.device) -> None:
        self.translate(torch.zeros(2, *self.spec.input_shape, device=device))

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options: Any) -> tuple[dict[str, torch.Tensor], int | None]:
        check_options(self, options)
        if truncation is not None:
            self.check_truncation(truncation)  # refused: samples come from images
        return self.noise(n or SHOWCASE, generator), None

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        return inputs, None

    def picture(self, inputs: dict[str, torch.Tensor], samples: torch.Tensor,
                columns: int | None) -> tuple[torch.Tensor, int | None]:
        """Triples input | output | target (input | output where targets are unknown), four to a row."""
        parts = [inputs["a"], samples] + ([inputs["b"]] if bool(self.showcase_has_b) else [])
        shown = [as_picture(p, samples) for p in parts]
        triples = torch.stack(shown, 1).flatten(0, 1)  # a0 y0 b0 a1 y1 b1 ...
        return triples, 4 * len(parts)


def as_picture(images: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`images` at the size and channel count of `like`, for one grid: gray repeated to RGB, a smaller input
    enlarged by pixel repetition (a 7x7 low-resolution input shown as blocks, not smoothed)."""
    images = images.to(like.device, like.dtype)
    if images.shape[-2:] != like.shape[-2:]:
        images = F.interpolate(images, size=like.shape[-2:], mode="nearest")
    if images.shape[1] != like.shape[1]:
        images = images.mean(1, keepdim=True).expand(-1, like.shape[1], -1, -1)
    return images
