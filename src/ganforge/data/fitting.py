"""How images of any shape become the size the networks train on: data.aspect.

- crop (the default): each image is resized to cover the size, and its centre is cut out (the rest is lost);
- pad: each image is resized to fit inside the size and centred on black bands (nothing is lost; StyleGAN's
  dataset tool pads the same way);
- keep: the size is itself a rectangle of the images' aspect: data.resolution is its long side, the short side
  the nearest quarter of it, so 4x3 images train at 64x48 (the DCGAN's 4x3 base doubled 4 times, the way its
  square 4x4 base doubles to 64x64); the first image's aspect sets it, and images of another aspect are
  covered and centre-cropped to it, as by crop.
Sizes are (width, height), as Pillow gives them; tensors are N x C x H x W.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from PIL import Image

ASPECTS = ("crop", "pad", "keep")
PAD_VALUE = 0  # black


def keep_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """data.aspect=keep's training size for width x height images: the long side `resolution`, the short side
    the nearest quarter of it (at least a quarter)."""
    quarters = min(4, max(1, round(4 * min(width, height) / max(width, height))))
    short = max(1, round(resolution * quarters / 4))
    return (resolution, short) if width >= height else (short, resolution)


def target_size(width: int, height: int, resolution: int | None, aspect: str) -> tuple[int, int]:
    """The size a width x height image is fitted to. Without a resolution: its own size, made square by
    padding under pad."""
    if resolution is None:
        return (max(width, height),) * 2 if aspect == "pad" else (width, height)
    return keep_size(width, height, resolution) if aspect == "keep" else (resolution, resolution)


def geometry(width: int, height: int, size: tuple[int, int], aspect: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(the size a width x height image is resized to, (left, top)): under pad, where it sits on the canvas of
    `size`; else where the window of `size` is cut from it (the centre)."""
    w_out, h_out = size
    if aspect == "pad":
        scale = min(w_out / width, h_out / height)
        rw, rh = min(w_out, max(1, round(width * scale))), min(h_out, max(1, round(height * scale)))
        return (rw, rh), ((w_out - rw) // 2, (h_out - rh) // 2)
    scale = max(w_out / width, h_out / height)
    rw, rh = max(w_out, round(width * scale)), max(h_out, round(height * scale))
    return (rw, rh), ((rw - w_out) // 2, (rh - h_out) // 2)


def fit_image(img: Image.Image, size: tuple[int, int], aspect: str) -> Image.Image:
    """`img` resized (Lanczos) and cropped or padded to `size` (width, height)."""
    (rw, rh), (left, top) = geometry(*img.size, size, aspect)
    if (rw, rh) != img.size:
        img = img.resize((rw, rh), Image.Resampling.LANCZOS)
    if (rw, rh) == size:
        return img
    if aspect == "pad":
        canvas = Image.new(img.mode, size, PAD_VALUE)
        canvas.paste(img, (left, top))
        return canvas
    return img.crop((left, top, left + size[0], top + size[1]))


def fit_tensor(x: torch.Tensor, size: tuple[int, int], aspect: str) -> torch.Tensor:
    """uint8 N x C x H x W images (all one size) resized (antialiased bilinear) and cropped or padded to `size`
    (width, height)."""
    (rw, rh), (left, top) = geometry(x.shape[-1], x.shape[-2], size, aspect)
    w_out, h_out = size
    if (rw, rh) == (w_out, h_out) == (x.shape[-1], x.shape[-2]):
        return x
    out = torch.full((len(x), x.shape[1], h_out, w_out), PAD_VALUE, dtype=torch.uint8)
    for i in range(0, len(x), 4096):  # in chunks, to keep the float copy small
        f = x[i:i + 4096]
        if (rw, rh) != (x.shape[-1], x.shape[-2]):
            f = F.interpolate(f.float(), size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
            f = f.round().clamp(0, 255).to(torch.uint8)
        if aspect == "pad":
            out[i:i + 4096, :, top:top + rh, left:left + rw] = f
        else:
            out[i:i + 4096] = f[:, :, top:top + h_out, left:left + w_out]
    return out


def _resized(size: tuple[int, int], to: tuple[int, int]) -> str:
    return f"resized to {to[0]}x{to[1]} and " if to != size else ""


def _change(size: tuple[int, int], out: tuple[int, int], aspect: str) -> str | None:
    """What fitting does to an image of `size` beyond resizing, in words with the pixels ("centre-cropped to
    32x32, 8 px cut from its left and 8 from its right"); None where it is only resized."""
    (rw, rh), (left, top) = geometry(*size, out, aspect)
    if (rw, rh) == out:
        return None
    w_out, h_out = out
    if aspect == "pad":
        sides, first, rest = (("left", "right"), left, w_out - rw - left) if rw < w_out else (
            ("top", "bottom"), top, h_out - rh - top)
        return (f"{_resized(size, (rw, rh))}padded to {w_out}x{h_out} with black bands, {first} px added on its "
                f"{sides[0]} and {rest} on its {sides[1]}")
    sides, first, rest = (("left", "right"), left, rw - w_out - left) if rw > w_out else (
        ("top", "bottom"), top, rh - h_out - top)
    return (f"{_resized(size, (rw, rh))}centre-cropped to {w_out}x{h_out}, {first} px cut from its {sides[0]} and "
            f"{rest} from its {sides[1]}")


def describe_fit(sizes: Mapping[tuple[int, int], int], out: tuple[int, int], aspect: str) -> str | None:
    """One line on what fitting to `out` does to the images of `sizes` ((width, height) -> count) that lose
    pixels to a crop or gain bands: the most common such size in pixels, the others counted; None where every
    image is only resized."""
    changed = {size: n for size, n in sizes.items() if _change(size, out, aspect) is not None}
    if not changed:
        return None
    (w, h), n = max(changed.items(), key=lambda item: (item[1], item[0]))
    others = sum(changed.values()) - n
    shape = "non-square" if out[0] == out[1] else f"other than {out[0]}x{out[1]}'s aspect"
    verb = "padded" if aspect == "pad" else "cropped"
    more = (f"; {others:,} more of {len(changed) - 1} other {shape} size{'s' * (len(changed) > 2)} are {verb} "
            "likewise" if others else "")
    every = "all " if n == sum(sizes.values()) and n > 1 else ""
    advice = "" if aspect == "pad" else "; crop the files yourself to keep another part"
    return (f"{every}{n:,} image{'s are' if n > 1 else ' is'} {w}x{h}: each is {_change((w, h), out, aspect)}{more}"
            f"{advice}")


def describe_fitting(sizes: Mapping[tuple[int, int], int], out: tuple[int, int], aspect: str) -> str:
    """A few words on what was done to the images to make them `out` (width, height), for a picture's caption:
    the most common size as read and what it became ("48x32 images centre-cropped to 32x32 (data.aspect=crop)")."""
    (w, h), n = max(sizes.items(), key=lambda item: (item[1], item[0]))
    change = _change((w, h), out, aspect)
    if change is not None:
        what = f"{w}x{h} images {change.split(',')[0]} (data.aspect={aspect})"
    elif (w, h) != out:
        what = f"{w}x{h} images resized to {out[0]}x{out[1]}" + (" (data.aspect=keep)" if aspect == "keep" else "")
    else:
        what = f"{w}x{h} images as they are"
    others = sum(sizes.values()) - n
    return what + (f", {others:,} of other sizes fitted likewise" if others else "")
