"""Draw samples from a trained run: its Generator, loaded from the run folder, into a grid, an .npz or a folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from ganforge import runs, viz
from ganforge.errors import UserError
from ganforge.files import atomic_folder, atomic_write
from ganforge.generator import Generator, ScoresPoints, TakesText

HELP = "draw samples from a trained run"
DESCRIPTION = ("Draw samples from a run's latest checkpoint into a PNG grid (a scatter plot for toy data), an .npz "
               "(uint8 images N x C x H x W, or float points), or a folder of one PNG per sample. By default the "
               "grid goes into the run folder, named by step and seed: RUN_DIR/sample_step006000_seed0.png. "
               "Existing files are never replaced without --force.")


def add_arguments(p) -> None:
    """`ganforge sample`'s own options (the command adds RUN_DIR, --out, --force, --checkpoint, --device)."""
    p.add_argument("--n", type=int, help="number of samples (default 64; conditional grids: 8 per label)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--class", dest="class_name", metavar="K",
                   help="conditional runs: every sample of this class (an index or a class name)")
    p.add_argument("--attr", metavar="NAME=0|1,...",
                   help="attribute-conditioned runs: e.g. glasses=1,male=0,smiling=1 (others as in the data)")
    p.add_argument("--text", metavar="CAPTION",
                   help="text-to-image runs: every sample drawn for this caption, e.g. 'a dark sneaker'")
    p.add_argument("--text-file", metavar="FILE",
                   help="text-to-image runs: one caption a line; --n samples each (default 8), a row per caption")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a sampling option of the run's family (repeatable); the family's list is in its "
                        "SAMPLE_OPTIONS, and an unknown name lists them")
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="the truncation trick: values of z beyond +-PSI are drawn again (stylegan runs: w pulled "
                        "toward its average, w_avg + PSI (w - w_avg)); smaller PSI: typical samples, less "
                        "variety; `ganforge explore truncation` sweeps it")
    p.add_argument("--numbered", action="store_true",
                   help="write each sample's index on the grid, to pick samples for `ganforge explore arithmetic`")


def main(args) -> int:
    """`ganforge sample ARGS`: draw, write, print what was written."""
    text = {k: v for k, v in (("text", args.text), ("text_file", args.text_file)) if v is not None}
    path = sample_to_file(Path(args.run_dir), args.out, n=args.n, seed=args.seed, checkpoint=args.checkpoint,
                          device=args.device, class_name=args.class_name, attrs=args.attr,
                          options={**parse_options(args.option), **text}, force=args.force,
                          truncation=args.truncation, numbered=args.numbered)
    if path.is_dir():
        print(f"wrote {sum(1 for _ in path.glob('*.png')):,} PNG files to {path}/")
    else:
        print(f"wrote {path}")
    return 0


def snapshot_1d(g: Generator, real: torch.Tensor, fake: torch.Tensor, step: int) -> dict:
    """1D data: the generated points, and D(x) on a grid spanning the data where the run's D gives it, for
    Goodfellow et al.'s Fig. 1 picture."""
    grid = torch.linspace(float(real.min()) - 1.0, float(real.max()) + 1.0, 200, device=fake.device)
    d = g.d_prob(grid[:, None].to(g.device)).flatten().tolist() if isinstance(g, ScoresPoints) else None
    return {"step": step, "x": grid.tolist(), "d": d, "fake": fake.tolist()}


def as_arrays(snapshot: dict) -> dict:
    return {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in snapshot.items()}


def parse_options(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--option NAME=VALUE` items -> {name: value}."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--option expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def default_out(run_dir: Path, step: int, seed: int, options: dict[str, str], suffix: str = ".png") -> Path:
    """RUN/sample_step006000_seed0[_class3][_text-a-dark-sneaker].png: named by what drew it, so another draw
    gets another name (a value that does not start with a digit is set off by "-")."""
    def part(key: str, value) -> str:
        text = "".join(c if c.isalnum() or c in ".-" else "-" for c in str(value))
        return f"_{key}{text}" if text[:1].isdigit() else f"_{key}-{text}"

    extra = "".join(part(k, v) for k, v in sorted(options.items()))
    return Path(run_dir) / f"sample_step{max(step, 0):06d}_seed{seed}{extra}{suffix}"


def is_folder_out(out: Path | str) -> bool:
    """`--out DIR/` (a trailing slash) or an existing folder: one PNG per sample."""
    return str(out).endswith(("/", os.sep)) or Path(out).is_dir()


def sample_to_file(run_dir: Path, out: Path | str | None = None, n: int | None = None, seed: int = 0,
                   checkpoint: Path | str | None = None, device: str = "auto", class_name: str | None = None,
                   attrs: str | None = None, options: dict[str, str] | None = None, force: bool = False,
                   truncation: float | None = None, numbered: bool = False) -> Path:
    """Samples of a run into a PNG grid (a scatter plot for toy data), an .npz, or a folder of one PNG per
    sample (`out` ending in "/"; the form FID tools and `ganforge eval --fake` read). Default `out`: a PNG in
    the run folder named by step and seed (see default_out). An existing file or non-empty folder is kept
    unless `force`. `options` are the family's sampling options (SAMPLE_OPTIONS); `class_name` and `attrs`
    are the GAN's --class and --attr. A conditional run without them draws a grid with one row per class
    (the same noise down each column); an .npz or a folder gets the labels cycling. `truncation` redraws
    values of z beyond it (families with Gaussian codes); `numbered` writes each sample's index on the grid,
    the index `ganforge explore arithmetic` takes (sample i is row i of the noise drawn with `seed`)."""
    run_dir = runs.require_run(run_dir)
    if n is not None and n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    options = dict(options or {})
    if "truncation" in options:
        raise UserError("truncation has its own flag: --truncation PSI (not --option truncation=PSI)")
    options.update({k: v for k, v in (("class", class_name), ("attr", attrs)) if v is not None})
    folder = out is not None and is_folder_out(out)
    if out is not None and not folder and Path(out).suffix.lower() not in (".png", ".npz"):
        raise UserError(f"--out {out}: use a .png (grid or scatter plot), an .npz (raw samples), or a folder "
                        "ending in / (one PNG per sample)")
    g = runs.load_generator(run_dir, checkpoint, device)
    if not isinstance(g, TakesText) and {"text", "text_file"} & set(options):  # say why, not the option list
        flag = "--text" if "text" in options else "--text-file"
        raise UserError(f"{run_dir} is {'an' if g.name[0] in 'aeiou' else 'a'} {g.name} run: it takes no text; "
                        f"{flag} works with text2image runs")
    data, step = g.data, g.step
    named = {**options, **({"psi": truncation} if truncation is not None else {}), **({"numbered": 1} if numbered else {})}
    out = default_out(run_dir, step, seed, named) if out is None else Path(out)
    is_image = data["kind"] in ("image", "video")  # video: a grid of frames (the family's picture)
    if folder and data["kind"] == "video":
        raise UserError(f"--out {out}/: video runs write a .png grid of frames or an .npz of predicted frames; "
                        "`ganforge predict` writes a clip's prediction as a GIF")
    if folder and not is_image:
        raise UserError(f"--out {out}/: one PNG per sample is for image runs; toy runs write a .png plot or .npz")
    grid = is_image and not folder and out.suffix.lower() == ".png"
    if numbered and not grid:
        raise UserError("--numbered labels the samples of a PNG grid; give --out FILE.png or leave --out out")
    inputs, columns = g.inputs(n, torch.Generator().manual_seed(seed), picture=grid and not numbered,
                               truncation=truncation, **options)
    _check_free(out, folder, force)  # after the options are checked, before anything is written
    inputs = {k: v.to(g.device) for k, v in inputs.items()}
    fake = g(inputs).cpu()
    if folder:
        return _write_folder(viz.to_uint8(fake), out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npz":
        x = viz.to_uint8(fake).numpy() if is_image else fake.numpy()
        extra = {"c": inputs["c"].cpu().numpy()} if "c" in inputs else {}  # the condition vector of each sample
        with atomic_write(out) as f:
            np.savez(f, x=x, step=step, seed=seed, **extra)
        return out
    if is_image:
        images, columns = g.picture({k: v.cpu() for k, v in inputs.items()}, fake, columns)
        rows = g.row_labels(inputs, columns, **options)  # text-to-image: each row's caption beside it
        if rows:
            return viz.save_labelled_grid(images, out, nrow=columns, rows=rows, upscale=2 if not numbered else 3,
                                          numbered=numbered)
        return viz.save_grid(images, out, nrow=columns, upscale=2 if not numbered else 3, numbered=numbered)
    title = f"{data['name']}, step {step}, {len(fake)} samples"
    if fake.shape[1] == 2:
        modes = np.asarray(data["modes"]) if data["modes"] is not None else None
        return viz.plot_samples_2d(fake.numpy(), out, modes=modes, sigma=data["sigma"], title=title)
    real = runs.load_data(runs.read_config(run_dir)).x[:, 0]  # toy data is generated, so p_data is redrawn cheaply
    snap = snapshot_1d(g, real, fake[:, 0], step)
    return viz.plot_samples_1d(out, real.numpy(), [as_arrays(snap)], title=title)


SAMPLE_FILE = re.compile(r"\d{6,}\.png")  # the names _write_folder gives


def _check_free(out: Path, folder: bool, force: bool) -> None:
    """Refuse to replace earlier samples unless asked to; a folder holding anything else is never touched."""
    if folder:
        if out.is_file():
            raise UserError(f"--out {out}/: is a file, not a folder")
        held = [p for p in out.iterdir()] if out.is_dir() else []
        other = [p for p in held if not SAMPLE_FILE.fullmatch(p.name)]
        if other:
            raise UserError(f"--out {out}/ holds other files ({other[0].name}); give an empty or new folder")
        if held and not force:
            raise UserError(f"--out {out}/ already holds {len(held):,} samples; add --force to replace them")
    elif out.exists() and not force:
        raise UserError(f"{out} exists; add --force to overwrite it, or give another --out")


def _write_folder(images: torch.Tensor, out: Path) -> Path:
    """One PNG per image, 000000.png, 000001.png, ..., into a new folder that takes the place of `out` whole
    when complete (so an interrupted run leaves no half-filled folder); an earlier draw there is replaced."""
    from PIL import Image

    width = max(6, len(str(len(images) - 1)))
    with atomic_folder(out) as tmp:  # only NNNNNN.png files were in `out` (checked before sampling)
        for i, img in enumerate(images.permute(0, 2, 3, 1).numpy()):
            viz.save_picture(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img), tmp / f"{i:0{width}d}.png")
    return out
