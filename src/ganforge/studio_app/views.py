"""What the studio shows, as pure functions: a Generator and a view's parameters in, a Picture out (PNG or GIF
bytes, with the `ganforge ...` command line and the Python call that draw the same thing). No server here: the
app parses requests into these calls, and the tests call them directly.

Every view asks the Generator for its abilities (SamplesCodes, MixesStyles, Translates, ...), never for its
family, and draws what the command it names draws: the grid is `ganforge sample`'s picture, the interpolation
`ganforge explore interpolate`'s, a class direction `ganforge explore attribute`'s.
"""

from __future__ import annotations

import io
import keyword
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge import viz
from ganforge.errors import UserError
from ganforge.explorer import Explorer
from ganforge.generator import (
    Encodes,
    Generator,
    MixesStyles,
    PredictsFrames,
    Projects,
    SamplesCodes,
    Translates,
    require,
)
from ganforge.latent import lerp, slerp

FRAME_MS = 120  # an interpolation GIF's frame time


@dataclass
class Picture:
    """What a view shows: the file's bytes and how to draw it again, from the shell and from Python."""

    data: bytes
    kind: str  # "png" or "gif"
    command: str  # the equivalent `ganforge ...` command line
    python: str  # the equivalent Python call
    name: str  # a file name (no suffix) saying what it shows; saving picks a fresh one from it
    note: str = ""  # one line shown under the picture
    extra: dict = field(default_factory=dict)  # what a later view builds on (a projection's codes)


# -- how a call is written ---------------------------------------------------------------------------------------


def flags(**values) -> str:
    """`--name value` items of the values given (None left out, True a bare flag), shell-quoted."""
    out = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        flag = "--" + name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out.append(" ".join([flag, *(shlex.quote(str(v)) for v in value)]))
        else:
            out.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(out)


def command(action: str, run: str, **values) -> str:
    return " ".join(filter(None, ["ganforge", action, shlex.quote(run), flags(**values)]))


def keywords(**values) -> str:
    """Python keyword arguments of the values given (None left out); a name that is a Python keyword (class)
    goes into **{...}."""
    given = {k.rstrip("_"): v for k, v in values.items() if v is not None}
    plain = [f"{k}={v!r}" for k, v in given.items() if k.isidentifier() and not keyword.iskeyword(k)]
    other = {k: v for k, v in given.items() if not (k.isidentifier() and not keyword.iskeyword(k))}
    return ", ".join(plain + ([f"**{other!r}"] if other else []))


def call(function: str, *args, **values) -> str:
    """A Python call of `function` with the arguments given (keywords that are None left out)."""
    return f"{function}({', '.join(filter(None, [*map(repr, args), keywords(**values)]))})"


def file_name(*parts) -> str:
    """A file name stem from what a picture shows: letters, digits, '.', '-' and '_' only."""
    text = "_".join(str(p) for p in parts if not (p is None or p is False or p == ""))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:100] or "studio"


# -- pictures as bytes ---------------------------------------------------------------------------------------------


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def gif(frames: list[Image.Image], duration_ms: int = FRAME_MS, bounce: bool = True) -> bytes:
    """A looping GIF of the frames, with `bounce` played forward and back."""
    frames = frames + frames[-2:0:-1] if bounce else frames
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return buffer.getvalue()


def image(x: torch.Tensor) -> Image.Image:
    """One image (C x H x W, in [-1, 1] or uint8) at its own size."""
    return viz.grid_image(x[None].cpu(), nrow=1, padding=0)


def options(condition: str | None = None, caption: str | None = None) -> dict[str, str]:
    """The sampling options of a class (conditional runs) and a caption (text-to-image runs)."""
    return {k: v for k, v in (("class", condition), ("text", caption)) if v not in (None, "")}


# -- samples ---------------------------------------------------------------------------------------------------


def sample(g: Generator, run: str, seed: int, psi: float | None = None, condition: str | None = None,
           caption: str | None = None, noise: int | None = None) -> Picture:
    """One sample at its own size: g.sample(1, seed, psi, ...), pixel for pixel. `noise`: the per-layer noise
    maps drawn from this seed instead of the ones kept with the weights, where the code has them (noise_maps)."""
    require(g, SamplesCodes, "the seed and truncation controls draw samples from codes",
            "drop an image on it instead")
    opts = options(condition, caption)
    if noise is None:
        x = g.sample(1, seed, truncation=psi, **opts)[0]
        python = call(f"ganforge.load({run!r}).sample", 1, seed=seed, truncation=psi, **opts)
    else:
        inputs, _ = g.inputs(1, torch.Generator().manual_seed(seed), truncation=psi, **opts)
        inputs = {**{k: v.to(g.device) for k, v in inputs.items()}, **noise_maps(g, noise)}
        x = g(inputs)[0].cpu()
        python = (f"from ganforge.studio_app.views import noise_maps; g = ganforge.load({run!r}); inputs, _ = "
                  f"g.inputs(1, torch.Generator().manual_seed({seed}), {keywords(truncation=psi, **opts)}); "
                  f"g({{**inputs, **noise_maps(g, {noise})}})")
    what = ", ".join(filter(None, [f"seed {seed}", psi is not None and f"psi {psi:g}",
                                   condition and f"class {condition}", caption and f"caption {caption!r}",
                                   noise is not None and f"noise seed {noise}"]))
    return Picture(png(image(x)), "png", command("sample", run, n=1, seed=seed, truncation=psi, class_=condition,
                                                 text=caption), python,
                   file_name("sample", f"seed{seed}", psi is not None and f"psi{psi:g}", condition, caption,
                             noise is not None and f"noise{noise}"), what)


def noise_maps(g: Generator, seed: int) -> dict[str, torch.Tensor]:
    """Per-layer noise maps drawn from `seed`, where the generator's code carries them beside the code itself
    (the inputs a projection moves besides the code: StyleGAN's noise inputs); {} where it has none."""
    if not isinstance(g, Projects) or len(g.moved(g.projection_spaces[0])) < 2:
        return {}
    space = g.projection_spaces[0]
    start = g.projection_start(torch.zeros(1, *g.spec.shape, device=g.device), space)
    draw = torch.Generator().manual_seed(seed)
    return {k: torch.randn(start[k].shape, generator=draw).to(g.device) for k in g.moved(space)[1:]}


def takes_noise(g: Generator) -> bool:
    return bool(isinstance(g, Projects) and len(g.moved(g.projection_spaces[0])) > 1)


def grid(g: Generator, run: str, seed: int, psi: float | None = None, condition: str | None = None,
         caption: str | None = None, n: int | None = None) -> Picture:
    """`ganforge sample RUN --seed S`'s picture, the same pixels: n samples (None: the run's default grid; a
    conditional run's a row per class), or for a run that draws from images or clips its showcase outputs."""
    opts = options(condition, caption)
    inputs, columns = g.inputs(n, torch.Generator().manual_seed(seed), picture=True, truncation=psi, **opts)
    fake = g({k: v.to(g.device) for k, v in inputs.items()}).cpu()
    images, columns = g.picture({k: v.cpu() for k, v in inputs.items()}, fake, columns)
    rows = g.row_labels(inputs, columns, **opts)
    picture = (viz.labelled(viz.Grid.of(images, columns, 2, 2), rows=rows) if rows else
               viz.grid_image(images, columns, 2, 2))
    samples = isinstance(g, SamplesCodes)
    drawn_from = seed if samples else None  # showcase outputs take no seed
    return Picture(png(picture), "png", command("sample", run, n=n, seed=drawn_from, truncation=psi,
                                                class_=condition, text=caption),
                   call("ganforge.sample", run, n=n, seed=drawn_from, truncation=psi, **opts),
                   file_name("grid", samples and f"seed{seed}", psi is not None and f"psi{psi:g}", condition,
                             caption),
                   f"{len(fake)} {'samples' if samples else 'outputs for held-out inputs'}")


# -- paths and styles ------------------------------------------------------------------------------------------


def interpolate(g: Generator, run: str, a: int, b: int, t: float, spherical: bool = False) -> Picture:
    """The sample at fraction t of the way from seed a's code to seed b's (the other inputs held at a's): the
    column at t of `ganforge explore interpolate --seeds A B`."""
    require(g, SamplesCodes, "interpolation walks between codes", "drop an image on it instead")
    ends = g.codes([a, b])
    z = ends["z"].flatten(1)
    moved = (slerp if spherical else lerp)(z[:1], z[1:], torch.tensor([float(t)], device=z.device))
    inputs = {**{k: v[:1] for k, v in ends.items()}, "z": moved.reshape(1, *ends["z"].shape[1:])}
    how = "slerp" if spherical else "lerp"
    return Picture(png(image(g(inputs)[0])), "png",
                   command("explore interpolate", run, seeds=[a, b], slerp=spherical) + "   # a row from t=0 to t=1",
                   (f"from ganforge.latent import {how}; g = ganforge.load({run!r}); c = g.codes([{a}, {b}]); "
                    f"g({{**c, 'z': {how}(c['z'][:1], c['z'][1:], torch.tensor([{t:g}]))[0]}})"),
                   file_name("interpolate", f"seeds{a}-{b}", f"t{t:g}", how), f"{how}, t = {t:.2f}")


def interpolation_gif(g: Generator, run: str, a: int, b: int, steps: int = 24, spherical: bool = False) -> Picture:
    """The walk from seed a's sample to seed b's and back, `steps` frames each way."""
    from ganforge.exploring import path_codes

    require(g, SamplesCodes, "interpolation walks between codes", "drop an image on it instead")
    ends = g.codes([a, b])
    codes = path_codes({k: v[:1] for k, v in ends.items()}, {k: v[1:] for k, v in ends.items()}, steps, spherical)
    frames = [image(x) for x in g(codes)]
    return Picture(gif(frames), "gif",
                   command("explore interpolate", run, seeds=[a, b], steps=steps, slerp=spherical),
                   call("ganforge.explore", "interpolate", run, seeds=[a, b], steps=steps,
                        spherical=spherical or None),
                   file_name("interpolate", f"seeds{a}-{b}", "slerp" if spherical else "lerp"),
                   f"seed {a} to seed {b} and back, {steps} frames each way")


def mix(g: Generator, run: str, row: int, column: int) -> Picture:
    """Style mixing: seed `row`'s sample, seed `column`'s, then the first with each band of styles (coarse,
    middle, fine) from the second: one row of `ganforge explore mix`'s figure."""
    require(g, MixesStyles, "style mixing swaps the styles of a style-based generator",
            "train one with --config stylegan-fashion")
    row_w, column_w = g.styles(g.codes([row])), g.styles(g.codes([column]))
    cells = [g.synthesize(row_w), g.synthesize(column_w)]
    for start, stop in g.style_ranges().values():
        mixed = row_w.clone()
        mixed[:, start:stop] = column_w[:, start:stop]
        cells.append(g.synthesize(mixed))
    names = [f"seed {row}", f"seed {column}", *g.style_ranges()]
    picture = viz.labelled(viz.Grid.of(torch.cat(cells).cpu(), len(cells), 2, 2), columns=names)
    return Picture(png(picture), "png", command("explore mix", run, rows=[row], columns=[column]),
                   f"ganforge.explore('mix', {run!r}, rows=[{row}], columns=[{column}])",
                   file_name("mix", f"seed{row}", f"seed{column}"),
                   f"seed {row} with each band of seed {column}'s styles")


# -- directions ------------------------------------------------------------------------------------------------


class Directions:
    """The class or attribute directions of an unconditional run in a code space, as `ganforge explore attribute`
    finds them (directions.attribute_vectors, composed here from the same parts), with their costly parts (2,000
    samples classified, or thousands of training images encoded) computed once, so a slider moves at once."""

    def __init__(self, g: Generator, run_dir: Path | None, space: str = "z"):
        self.ex = Explorer(g, Path(run_dir or "."), space)
        self.kept: dict = {}

    @staticmethod
    def names(g: Generator, run_dir: Path | None) -> list[str]:
        """The directions a run offers: its data's classes (or attributes) where a domain classifier reads its
        samples, or an encoder and the run's labelled data find them; [] where there are none."""
        from ganforge.metrics.features import classifier_for

        if g.conditional or not isinstance(g, SamplesCodes) or not g.spec.is_image:
            return []
        if isinstance(g, Encodes):
            return list(g.data.get("attr_names") or g.data.get("class_names") or []) if run_dir else []
        if classifier_for(g.data.get("name", "")) is None:
            return []
        return [str(c) for c in (g.data.get("class_names") or range(10))]

    def vectors(self, codes: dict[str, torch.Tensor], attr: str) -> torch.Tensor:
        """Each code's vector towards `attr`, one row per code (directions.attribute_vectors, its costly parts
        kept here)."""
        from ganforge.directions import attribute_vectors

        return attribute_vectors(self.ex, attr, codes, kept=self.kept)


def attribute(g: Generator, run: str, directions: Directions, seed: int, attr: str, strength: float) -> Picture:
    """Seed `seed`'s sample moved `strength` times along the direction towards `attr`: a cell of
    `ganforge explore attribute --seeds S --attr A --strength X`."""
    codes = directions.ex.seed_codes([seed])
    return moved(g, directions, codes, attr, strength, command("explore attribute", run, attr=attr, seeds=[seed],
                                                                  strength=[strength]),
                 f"ganforge.explore('attribute', {run!r}, attr={attr!r}, seeds=[{seed}], strengths=[{strength:g}])",
                 file_name("attribute", attr, f"seed{seed}", f"x{strength:g}"))


def moved(g: Generator, directions: Directions, codes: dict[str, torch.Tensor], attr: str, strength: float,
          cmd: str, python: str, name: str) -> Picture:
    from ganforge.directions import apply_attribute

    key = directions.ex.key
    z = apply_attribute(codes[key], directions.vectors(codes, attr), [strength])
    x = g({**codes, key: z})[0]
    return Picture(png(image(x)), "png", cmd, python, name, f"{strength:+g} x the direction towards {attr}")


# -- images in --------------------------------------------------------------------------------------------------


def translate(g: Generator, run: str, picture: torch.Tensor, direction: str = "AB",
              name: str = "image.png") -> Picture:
    """An uploaded image (uint8 C x H x W in the direction's channels) through an image-to-image run, beside the
    input: what `ganforge translate --input NAME` writes, padded to what the networks divide and cropped back."""
    from ganforge.translating import translate_image

    require(g, Translates, "translation maps an image of one domain to another",
            "use a pix2pix, cyclegan or srgan run")
    if direction not in g.directions:
        raise UserError(f"direction {direction}: this {g.name} run translates {' and '.join(g.directions)}")
    out = translate_image(g, picture, direction)
    stem = Path(name).stem or "image"
    return Picture(png(image(out)), "png", command("translate", run, input=name, direction=direction),
                   f"ganforge.translate({run!r}, {name!r}, direction={direction!r})",
                   file_name("translated", stem, direction), f"{direction}: {picture.shape[2]}x{picture.shape[1]} "
                                                            f"in, {out.shape[2]}x{out.shape[1]} out")


def project(g: Generator, run: str, picture: torch.Tensor, steps: int, name: str = "image.png") -> Picture:
    """An uploaded image (uint8 in the run's shape) projected into the run's code space (ganforge.projection):
    the image beside its reconstruction; extra["codes"] holds the code found, to edit."""
    from ganforge.projecting import psnr_db
    from ganforge.projection import project as find

    result = find(g, picture[None], steps)
    pair = torch.stack([picture.float().div(127.5).sub(1.0), result.images[0]])
    psnr = float(psnr_db(picture[None], viz.to_uint8(result.images))[0])
    stem = Path(name).stem or "image"
    return Picture(png(viz.labelled(viz.Grid.of(pair, 2, 2, 2), columns=["image", "projected"])), "png",
                   command("project", run, input=name, steps=steps),
                   f"ganforge.project({run!r}, {name!r}, steps={steps})", file_name("projected", stem),
                   f"projected into {result.space} in {steps} steps: PSNR {psnr:.1f} dB",
                   {"codes": result.codes, "space": result.space, "stem": stem})


def edit(g: Generator, run: str, codes: dict[str, torch.Tensor], stem: str, directions: Directions | None = None,
         attr: str | None = None, strength: float = 0.0, condition: str | None = None) -> Picture:
    """A projected code edited: moved along a direction (unconditional runs), or drawn as another class."""
    codes = {k: v.to(g.device) for k, v in codes.items()}
    # where `ganforge project` writes the code: the run folder (runs/pretrained-NAME for a shipped generator)
    npz = str(Path(g.run_dir or run) / "projected" / f"{stem}.npz")
    if condition is not None:
        if not g.conditional:
            raise UserError("this run takes no class; move the code along a direction instead")
        labels = torch.tensor([class_index(g, condition)])
        x = g(g.for_labels(codes, labels))[0]
        return Picture(png(image(x)), "png",
                       command("sample", run) + f"   # with the code of {npz} and class {condition}",
                       (f"from ganforge.projecting import load_code; g = ganforge.load({run!r}); codes, _ = "
                        f"load_code({npz!r}); g(g.for_labels(codes, torch.tensor([{int(labels[0])}])))"),
                       file_name("edited", stem, condition), f"the projected code as class {condition}")
    if directions is None or attr is None:
        raise UserError("an edit takes a class, or a direction and a strength")
    return moved(g, directions, codes, attr, strength,
                 command("explore attribute", run, codes=[npz], attr=attr, strength=[strength]),
                 f"ganforge.explore('attribute', {run!r}, codes=[{npz!r}], attr={attr!r}, strengths=[{strength:g}])",
                 file_name("edited", stem, attr, f"x{strength:g}"))


def class_index(g: Generator, condition: str) -> int:
    """A conditional run's class by name or index (as `ganforge sample --class` takes it)."""
    names = [str(c) for c in (g.spec.class_names or range(g.spec.n_cond))]
    if condition in names:
        return names.index(condition)
    if condition.isdigit() and int(condition) < len(names):
        return int(condition)
    raise UserError(f"class {condition}: not a class of this run; classes: {', '.join(names)}")


def predict(g: Generator, run: str, frames: torch.Tensor, n: int = 10, name: str = "clip.gif") -> Picture:
    """An uploaded clip (uint8 T x H x W) continued by a video run: a GIF of its frames, then n predicted ones
    (`ganforge predict --input NAME --frames N`)."""
    require(g, PredictsFrames, "continuing a clip needs a video run", "train one with --config video-moving-mnist")
    size = tuple(g.spec.shape[1:])
    if tuple(frames.shape[1:]) != size:
        raise UserError(f"frames of {frames.shape[2]}x{frames.shape[1]}; the run predicts {size[1]}x{size[0]} frames")
    if len(frames) < g.context:
        raise UserError(f"{len(frames)} frame(s); the run reads the last {g.context}")
    past = frames[None].to(g.device).float().div(127.5).sub(1.0)
    clip = torch.cat([frames, viz.to_uint8(g.predict(past, n).cpu())[0]])
    images = [Image.fromarray(np.asarray(f)).resize((f.shape[1] * 4, f.shape[0] * 4), Image.Resampling.NEAREST)
              for f in clip.numpy()]
    stem = Path(name).stem or "clip"
    return Picture(gif(images, 150, bounce=False), "gif", command("predict", run, input=name, frames=n),
                   f"ganforge.predict({run!r}, {name!r}, frames={n})", file_name("predicted", stem),
                   f"{len(frames)} frames in, then {n} predicted")
