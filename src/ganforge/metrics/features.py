"""Feature extractors for the metrics, and their features cached on disk.

An extractor is the Inception of FID (metrics/inception.py) or a shipped domain classifier
(metrics/classifier.py). Features are cached by the images' content and the extractor's sha1, so the real
data's features are computed once, whatever path the images were read from.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from tqdm import tqdm

from ganforge.errors import UserError
from ganforge.files import atomic_write
from ganforge.metrics.classifier import SHIPPED, ClassifierExtractor


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GANFORGE_CACHE", Path(base) / "ganforge"))


def classifier_for(dataset_name: str) -> str | None:
    """The shipped domain classifier for a dataset name ("mnist", "fashion-mnist-10k", ...), if there is one."""
    family = "fashion-mnist" if dataset_name.startswith("fashion-mnist") else dataset_name
    return family if family in SHIPPED else None


def build_extractor(name: str, dataset_name: str, inception_path: str | None = None, device: str = "cpu"):
    """'classifier' (the domain classifier matching the data), 'inception' (the standard FID network) or
    'auto' (the classifier where there is one, else Inception)."""
    if name == "auto":  # an Inception file given is an Inception wanted
        name = "classifier" if classifier_for(dataset_name) and inception_path is None else "inception"
    if name == "inception":
        from ganforge.metrics.inception import InceptionExtractor

        return InceptionExtractor(inception_path, device=device)
    if name == "classifier":
        family = classifier_for(dataset_name)
        if family is None:
            raise UserError(f"no domain classifier for dataset '{dataset_name}' (have: {', '.join(SHIPPED)}); "
                            "use --extractor inception")
        return ClassifierExtractor(family, device=device)
    raise UserError(f"unknown extractor '{name}'; use auto, classifier or inception")


def has_logits(extractor) -> bool:
    """The extractor also gives class logits (a domain classifier does; the FID Inception file has none)."""
    return callable(getattr(extractor, "logits", None))


def extractor_protocol(extractor) -> dict:
    """The extractor's entries of a protocol: its name, its weights' sha1 and its preprocessing."""
    if extractor is None:
        return {"extractor": "none (pixel metrics only)"}
    return {"extractor": extractor.name, "extractor_sha1": extractor.sha1, "preprocess": extractor.preprocess}


def images_sha1(images: torch.Tensor) -> str:
    """sha1 of a tensor's shape, dtype and bytes: the cache key of its features."""
    h = hashlib.sha1(f"{tuple(images.shape)} {images.dtype}".encode())
    h.update(images.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def cached_features(images: torch.Tensor, extractor, progress: bool = False, chunk: int = 1000,
                    cache: bool = True) -> torch.Tensor:
    """Features of `images`, cached on disk, keyed by the images' content and the extractor's sha1.

    The key is the content, not a dataset name, so the same images read from another path share one entry,
    and changed images never hit a stale one. Work is saved every `chunk` images, so a long extraction
    (Inception on a CPU: minutes per thousand) that is interrupted resumes where it stopped. `cache=False`:
    computed in the same batches, nothing read or written (samples scored once, during training).
    """
    if not cache:
        step = getattr(extractor, "batch_size", chunk)
        parts = [extractor.features(images[b : b + step]) for b in range(0, len(images), step)]
        return torch.cat(parts) if parts else extractor.features(images[:0])
    key = f"{len(images)}-{images_sha1(images)[:16]}-{extractor.name}-{extractor.sha1[:12]}"
    folder = cache_dir() / "features"
    path, partial = folder / f"{key}.safetensors", folder / f"{key}.partial.safetensors"
    if path.is_file():
        try:
            return load_file(str(path))["features"]
        except (OSError, SafetensorError, KeyError):  # a damaged cache entry is recomputed, never trusted
            path.unlink(missing_ok=True)
    done = []
    if partial.is_file():
        try:
            done = [load_file(str(partial))["features"]]
        except (OSError, SafetensorError, KeyError):
            partial.unlink(missing_ok=True)
    start = len(done[0]) if done else 0
    folder.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(images), initial=start, unit="img", desc=extractor.name, disable=not progress)
    with bar:
        step = min(chunk, getattr(extractor, "batch_size", chunk))  # the bar moves once per batch
        for lo in range(start, len(images), chunk):
            hi = min(lo + chunk, len(images))
            for b in range(lo, hi, step):  # a batch never crosses the chunk's end, so no image is done twice
                done.append(extractor.features(images[b : min(b + step, hi)]))
                bar.update(len(done[-1]))
            if lo + chunk < len(images):
                _save_features(torch.cat(done), partial)
    feats = torch.cat(done) if done else extractor.features(images[:0])
    _save_features(feats, path)
    partial.unlink(missing_ok=True)
    return feats


def _save_features(feats: torch.Tensor, path: Path) -> None:
    with atomic_write(path) as f:
        f.write(save({"features": feats.contiguous()}))


def reference_features(dataset, n: int, extractor, progress: bool = False) -> torch.Tensor:
    """Features of the first `n` real images of `dataset`, computed once (see `cached_features`)."""
    return cached_features(dataset.x[: min(n, len(dataset.x))], extractor, progress)
