"""Folders of image files (PNG, JPEG, ...), or archives of them, decoded once into one uint8 tensor.

Choices, so results do not depend on the operating system or on file quirks:
- files are found recursively and sorted by relative path; hidden files and folders (".name", such as
  macOS "._x.png" metadata) are ignored; a .zip or .tar(.gz) archive reads as the folder it holds, without
  unpacking it (archives.py);
- class labels come from StyleGAN's dataset.json when the folder has one (dataset_json.py), else from the
  immediate subfolders when every image sits in one of them;
- EXIF orientation is applied, so photos come out the way viewers show them;
- transparency is composited onto white (transparent sprites and icons are usually drawn for a light
  background), palette images go through RGBA so their transparency is kept;
- 16-bit images are scaled to 8 bits (Pillow's own conversion would clip them);
- images are fitted to the resolution as data.aspect says (fitting.py: centre-cropped squares by default,
  Lanczos resizing);
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
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from ganforge.data.archives import (
    IMAGE_EXTENSIONS,
    ImageTree,
    find_images,
    open_tree,
)
from ganforge.data.attributes import image_key, read_attribute_file, select_attributes
from ganforge.data.caption_files import index_captions, missing_caption, read_caption_files
from ganforge.data.dataset_json import DATASET_JSON, read_labels
from ganforge.data.fitting import describe_fit, fit_image, keep_size, target_size
from ganforge.errors import UserError

COLOUR_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}
PROGRESS_ABOVE = 2000  # images; smaller folders load in a moment
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
TRANSLATION_FOLDERS = ({"A", "B"}, {"trainA", "trainB"})  # pairs.py's layouts, read from folders only


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


def describe_crop(sizes: dict[tuple[int, int], int], resolution: int) -> str | None:
    """The note on what the centre crop to resolution x resolution does to the non-square images of `sizes`
    ((width, height) -> count); None where every image is square (fitting.describe_fit)."""
    return describe_fit(sizes, (resolution, resolution), "crop")


def decode_image(path: Path | IO[bytes], channels: int | None, resolution: int | tuple[int, int] | None,
                 sizes: Counter | None = None, aspect: str = "crop") -> np.ndarray:
    """One image (a file, or a binary stream from an archive) as an H x W x C uint8 array (C = 1 or 3; C follows
    the file when channels is None). `resolution`: a side (a square) or (width, height), the image fitted to it
    as `aspect` says (fitting.py); None keeps its size (padded to a square under pad). Raises the underlying error
    for a bad file. `sizes` counts the image's (width, height) as read, before any resizing (what the notes
    describe)."""
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
            side = resolution[0] if isinstance(resolution, tuple) else resolution
            size = resolution if isinstance(resolution, tuple) else target_size(*img.size, side, aspect)
            img = fit_image(img, size, aspect)
            a = np.asarray(img)
    return a[:, :, None] if a.ndim == 2 else a


def input_images(source: Path) -> list[Path]:
    """The image files a command's --input names: the file itself, or every image in a folder (recursively, in
    name order); a missing path or a folder without images is a UserError."""
    if not source.exists():
        raise UserError(f"--input {source}: no such file or folder")
    if not source.is_dir():
        return [source]
    files = find_images(source)
    if not files:
        raise UserError(f"--input {source}/ holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def image_size(path: Path | IO[bytes]) -> tuple[int, int]:
    """(width, height) of an image as decode_image reads it (EXIF rotation applied), from its header alone."""
    with Image.open(path) as img:
        w, h = img.size
        return (h, w) if img.getexif().get(0x0112) in ROTATED else (w, h)


def first_image_size(tree: ImageTree) -> tuple[int, tuple[int, int]] | None:
    """(index, size) of the first image of `tree` (by path) whose header reads, or None."""
    for i in range(len(tree.names)):
        try:
            with tree.image(i) as source:
                return i, image_size(source)
        except Exception:  # noqa: BLE001, S112 - a bad file is reported by the loader, with its name
            continue
    return None


def _decodes(tree: ImageTree, i: int, channels: int | None, resolution, aspect: str) -> bool:
    """Whether decode_image reads image i of `tree` without an error."""
    try:
        with tree.image(i) as source:
            decode_image(source, channels, resolution, aspect=aspect)
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
    """What load_image_folder decodes from a folder or an archive."""

    x: torch.Tensor  # uint8 N x C x H x W
    y: torch.Tensor | None  # int64 (N,) class labels (dataset.json, or the immediate subfolders), or None
    class_names: list[str] | None
    skipped: int  # bad files skipped under on_bad_file="skip"
    attributes: torch.Tensor | None = None  # float32 N x A, 0/1, rows aligned with x; None without a file
    attr_names: list[str] | None = None  # the A attribute names, in column order
    attr_file: Path | str | None = None  # the attribute file read ("archive.zip:attributes.csv" inside an archive)
    skipped_files: list[str] = field(default_factory=list)  # "relative/path: reason" of each skipped file
    # captions.csv or .txt files beside the images (caption_files.py): each image's caption indices (int64
    # N x K, -1 padded) into the distinct captions; None without captions
    captions: torch.Tensor | None = None
    caption_texts: list[str] | None = None
    sizes: Counter = field(default_factory=Counter)  # (width, height) as read -> images, before resizing
    notes: list[str] = field(default_factory=list)  # what reading decided that the user may not expect


def _attribute_rows(tree: ImageTree, wanted: list[str] | None):
    """(attribute file, names kept, one row of kept values or None per image); all None without a file."""
    found = tree.attribute_file()
    if found is None:
        if wanted:
            raise UserError(f"data.attributes is set but {tree.root} has no attribute file; put attributes.csv "
                            f"(file,name1,name2,...) in the image {tree.kind}")
        return None, None, [None] * len(tree.names)
    attr_file, data = found
    names, table = read_attribute_file(attr_file, data)
    columns = select_attributes(names, list(wanted or []), attr_file)
    rows = []
    for name in tree.names:
        row = table.get(image_key(name))
        rows.append(None if row is None else [row[c] for c in columns])
    return attr_file, [names[c] for c in columns], rows


def _no_row(tree: ImageTree, name: str, attr_file: Path | str) -> UserError:
    return UserError(f"{tree.where(name)}: no row for this image in the attribute file {attr_file}; add a row "
                     f"{name},... ({tree.relative()}) or {tree.remedy}")


def _labels(tree: ImageTree) -> tuple[list[str] | None, list[int | None], Path | str | None, list[str]]:
    """(class names, each image's class or None, the dataset.json read or None, notes): StyleGAN's dataset.json
    when there is one with labels, else the immediate subfolders when every image sits in one."""
    tops = [name.split("/", 1)[0] if "/" in name else None for name in tree.names]
    subfolders = sorted(set(tops)) if None not in tops else None
    if tree.kind == "archive" and subfolders and any(pair <= set(subfolders) for pair in TRANSLATION_FOLDERS):
        raise UserError(f"{tree.root}: holds {' and '.join(f'{s}/' for s in subfolders)}, an image-to-image layout, "
                        "which ganforge reads from a folder only: unpack the archive and give its folder")
    data = tree.side(DATASET_JSON)
    by_name = read_labels(tree.where(DATASET_JSON), data) if data is not None else None
    if by_name is None:
        index = {name: i for i, name in enumerate(subfolders or [])}
        return subfolders, [index[t] if subfolders else None for t in tops], None, []
    rows = [by_name.get(image_key(name)) for name in tree.names]
    n_classes = max((r for r in rows if r is not None), default=0) + 1
    where, notes = tree.where(DATASET_JSON), []
    if subfolders:
        shown = ", ".join(subfolders[:3]) + (", ..." if len(subfolders) > 3 else "")
        notes.append(f"{where} labels the images ({n_classes:,} class{'es' * (n_classes != 1)} by index); the subfolders ({shown}) are not "
                     f"read as classes: delete {DATASET_JSON} to label them by subfolder")
    return [str(k) for k in range(n_classes)], rows, where, notes


def _no_label(tree: ImageTree, name: str, labels_file: Path | str) -> UserError:
    return UserError(f"{tree.where(name)}: no label for this image in {labels_file}; add [\"{name}\", <class>] to "
                     f"its labels ({tree.relative()}) or {tree.remedy}")


def load_image_folder(
    root: Path, resolution: int | None = None, channels: int | None = None, on_bad_file: str = "error", *,
    attributes: list[str] | None = None, captions: bool = True, aspect: str = "crop",
) -> FolderImages:
    """Decode every image under root, a folder or an archive (see FolderImages for what comes back), fitted to
    `resolution` as `aspect` says (fitting.py). Bad files raise a UserError unless on_bad_file == "skip". With
    channels None, the result is RGB if any image is colour, else gray. When the folder has an attribute file,
    every image kept needs a row in it (rows for other images are ignored); `attributes` names the columns kept,
    in that order (None or empty: all). A non-empty `attributes` without an attribute file is a UserError.
    `captions` False leaves the folder's captions unread (a family that does not read them does not need one for
    every image)."""
    with open_tree(root) as tree:
        return _load_tree(tree, resolution, channels, on_bad_file, attributes, captions, aspect)


def _load_tree(tree: ImageTree, resolution: int | None, channels: int | None, on_bad_file: str,
               attributes: list[str] | None, captions: bool, aspect: str) -> FolderImages:
    names, root = tree.names, tree.root
    if not names:
        if tree.kind == "archive":
            raise UserError(f"{root}: no images found in the archive (looked, recursively, for "
                            f"{' '.join(sorted(IMAGE_EXTENSIONS))} files); give an archive of images")
        raise UserError(f"{root}: no IDX files or images found (looked for *-images-idx3-ubyte[.gz] and, "
                        f"recursively, {' '.join(sorted(IMAGE_EXTENSIONS))} files); give a folder of images "
                        "or of MNIST-style IDX files")
    class_names, label_rows, labels_file, notes = _labels(tree)
    fit: int | tuple[int, int] | None = resolution
    if resolution is not None and aspect == "keep":  # one rectangle for all: the first image's aspect
        first = first_image_size(tree)
        fit = keep_size(*first[1], resolution) if first is not None else resolution
    attr_file, attr_names, attr_rows = _attribute_rows(tree, attributes)
    caption_table, caption_lists = read_caption_files(tree) if captions else (None, None)
    # each image needs its row, its label and its caption where the folder has a file of them
    needs = [(rows, error) for rows, error in (
        (attr_rows if attr_file is not None else None, lambda name: _no_row(tree, name, attr_file)),
        (label_rows if labels_file is not None else None, lambda name: _no_label(tree, name, labels_file)),
        (caption_lists, lambda name: missing_caption(tree, name, caption_table))) if rows is not None]
    if on_bad_file == "error":
        # Every image must decode, so every image needs them: say so before the (long) decoding, unless the
        # image without one is a bad file, which the loop reports as such.
        for rows, error in needs:
            if None in rows and _decodes(tree, rows.index(None), channels, fit, aspect):
                raise error(names[rows.index(None)])

    decoded: dict[int, np.ndarray] = {}
    skipped, size, sizes = [], None, Counter()
    bar = tqdm(tree.order(), desc=f"reading {root.name or root}", unit="img", file=sys.stderr,
               disable=None if len(names) > PROGRESS_ABOVE else True)
    for i in bar:  # in the order the images read fastest (an archive's own), kept in the order of their names
        name = names[i]
        try:
            with tree.image(i) as source:
                a = decode_image(source, channels, fit, sizes, aspect)
        except Exception as exc:  # Pillow's plugins raise many types on malformed files
            if on_bad_file == "skip":
                skipped.append(f"{name}: {bad_file_reason(exc)}")
                continue
            fix = "fix or delete it" if tree.kind == "folder" else f"fix it or {tree.remedy}"
            raise UserError(f"{tree.where(name)}: {bad_file_reason(exc)}; {fix}, or pass "
                            "--set data.on_bad_file=skip to skip bad files") from exc
        if resolution is None:
            # Without a resolution every image must already have the same size (square, unless fitting pads or
            # keeps the aspect).
            size = size or a.shape[:2]
            if (aspect == "crop" and a.shape[0] != a.shape[1]) or a.shape[:2] != size:
                shape = "square and the same size" if aspect == "crop" else "the same size"
                raise UserError(f"{tree.where(name)}: is {a.shape[1]}x{a.shape[0]}, but without data.resolution all "
                                f"images must be {shape} (the first is {size[1]}x{size[0]}); set data.resolution "
                                "to resize and crop them")
        for rows, error in needs:
            if rows[i] is None:
                raise error(name)
        decoded[i] = a
    bar.close()
    if not decoded:
        raise UserError(f"{root}: none of the {len(names)} image files could be read; check the files")

    kept = sorted(decoded)
    arrays = [decoded[i] for i in kept]
    if channels is None and any(a.shape[2] == 3 for a in arrays):
        arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label_rows[i] for i in kept], dtype=torch.int64) if class_names is not None else None
    attrs = None
    if attr_file is not None:
        attrs = torch.tensor([attr_rows[i] for i in kept], dtype=torch.float32).reshape(len(kept), len(attr_names))
    texts, captions = index_captions([caption_lists[i] for i in kept]) if caption_lists is not None else (None, None)
    skipped.sort()
    return FolderImages(x, y, class_names, len(skipped), attrs, attr_names, attr_file, skipped, captions, texts,
                        sizes, notes)
