"""`ganforge translate`: an image-to-image run applied to a user's image or folder of images.

Each image is read at its own size, converted to the channels the model takes (gray repeated to RGB, colour
averaged to gray), padded by repeating its border up to a size the networks divide, translated, and cropped
back: the output is the input's size times the model's scale (4 for 4x super-resolution). File names are
kept; outputs are PNG. Nothing is overwritten without `force`, and nothing is written when an input fails.
The run's Generator does the work: any generator that Translates.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge import runs, viz
from ganforge.data.folder import decode_image, input_images
from ganforge.errors import UserError
from ganforge.files import atomic_folder
from ganforge.generator import Generator, Translates, require

HELP = "translate images with an image-to-image run (pix2pix, cyclegan, srgan)"
DESCRIPTION = ("Translate an image, or every image in a folder (file names kept, PNG out), with a run's latest "
               "checkpoint. Any size works: images are padded to what the networks divide and cropped back, so the "
               "output is the input's size times the model's scale. By default outputs go into RUN_DIR/translated/. "
               "Existing files are never replaced without --force.")


def add_arguments(p) -> None:
    """`ganforge translate`'s own options (the command adds RUN_DIR, --out, --force, --checkpoint, --device)."""
    p.add_argument("--input", required=True, metavar="IMAGE|FOLDER", help="an image file or a folder of images")
    p.add_argument("--direction", default="AB", choices=("AB", "BA"),
                   help="AB: domain A (the inputs) to B; BA the reverse (cyclegan runs; default AB)")


def main(args) -> int:
    """`ganforge translate ARGS`: translate, write, print what was written."""
    written = translate_files(Path(args.run_dir), args.input, args.out, args.direction, args.checkpoint,
                              args.device, args.force)
    if len(written) == 1:
        print(f"wrote {written[0]}")
    else:
        print(f"wrote {len(written):,} PNG files under {os.path.commonpath([str(p) for p in written])}/")
    return 0


def read_image(path: Path, channels: int) -> torch.Tensor:
    """uint8 C x H x W with the model's channel count."""
    try:
        a = decode_image(path, channels, None)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the same user error
        raise UserError(f"{path}: not a readable image ({exc}); give PNG, JPEG or another image file") from None
    return torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1)


@torch.no_grad()
def translate_image(g: Generator, image: torch.Tensor, direction: str) -> torch.Tensor:
    """One uint8 C x H x W image through the generator, padded to the size its networks divide, cropped back."""
    multiple = g.size_multiple(direction)
    h, w = image.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    x = image[None].to(g.device).float().div(127.5).sub(1.0)
    if pad_h or pad_w:  # repeat the border: no hard edge for the nets to draw
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2], mode="replicate")
    y = g.translate(x, direction)
    scale = y.shape[-1] // x.shape[-1]
    top, left = pad_h // 2 * scale, pad_w // 2 * scale
    return viz.to_uint8(y[0, :, top : top + h * scale, left : left + w * scale].float().cpu())


def translate_files(run_dir: Path | str, source: Path | str, out: Path | str | None = None, direction: str = "AB",
                    checkpoint: str | None = None, device: str = "auto", force: bool = False) -> list[Path]:
    """Translate an image file or every image in a folder (recursively, keeping relative names); default
    output: RUN/translated/<name>.png (a folder input: RUN/translated/<folder name>/...). Returns the files
    written."""
    run_dir = runs.require_run(run_dir)
    source = Path(source)
    files = input_images(source)
    if source.is_dir():
        out = Path(out) if out is not None else run_dir / "translated" / source.name
        targets = [out / p.relative_to(source).with_suffix(".png") for p in files]
    else:
        out = Path(out) if out is not None else run_dir / "translated" / f"{source.stem}.png"
        if out.suffix.lower() != ".png":
            raise UserError(f"--out {out}: a single image is written as a .png")
        targets = [out]
    g = runs.load_generator(run_dir, checkpoint, device)
    require(g, Translates, f"{run_dir} is not an image-to-image run", "draw its samples with `ganforge sample`")
    if direction not in g.directions:
        raise UserError(f"--direction {direction}: this {g.name} run translates {' and '.join(g.directions)}")
    taken = [t for t in targets if t.exists()]
    if taken and not force:
        raise UserError(f"{taken[0]} exists ({len(taken)} of the outputs do); pass --force to replace them")
    channels = g.input_channels(direction)
    images = [translate_image(g, read_image(p, channels), direction) for p in files]  # all, then write
    if not source.is_dir():
        _save_png(images[0], out)
        return targets
    # a folder is filled beside `out` and moved in when complete: an interrupted run leaves none of it (an
    # existing `out` keeps its other files and gets each new one in a rename)
    with atomic_folder(out, replace=False) as tmp:
        for image, target in zip(images, targets):
            _save_png(image, tmp / target.relative_to(out))
    return targets


def _save_png(image: torch.Tensor, path: Path) -> None:
    array = image.permute(1, 2, 0).numpy()
    viz.save_picture(Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array), path)
