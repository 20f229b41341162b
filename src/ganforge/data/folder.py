"""Folders of image files (PNG, JPEG, ...), decoded once into one uint8 tensor.

Choices, so results do not depend on the operating system or on file quirks:
- files are found recursively and sorted by relative path; hidden files and folders (".name", such as
  macOS "._x.png" metadata) are ignored;
- class labels come from the immediate subfolders when every image sits in one of them;
- EXIF orientation is applied, so photos come out the way viewers show them;
- transparency is composited onto white (transparent sprites and icons are usually drawn for a light
  background), palette images go through RGBA so their transparency is kept;
- 16-bit images are scaled to 8 bits (Pillow's own conversion would clip them);
- images are resized so the short side equals the resolution (Lanczos), then center-cropped;
- with channels unset the result is RGB if any image is colour (palette images count as colour);
- Pillow's decompression-bomb limit stays on: a too-large image is a bad file;
- binary attributes per image come from an attribute file (attributes.py): attributes.csv or
  list_attr_celeba.txt in the folder, or <folder name>.csv beside it; every image kept needs a row;
- captions come from captions.csv in the folder or a .txt file beside each image (caption_files.py); every
  image kept needs one.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from ganforge.data.attributes import find_attribute_file, image_key, read_attribute_file, select_attributes
from ganforge.data.caption_files import index_captions, missing_caption, read_caption_files
from ganforge.errors import UserError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
COLOUR_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}
PROGRESS_ABOVE = 2000  # images; smaller folders load in a moment


def find_images(root: Path) -> list[Path]:
    """Image files under root (recursive, hidden entries skipped), sorted by relative path."""
    found = []
    for p in root.rglob("*"):
        hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
        if p.suffix.lower() in IMAGE_EXTENSIONS and not hidden and p.is_file():
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _to_8bit(img: Image.Image) -> Image.Image:
    """Images with more than 8 bits per channel (I;16, I, F) as mode L, scaled rather than clipped."""
    a = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and a.size and a.max() > 255):
        a = a.astype(np.float64) / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def _normalise_mode(img: Image.Image, colour: bool) -> Image.Image:
    """img as "RGB" (colour) or "L", with transparency composited onto white."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    if img.mode == "P" or img.mode == "PA" or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB" if colour else "L")


def _resize_crop(img: Image.Image, resolution: int) -> Image.Image:
    """Resize so the short side is `resolution`, then cut the central resolution x resolution square."""
    w, h = img.size
    if min(w, h) != resolution:
        scale = resolution / min(w, h)
        w, h = max(resolution, round(w * scale)), max(resolution, round(h * scale))
        img = img.resize((w, h), Image.Resampling.LANCZOS)
    if (w, h) != (resolution, resolution):
        left, top = (w - resolution) // 2, (h - resolution) // 2
        img = img.crop((left, top, left + resolution, top + resolution))
    return img


def describe_crop(sizes: dict[tuple[int, int], int], resolution: int) -> str | None:
    """One line on what _resize_crop does to the non-square images among `sizes` ((width, height) -> count):
    the most common such size in pixels, the others counted; None where every image is square."""
    oblong = {size: n for size, n in sizes.items() if size[0] != size[1]}
    if not oblong:
        return None
    (w, h), n = max(oblong.items(), key=lambda item: (item[1], item[0]))
    scale = resolution / min(w, h)
    rw, rh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    long, sides = (rw, ("left", "right")) if rw > rh else (rh, ("top", "bottom"))
    first = (long - resolution) // 2
    cut = f"{first} px cut from its {sides[0]} and {long - resolution - first} from its {sides[1]}"
    resized = f"resized to {rw}x{rh} and " if (rw, rh) != (w, h) else ""
    others = sum(oblong.values()) - n
    more = (f"; {others:,} more of {len(oblong) - 1} other non-square size{'s' * (len(oblong) > 2)} are cropped "
            "likewise" if others else "")
    every = "all " if n == sum(sizes.values()) and n > 1 else ""
    return (f"{every}{n:,} image{'s are' if n > 1 else ' is'} {w}x{h}: each is {resized}centre-cropped to "
            f"{resolution}x{resolution}, {cut}{more}; crop the files yourself to keep another part")


def decode_image(path: Path, channels: int | None, resolution: int | None,
                 sizes: Counter | None = None) -> np.ndarray:
    """One image as an H x W x C uint8 array (C = 1 or 3; C follows the file when channels is None).
    With resolution None the image keeps its size. Raises the underlying error for a bad file. `sizes`
    counts the image's (width, height) as read, before any resizing (what the crop note describes)."""
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its pixel limit; treat that as too large as well.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here
            img = ImageOps.exif_transpose(img)
            colour = img.mode in COLOUR_MODES if channels is None else channels == 3
            img = _normalise_mode(img, colour)
            if sizes is not None:
                sizes[img.size] += 1
            if resolution is not None:
                img = _resize_crop(img, resolution)
            a = np.asarray(img)
    return a[:, :, None] if a.ndim == 2 else a


def _decodes(path: Path, channels: int | None, resolution: int | None) -> bool:
    """Whether decode_image reads path without an error."""
    try:
        decode_image(path, channels, resolution)
    except Exception:  # noqa: BLE001 - Pillow's plugins raise many types on malformed files
        return False
    return True


def bad_file_reason(exc: Exception) -> str:
    """A one-line reason for a file that could not be decoded."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return (f"too large to decode safely (over Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels); "
                "downscale it")
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image Pillow can read"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"cannot be decoded ({text})"


@dataclass
class FolderImages:
    """What load_image_folder decodes from a folder."""

    x: torch.Tensor  # uint8 N x C x H x W
    y: torch.Tensor | None  # int64 (N,) class labels from the immediate subfolders, or None
    class_names: list[str] | None
    skipped: int  # bad files skipped under on_bad_file="skip"
    attributes: torch.Tensor | None = None  # float32 N x A, 0/1, rows aligned with x; None without a file
    attr_names: list[str] | None = None  # the A attribute names, in column order
    attr_file: Path | None = None  # the attribute file read
    skipped_files: list[str] = field(default_factory=list)  # "relative/path: reason" of each skipped file
    # captions.csv or .txt files beside the images (caption_files.py): each image's caption indices (int64
    # N x K, -1 padded) into the distinct captions; None without captions
    captions: torch.Tensor | None = None
    caption_texts: list[str] | None = None
    sizes: Counter = field(default_factory=Counter)  # (width, height) as read -> images, before resizing


def _attribute_rows(root: Path, paths: list[Path], wanted: list[str] | None):
    """(attribute file, names kept, one row of kept values or None per path); all None without a file."""
    attr_file = find_attribute_file(root)
    if attr_file is None:
        if wanted:
            raise UserError(f"data.attributes is set but {root} has no attribute file; put attributes.csv "
                            "(file,name1,name2,...) in the image folder")
        return None, None, [None] * len(paths)
    names, table = read_attribute_file(attr_file)
    columns = select_attributes(names, list(wanted or []), attr_file)
    rows = []
    for path in paths:
        row = table.get(image_key(path.relative_to(root).as_posix()))
        rows.append(None if row is None else [row[c] for c in columns])
    return attr_file, [names[c] for c in columns], rows


def _no_row(path: Path, root: Path, attr_file: Path) -> UserError:
    return UserError(f"{path}: no row for this image in the attribute file {attr_file}; add a row "
                     f"{path.relative_to(root).as_posix()},... (its path relative to {root}) or move the "
                     "image out of the folder")


def load_image_folder(
    root: Path, resolution: int | None = None, channels: int | None = None, on_bad_file: str = "error", *,
    attributes: list[str] | None = None, captions: bool = True,
) -> FolderImages:
    """Decode every image under root (see FolderImages for what comes back). Bad files raise a UserError
    unless on_bad_file == "skip". With channels None, the result is RGB if any image is colour, else gray.
    When the folder has an attribute file, every image kept needs a row in it (rows for other images are
    ignored); `attributes` names the columns kept, in that order (None or empty: all). A non-empty
    `attributes` without an attribute file is a UserError. `captions` False leaves the folder's captions unread
    (a family that does not read them does not need one for every image)."""
    paths = find_images(root)
    if not paths:
        raise UserError(f"{root}: no IDX files or images found (looked for *-images-idx3-ubyte[.gz] and, "
                        f"recursively, {' '.join(sorted(IMAGE_EXTENSIONS))} files); give a folder of images "
                        "or of MNIST-style IDX files")
    # Labels from immediate subfolders, but only when no image sits directly in root.
    tops = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None for p in paths]
    class_names = sorted(set(tops)) if None not in tops else None
    class_index = {name: i for i, name in enumerate(class_names or [])}
    attr_file, attr_names, attr_rows = _attribute_rows(root, paths, attributes)
    if attr_file is not None and on_bad_file == "error" and None in attr_rows:
        # Every image must decode, so every image needs a row: say so before the (long) decoding, unless
        # the image without a row is a bad file, which the loop reports as such.
        missing = paths[attr_rows.index(None)]
        if _decodes(missing, channels, resolution):
            raise _no_row(missing, root, attr_file)
    caption_table, caption_lists = read_caption_files(root, paths) if captions else (None, None)
    if caption_lists is not None and on_bad_file == "error" and None in caption_lists:
        missing = paths[caption_lists.index(None)]
        if _decodes(missing, channels, resolution):
            raise missing_caption(missing, root, caption_table)

    arrays, labels, kept_rows, kept_captions, skipped, size, sizes = [], [], [], [], [], None, Counter()
    bar = tqdm(paths, desc=f"reading {root.name or root}", unit="img", file=sys.stderr,
               disable=None if len(paths) > PROGRESS_ABOVE else True)
    for path, top, row, said in zip(bar, tops, attr_rows, caption_lists or [None] * len(paths)):
        try:
            a = decode_image(path, channels, resolution, sizes)
        except Exception as exc:  # Pillow's plugins raise many types on malformed files
            if on_bad_file == "skip":
                skipped.append(f"{path.relative_to(root).as_posix()}: {bad_file_reason(exc)}")
                continue
            raise UserError(f"{path}: {bad_file_reason(exc)}; fix or delete it, or pass "
                            "--set data.on_bad_file=skip to skip bad files") from exc
        if resolution is None:
            # Without a resolution every image must already have the same square size.
            size = size or a.shape[:2]
            if a.shape[0] != a.shape[1] or a.shape[:2] != size:
                raise UserError(f"{path}: is {a.shape[1]}x{a.shape[0]}, but without data.resolution all "
                                "images must be square and the same size (the first is "
                                f"{size[1]}x{size[0]}); set data.resolution to resize and crop them")
        if attr_file is not None:
            if row is None:
                raise _no_row(path, root, attr_file)
            kept_rows.append(row)
        if caption_lists is not None:
            if said is None:
                raise missing_caption(path, root, caption_table)
            kept_captions.append(said)
        arrays.append(a)
        if class_names is not None:
            labels.append(class_index[top])
    bar.close()
    if not arrays:
        raise UserError(f"{root}: none of the {len(paths)} image files could be read; check the files")

    if channels is None and any(a.shape[2] == 3 for a in arrays):
        arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.int64) if class_names is not None else None
    attrs = None
    if attr_file is not None:
        attrs = torch.tensor(kept_rows, dtype=torch.float32).reshape(len(kept_rows), len(attr_names))
    texts, captions = index_captions(kept_captions) if kept_captions else (None, None)
    return FolderImages(x, y, class_names, len(skipped), attrs, attr_names, attr_file, skipped, captions, texts,
                        sizes)
