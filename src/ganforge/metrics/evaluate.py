"""Evaluate a run: draw samples, extract features, compare with cached reference features of the real data.

Every result carries its protocol (extractor and its sha1, sample counts, split, preprocessing, checkpoint
step), so a number can be placed beside a published one or found not comparable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ganforge import viz
from ganforge.errors import UserError
from ganforge.metrics import frechet, kid, prdc
from ganforge.metrics.classifier import SHIPPED, WEIGHTS_DIR, load_classifier

METRICS = ("fid", "kid", "pr", "dc")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GANFORGE_CACHE", Path(base) / "ganforge"))


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ClassifierExtractor:
    """128-d penultimate features of a shipped domain classifier: a fast Frechet distance for 28x28 data."""

    dataset: str
    batch_size: int = 1000
    device: str = "cpu"

    def __post_init__(self):
        self.model, self.meta = load_classifier(self.dataset)
        self.model.to(self.device)
        self.name = f"{self.dataset}-classifier"
        self.sha1 = sha1_of(WEIGHTS_DIR / f"{SHIPPED[self.dataset]}.safetensors")
        self.preprocess = "uint8 -> [-1, 1], 28x28, 1 channel, no resize"

    @torch.no_grad()
    def features(self, images: torch.Tensor, progress: bool = False) -> torch.Tensor:
        if images.shape[1:] != (1, 28, 28):
            raise UserError(f"the {self.name} extractor needs 1 x 28 x 28 images, got {tuple(images.shape[1:])}; "
                            "use --extractor inception")
        out = []
        for part in tqdm(viz.to_uint8(images).split(self.batch_size), desc=self.name, disable=not progress):
            x = part.to(self.device).float().div_(127.5).sub_(1.0)
            out.append(self.model.features(x).float().cpu())
        return torch.cat(out)


def build_extractor(name: str, dataset_name: str, inception_path: str | None = None, device: str = "cpu"):
    """'classifier' (the domain classifier matching the data) or 'inception' (the standard FID network)."""
    if name == "inception":
        from ganforge.metrics.inception import InceptionExtractor

        return InceptionExtractor(inception_path, device=device)
    if name == "classifier":
        family = "fashion-mnist" if dataset_name.startswith("fashion-mnist") else dataset_name
        if family not in SHIPPED:
            raise UserError(f"no domain classifier for dataset '{dataset_name}' (have: {', '.join(SHIPPED)}); "
                            "use --extractor inception")
        return ClassifierExtractor(family, device=device)
    raise UserError(f"unknown extractor '{name}'; use classifier or inception")


def images_sha1(images: torch.Tensor) -> str:
    """sha1 of a tensor's shape, dtype and bytes: the cache key of its features."""
    h = hashlib.sha1(f"{tuple(images.shape)} {images.dtype}".encode())
    h.update(images.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def cached_features(images: torch.Tensor, extractor, progress: bool = False, chunk: int = 1000) -> torch.Tensor:
    """Features of `images`, cached on disk, keyed by the images' content and the extractor's sha1.

    The key is the content, not a dataset name, so the same images read from another path share one entry,
    and changed images never hit a stale one. Work is saved every `chunk` images, so a long extraction
    (Inception on a CPU: minutes per thousand) that is interrupted resumes where it stopped.
    """
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
            for b in range(lo, min(lo + chunk, len(images)), step):
                done.append(extractor.features(images[b : b + step]))
                bar.update(len(done[-1]))
            if lo + chunk < len(images):
                _save_features(torch.cat(done), partial)
    feats = torch.cat(done) if done else extractor.features(images[:0])
    _save_features(feats, path)
    partial.unlink(missing_ok=True)
    return feats


def _save_features(feats: torch.Tensor, path: Path) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    save_file({"features": feats.contiguous()}, str(tmp))
    os.replace(tmp, path)


def reference_features(dataset, n: int, extractor, progress: bool = False) -> torch.Tensor:
    """Features of the first `n` real images of `dataset`, computed once (see `cached_features`)."""
    return cached_features(dataset.x[: min(n, len(dataset.x))], extractor, progress)


def compare(real: torch.Tensor, fake: torch.Tensor, metrics: tuple[str, ...] = METRICS) -> dict[str, float]:
    """The chosen metrics between two feature sets."""
    out: dict[str, float] = {}
    for name in metrics:
        if name == "fid":
            out["fid"] = frechet.fid_from_features(real, fake)
        elif name == "kid":
            size = min(1000, len(real), len(fake))
            out.update(kid.kernel_inception_distance(real, fake, subset_size=size))
        elif name == "pr":
            out.update(prdc.precision_recall(real, fake, k=3))
        elif name == "dc":
            out.update(prdc.density_coverage(real, fake, k=5))
        else:
            raise UserError(f"unknown metric '{name}'; choose from {', '.join(METRICS)}")
    return out


def evaluate_run(run_dir: Path, metrics: tuple[str, ...] = METRICS, n: int = 10_000, ref: str = "test",
                 extractor_name: str = "classifier", inception_path: str | None = None, seed: int = 0,
                 device: str = "auto", checkpoint: Path | None = None, progress: bool = True) -> dict:
    """Sample `n` images from a run, compare with `n` real images of the `ref` split; write eval.json."""
    from ganforge.sample import load_generator
    from ganforge.train.loop import load_data, read_run_config
    from ganforge.train.samples import generate

    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise UserError(f"unknown metric '{bad[0]}'; choose from {', '.join(METRICS)}")
    if ref not in ("train", "test"):
        raise UserError(f"--ref must be train or test, got '{ref}'")
    cfg = read_run_config(run_dir)
    family, data_info, step = load_generator(run_dir, checkpoint, device)
    if data_info["kind"] != "image":
        raise UserError(f"{run_dir} was trained on toy data; image metrics need an image run")
    cfg.data.split = ref
    real = load_data(cfg)
    device = str(next(family.parameters()).device)  # evaluation runs on the generator's device
    extractor = build_extractor(extractor_name, real.name, inception_path, device)
    real_feats = reference_features(real, n, extractor, progress)
    z = torch.randn(n, cfg.model.z_dim, generator=torch.Generator().manual_seed(seed))
    fake = viz.to_uint8(generate(family, z.to(device)).cpu())
    fake_feats = cached_features(fake, extractor, progress)
    values = compare(real_feats, fake_feats, tuple(metrics))
    result = {
        "values": values,
        "protocol": {
            "extractor": extractor.name, "extractor_sha1": extractor.sha1, "preprocess": extractor.preprocess,
            "n_real": len(real_feats), "n_fake": n, "dataset": real.name, "split": ref,
            "checkpoint_step": step, "seed": seed, "kid": "cubic polynomial kernel, 100 subsets of min(1000, n)",
            "pr_k": 3, "dc_k": 5, "quantised": "samples rounded to uint8 as saved, before feature extraction",
        },
        "time": datetime.now().isoformat(timespec="seconds"),
    }
    out = Path(run_dir) / "eval.json"
    tmp = out.with_name(".tmp-eval.json")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, out)
    return result
