"""A user's folder through a pix2pix run: the edges of drawn silhouettes of clothes, at sizes the training
data never had, translated by `ganforge translate` and shown as edges | output pairs.

    python bench/sketches.py RUN [--folder runs/sketches] [--picture docs/images/pix2pix-sketches.png]

The drawings are made here (filled polygons, then their Sobel edges as fashion-edges computes them) so the
example needs no files; any folder of images works the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

import ganforge
from ganforge.data.translation import sobel_edges

# name -> (width, height, outline polygon in [0, 1] coordinates)
SKETCHES = {
    "tshirt": (36, 32, [(.3, .1), (.42, .16), (.58, .16), (.7, .1), (.95, .3), (.85, .45), (.75, .38), (.75, .92),
                        (.25, .92), (.25, .38), (.15, .45), (.05, .3)]),
    "trousers": (28, 40, [(.25, .05), (.75, .05), (.85, .95), (.6, .95), (.5, .35), (.4, .95), (.15, .95)]),
    "dress": (32, 40, [(.38, .05), (.62, .05), (.62, .3), (.9, .95), (.1, .95), (.38, .3)]),
    "bag": (40, 32, [(.1, .35), (.3, .35), (.35, .1), (.65, .1), (.7, .35), (.9, .35), (.9, .9), (.1, .9)]),
    "sneaker": (44, 28, [(.05, .45), (.35, .4), (.55, .2), (.7, .25), (.95, .6), (.95, .85), (.05, .85)]),
    "boot": (32, 36, [(.35, .05), (.7, .05), (.7, .55), (.95, .7), (.95, .92), (.2, .92), (.25, .55)]),
}


def draw(folder: Path) -> None:
    """Each silhouette filled, then its edges as the task makes them (Sobel magnitude, scaled to [0, 1])."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (w, h, shape) in SKETCHES.items():
        img = Image.new("L", (w, h), 0)
        # a black margin, as the task's 28x28 images have inside their 32x32 padding
        ImageDraw.Draw(img).polygon([((0.1 + 0.8 * x) * (w - 1), (0.1 + 0.8 * y) * (h - 1)) for x, y in shape],
                                    fill=200)
        edges = sobel_edges(torch.from_numpy(np.asarray(img))[None, None])
        Image.fromarray(edges[0, 0].numpy()).save(folder / f"{name}.png")


def picture(folder: Path, translated: Path, out: Path, zoom: int = 3) -> None:
    """edges | output for each drawing, side by side in one row, enlarged by pixel repetition."""
    pairs = [(Image.open(folder / f"{n}.png"), Image.open(translated / f"{n}.png")) for n in SKETCHES]
    width = sum(a.width + b.width + 6 for a, b in pairs) * zoom
    height = max(a.height for a, _ in pairs) * zoom
    sheet = Image.new("L", (width, height), 128)
    x = 0
    for a, b in pairs:
        for img in (a, b):
            sheet.paste(img.convert("L").resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST),
                        (x, 0))
            x += (img.width + 2) * zoom
        x += 2 * zoom
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a pix2pix run on fashion-edges")
    p.add_argument("--folder", default="runs/sketches", help="where the drawings go")
    p.add_argument("--picture", default="docs/images/pix2pix-sketches.png")
    return p


def main() -> None:
    args = build_parser().parse_args()
    folder = Path(args.folder)
    draw(folder)
    out = Path(args.run) / "translated" / folder.name
    written = ganforge.translate(args.run, folder, out, force=True)
    picture(folder, out, Path(args.picture))
    print(f"translated {len(written)} drawings into {out}; wrote {args.picture}")


if __name__ == "__main__":
    main()
