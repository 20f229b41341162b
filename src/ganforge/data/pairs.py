"""Image-to-image data from the user's folders, in the layouts the pix2pix/CycleGAN tools made common.

- paired: A/ and B/ holding the same file names (the same relative paths; extensions may differ), for
  `data.split=train` either at the top or under train/, for `test` under test/;
- side by side (`data.layout=side_by_side`): every image holds A on its left half and B on its right (the
  "aligned" format of the pix2pix repository), at the top or under train/ and test/;
- unpaired: trainA/ and trainB/ (any names, any counts); testA/ and testB/ for `data.split=test`, measured as
  pairs where their names match; or any two folders (data.name: domain A, data.domain_b: domain B), which hold
  no test pairs.
Domain A becomes Dataset.inputs, domain B Dataset.x, as in the built-in tasks. Images are decoded as in
folder.py (bad files, EXIF, transparency, 16 bits); data.resolution fits each side to a square (data.aspect:
centre-cropped or padded), and without it every image of a side must have that side's first size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.fitting import fit_image, target_size
from ganforge.data.folder import bad_file_reason, decode_image, find_images
from ganforge.errors import UserError

LAYOUTS = ("auto", "side_by_side")


def translation_layout(path: Path, layout: str) -> str | None:
    """"paired", "side_by_side" or "unpaired" for a folder laid out for translation, else None."""
    if layout == "side_by_side":
        return "side_by_side"
    for top in (path, path / "train", path / "test"):
        if (top / "A").is_dir() and (top / "B").is_dir():
            return "paired"
    if (path / "trainA").is_dir() or (path / "testA").is_dir():
        return "unpaired"
    return None


def load_translation_folder(path: Path, layout: str, split: str, resolution: int | None, channels: int | None,
                            on_bad_file: str, aspect: str = "crop") -> dict:
    """The fields of an image-to-image Dataset (inputs, x, paired, skipped_files) from a folder in `layout`."""
    if layout == "unpaired":
        sides = [path / f"{split}A", path / f"{split}B"]
        _need_folders(sides, f"unpaired data reads {split}A/ and {split}B/")
        a, a_keys, skipped_a, _ = _decode_side(sides[0], channels, resolution, on_bad_file, aspect=aspect)
        b, b_keys, skipped_b, _ = _decode_side(sides[1], channels, resolution, on_bad_file, aspect=aspect)
        paired = split == "test" and a_keys == b_keys  # test images with matching names are measured as pairs
        return {"inputs": a, "x": b, "paired": paired, "skipped_files": skipped_a + skipped_b}
    top = path / split if (path / split).is_dir() else path
    if split == "test" and top == path:
        raise UserError(f"{path}: no test/ folder; put test pairs in {path / 'test'} to measure the run "
                        f"({'test/A/ and test/B/' if layout == 'paired' else 'side-by-side images'})")
    if layout == "side_by_side":
        both, _, skipped, _ = _decode_side(top, channels, resolution, on_bad_file, halves=True, aspect=aspect)
        return {"inputs": both[:, 0], "x": both[:, 1], "paired": True, "skipped_files": skipped}
    sides = [top / "A", top / "B"]
    _need_folders(sides, "paired data reads A/ and B/ with matching file names")
    for side in sides:
        _refuse_twins(side)
    a, a_keys, skipped_a, lost_a = _decode_side(sides[0], channels, resolution, on_bad_file, aspect=aspect)
    b, b_keys, skipped_b, lost_b = _decode_side(sides[1], channels, resolution, on_bad_file, aspect=aspect)
    skipped = skipped_a + skipped_b
    lost = set(lost_a) | set(lost_b)  # a pair goes with its bad half
    skipped += [f"{side / k}: its counterpart was skipped" for side, keys in ((sides[0], a_keys), (sides[1], b_keys))
                for k in keys if k in lost]
    # Pairs go by name, not by position: files sort by name with the extension, so x.png, x.pn.png on one side
    # and x.jpg, x.pn.jpg on the other come in different orders.
    a_at = {k: i for i, k in enumerate(a_keys) if k not in lost}
    b_at = {k: i for i, k in enumerate(b_keys) if k not in lost}
    if a_at.keys() != b_at.keys():
        alone = min(a_at.keys() ^ b_at.keys())
        where, other = (sides[0], sides[1]) if alone in a_at else (sides[1], sides[0])
        raise UserError(f"{where / alone}: has no counterpart in {other}; paired folders need the same file "
                        "names on both sides (or use trainA/ and trainB/ for unpaired data)")
    if not a_at:
        raise UserError(f"{top}: no pair could be read; check the files")
    order = list(a_at)  # A's order
    return {"inputs": a[torch.tensor([a_at[k] for k in order], dtype=torch.long)],
            "x": b[torch.tensor([b_at[k] for k in order], dtype=torch.long)], "paired": True,
            "skipped_files": skipped}


def load_two_folders(a: Path, b: Path, split: str, resolution: int | None, channels: int | None,
                     on_bad_file: str, aspect: str = "crop") -> dict:
    """Unpaired domains from two folders: every image under `a` (domain A) and under `b` (domain B)."""
    _need_folders([a, b], "data.name and data.domain_b each name a folder of one domain's images")
    if split == "test":
        raise UserError(f"data.domain_b: the folders {a} and {b} hold no test pairs to measure against; lay the "
                        "data out as trainA/, trainB/, testA/ and testB/ (test images with matching names)")
    inputs, _, skipped_a, _ = _decode_side(a, channels, resolution, on_bad_file, aspect=aspect)
    x, _, skipped_b, _ = _decode_side(b, channels, resolution, on_bad_file, aspect=aspect)
    return {"inputs": inputs, "x": x, "paired": False, "skipped_files": skipped_a + skipped_b}


def _refuse_twins(side: Path) -> None:
    """Paired images match by name without the extension, so x.png beside x.jpg pairs neither: say so before
    decoding."""
    seen: dict[str, Path] = {}
    for path in find_images(side):
        key = path.relative_to(side).with_suffix("").as_posix()
        if key in seen:
            raise UserError(f"{path}: {seen[key].name} beside it has the same name but another extension; paired "
                            "folders match images by name, so keep one of them")
        seen[key] = path


def _need_folders(folders: list[Path], what: str) -> None:
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder; {what}")


def _decode_side(root: Path, channels: int | None, resolution: int | None, on_bad_file: str,
                 halves: bool = False, aspect: str = "crop") -> tuple[torch.Tensor, list[str], list[str], list[str]]:
    """Every image under root as N x C x H x W uint8 (halves: N x 2 x C x H x W, each image's left and right
    half), the images' keys (relative paths without extension) in order, the skipped files' reasons and
    their keys."""
    paths = find_images(root)
    if halves:  # side-by-side images sit at the top, or under train/ and test/ beside them
        paths = [p for p in paths if len(p.relative_to(root).parts) == 1]
    if not paths:
        raise UserError(f"{root}: no images found; put the domain's image files there")
    arrays, keys, skipped, skipped_keys = [], [], [], []
    for path in paths:
        rel = path.relative_to(root)
        try:
            a = (decode_halves(path, channels, resolution, aspect) if halves else
                 decode_image(path, channels, resolution, aspect=aspect))
        except UserError:
            raise
        except Exception as exc:  # Pillow's plugins raise many types on malformed files
            if on_bad_file == "skip":
                skipped.append(f"{path}: {bad_file_reason(exc)}")
                skipped_keys.append(rel.with_suffix("").as_posix())
                continue
            raise UserError(f"{path}: {bad_file_reason(exc)}; fix or delete it, or pass "
                            "--set data.on_bad_file=skip to skip bad files") from exc
        if arrays and a.shape[:-1] != arrays[0].shape[:-1]:
            (h, w), (h0, w0) = a.shape[-3:-1], arrays[0].shape[-3:-1]
            raise UserError(f"{path}: is {w * (1 + halves)}x{h}, but {root}'s first image is {w0 * (1 + halves)}x{h0}; "
                            "set data.resolution to resize and crop them")
        arrays.append(a)
        keys.append(rel.with_suffix("").as_posix())
    if not arrays:
        raise UserError(f"{root}: none of the {len(paths)} image files could be read; check the files")
    if channels is None and any(a.shape[-1] == 3 for a in arrays):
        arrays = [np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a for a in arrays]
    x = torch.from_numpy(np.stack(arrays))
    return x.movedim(-1, -3).contiguous(), keys, skipped, skipped_keys


def decode_halves(path: Path, channels: int | None, resolution: int | None, aspect: str = "crop") -> np.ndarray:
    """A side-by-side image as 2 x H x W x C: its left half (A) and right half (B), each fitted to `resolution`
    as `aspect` says when given (padded to a square under pad when not)."""
    both = decode_image(path, channels, None)
    if both.shape[1] % 2:
        raise UserError(f"{path}: side-by-side images need an even width (A on the left half, B on the right), "
                        f"got {both.shape[1]} px")
    half = both.shape[1] // 2
    parts = [both[:, :half], both[:, half:]]
    if resolution is not None or aspect == "pad":
        parts = [Image.fromarray(p.squeeze(-1) if p.shape[-1] == 1 else p) for p in parts]
        parts = [np.asarray(fit_image(p, target_size(*p.size, resolution, aspect), aspect)) for p in parts]
        parts = [p[:, :, None] if p.ndim == 2 else p for p in parts]
    return np.stack(parts)
