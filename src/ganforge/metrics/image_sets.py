"""`ganforge eval --real A --fake B`: two image sets (dataset names, image or IDX folders, .npz files)
compared with the same metrics and protocol as a run's samples, like pytorch-fid's command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import UserError
from ganforge.metrics.features import extractor_protocol
from ganforge.metrics.scoring import (
    DEFAULT_METRICS,
    DEFAULT_N,
    choose_metrics,
    default_n,
    extractor_for,
    merge_json,
    parse_metrics,
    score_images,
)
from ganforge.wording import plural


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 N x C x H x W
    name: str  # "npz:<path>", "folder:<path>", a dataset name
    which: str | None  # the split read, or words saying the source has none
    protocol: dict = field(default_factory=dict)  # how the images were read, where that is worth saying
    notes: list[str] = field(default_factory=list)


def load_image_set(spec: str, n: int | None, split: str | None = "test", fit: int | None = None) -> ImageSet:
    """The first `n` (None: all) images of a dataset name, an image or IDX folder, or an .npz. `split` None:
    the test split where there is one, without asking which. `fit`: a folder's images are resized (short side)
    and centre-cropped to fit x fit, as training does, and unreadable files are skipped with a note.

    An .npz holds one uint8 array (under "x" as `ganforge sample` writes it, or alone), N x C x H x W or
    N x H x W x C with C = 1 or 3, or N x H x W.
    """
    from ganforge.data import DATASET_NAMES, load_dataset

    if spec.lower().endswith(".npz"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UserError(f"{path}: no such file; give an .npz written by `ganforge sample --out FILE.npz`")
        try:
            with np.load(path, allow_pickle=False) as data:  # never unpickle a user file
                keys = list(data.keys())
                x = data["x"] if "x" in keys else data[keys[0]] if len(keys) == 1 else None
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: not a readable .npz file ({e})") from None
        if x is None:
            raise UserError(f"{path}: holds {', '.join(keys)}; expected one array or one named 'x'")
        got = ImageSet(_as_nchw_uint8(torch.from_numpy(np.ascontiguousarray(x)), path), f"npz:{path}",
                       "the whole file (no split)")
    else:
        options = {} if fit is None or spec in DATASET_NAMES else {"resolution": fit, "on_bad_file": "skip"}
        ds = load_dataset(spec, split=split or "test", **options)
        if ds.kind != "image":
            raise UserError(f"{spec} is toy data; --real and --fake compare image sets")
        got = ImageSet(ds.x, ds.name, split)
        if split is not None and not _has_split(spec, split, ds.x, options):
            kind = "folder" if ds.name.startswith(("folder:", "idx:")) else "dataset"
            got.which = f"the whole {kind} (no {split} split)"
        if options:
            got.protocol["real_size"] = (f"resized so the short side is {fit} px and centre-cropped to {fit}x{fit}, "
                                         "the generated images' size, as training does")
        if ds.skipped:
            got.notes.append(f"skipped {plural(ds.skipped, 'unreadable file')} of {spec}")
            got.protocol["real_skipped"] = [*ds.skipped_files]
    if len(got.images) < 2:
        raise UserError(f"{spec}: holds {len(got.images)} image(s); at least 2 are needed")
    got.images = got.images[:n]
    return got


def _has_split(spec: str, split: str, images: torch.Tensor, options: dict) -> bool:
    """Whether `spec`'s other split holds other images (an image folder gives the same images for both)."""
    from ganforge.data import load_dataset

    try:
        other = load_dataset(spec, split="train" if split == "test" else "test", **options).x
    except UserError:  # the other split's files are missing: they would be other files
        return True
    return not (other.shape == images.shape and torch.equal(other, images))


def _as_nchw_uint8(x: torch.Tensor, path: Path) -> torch.Tensor:
    if x.dtype != torch.uint8:
        raise UserError(f"{path}: images must be uint8 (0..255), got {x.dtype}; save them as `ganforge sample` does")
    if x.dim() == 3:
        x = x[:, None]
    elif x.dim() == 4 and x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise UserError(f"{path}: expected N x C x H x W images with C = 1 or 3, got shape {tuple(x.shape)}")
    return x.contiguous()


def evaluate_sets(real_spec: str, fake_spec: str, metrics: str | tuple[str, ...] | None = None,
                  n: int | None = None, split: str = "test", extractor_name: str = "auto",
                  inception_path: str | None = None, device: str = "cpu", out: Path | None = None,
                  progress: bool = True) -> dict:
    """Compare two image sets (dataset names, folders or .npz files); merge the result into `out` if given.

    `n` None: as many of each as the smaller set holds, up to 10,000. `metrics` None: fid, kid, pr, dc, or
    swd and nn where no feature extractor can be had (the result's "notes" say so)."""
    requested = None if metrics is None else parse_metrics(metrics)
    from ganforge.data import DATASET_NAMES

    named = real_spec in DATASET_NAMES  # read as it is, and first: its errors come before the fake set's
    reference = load_image_set(real_spec, n, split) if named else None
    generated = load_image_set(fake_spec, n, None)
    fake, fake_name = generated.images, generated.name
    if reference is None:  # a folder of other sizes is read as training reads it: at the samples' size
        square = fake.shape[-1] == fake.shape[-2]
        reference = load_image_set(real_spec, n, split, fit=fake.shape[-1] if square else None)
    real, real_name, which = reference.images, reference.name, reference.which
    if n is None:  # equal sets by default: the larger is cut to the smaller's size, up to DEFAULT_N
        size = default_n(None, min(len(real), len(fake)))
        real, fake = real[:size], fake[:size]
    metrics, chosen, notes = choose_metrics(requested, DEFAULT_METRICS, extractor_name, real_name, inception_path)
    if real.shape[1:] != fake.shape[1:] and any(m in ("swd", "nn") for m in metrics):
        raise UserError(f"swd and nn compare pixels: the sets differ in image size, {tuple(real.shape[1:])} "
                        f"vs {tuple(fake.shape[1:])}")
    extractor = extractor_for(metrics, extractor_name, real_name, inception_path, device)
    panel = Path(out).with_name("nearest.png") if out else None
    values, protocol = score_images(real, fake, metrics, extractor, None, panel, progress)
    notes = reference.notes + notes + protocol.get("warnings", [])
    counts = (f"{len(fake):,} against {len(real):,}: as many of each as the smaller set holds, up to "
              f"{DEFAULT_N:,} (the default; --n N to choose)") if n is None else \
        f"--n {n:,}: the first {n:,} of each set, or all there are ({len(fake):,} fake, {len(real):,} real)"
    protocol = {**extractor_protocol(extractor), "real": real_name, "fake": fake_name, "n_real": len(real),
                "n_fake": len(fake), "n": counts, "split": which, **reference.protocol, **chosen, **protocol}
    result = {"values": values, "protocol": protocol, "time": datetime.now().isoformat(timespec="seconds")}
    written = []
    if out:
        written.append(merge_json(Path(out), result))
        if "nn" in metrics:
            written.append(panel)
    return {**result, "notes": notes, "written": [str(p) for p in written]}
