"""`ganforge eval --real A --fake B`: two image sets (dataset names, image or IDX folders, .npz files)
compared with the same metrics and protocol as a run's samples, like pytorch-fid's command line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import UserError
from ganforge.metrics.features import extractor_protocol
from ganforge.metrics.scoring import DEFAULT_METRICS, extractor_for, merge_json, parse_metrics, score_images


def load_image_set(spec: str, n: int, split: str = "test") -> tuple[torch.Tensor, str]:
    """The first `n` images of a dataset name, an image or IDX folder, or an .npz: (uint8 N x C x H x W, name).

    An .npz holds one uint8 array (under "x" as `ganforge sample` writes it, or alone), N x C x H x W or
    N x H x W x C with C = 1 or 3, or N x H x W.
    """
    from ganforge.data import load_dataset

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
        images = _as_nchw_uint8(torch.from_numpy(np.ascontiguousarray(x)), path)
        name = f"npz:{path}"
    else:
        ds = load_dataset(spec, split=split)
        if ds.kind != "image":
            raise UserError(f"{spec} is toy data; --real and --fake compare image sets")
        images, name = ds.x, ds.name
    if len(images) < 2:
        raise UserError(f"{spec}: holds {len(images)} image(s); at least 2 are needed")
    return images[:n], name


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


def evaluate_sets(real_spec: str, fake_spec: str, metrics: tuple[str, ...] = DEFAULT_METRICS,
                  n: int | None = None, split: str = "test", extractor_name: str = "auto",
                  inception_path: str | None = None, device: str = "cpu", out: Path | None = None,
                  progress: bool = True) -> dict:
    """Compare two image sets (dataset names, folders or .npz files); merge the result into `out` if given."""
    metrics = parse_metrics(metrics)
    n = n or 10_000
    real, real_name = load_image_set(real_spec, n, split)
    fake, fake_name = load_image_set(fake_spec, n)
    if real.shape[1:] != fake.shape[1:] and any(m in ("swd", "nn") for m in metrics):
        raise UserError(f"swd and nn compare pixels: the sets differ in image size, {tuple(real.shape[1:])} "
                        f"vs {tuple(fake.shape[1:])}")
    extractor = extractor_for(metrics, extractor_name, real_name, inception_path, device)
    panel = Path(out).with_name("nearest.png") if out else None
    values, protocol = score_images(real, fake, metrics, extractor, None, panel, progress)
    protocol = {**extractor_protocol(extractor), "real": real_name, "fake": fake_name, "n_real": len(real),
                "n_fake": len(fake), "split": split, **protocol}
    result = {"values": values, "protocol": protocol, "time": datetime.now().isoformat(timespec="seconds")}
    written = []
    if out:
        written.append(merge_json(Path(out), result))
        if "nn" in metrics:
            written.append(panel)
    return {**result, "written": [str(p) for p in written]}
