"""Evaluate a run: draw samples, extract features, compare with cached reference features of the real data.

Every result carries its protocol (extractor and its sha1, sample counts, split, preprocessing, checkpoint
step), so a number can be placed beside a published one or found not comparable.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from tqdm import tqdm

from ganforge import viz
from ganforge.errors import UserError
from ganforge.files import atomic_write, write_text_atomic
from ganforge.metrics import frechet, kid, prdc
from ganforge.metrics.classifier import SHIPPED, ClassifierExtractor, load_classifier, sha1_of  # noqa: F401 - re-exported

# fid, kid, pr, dc compare extractor features (in the Inception's, the FID and KID; in a domain classifier's,
# the same distances are named fd_classifier and kd_classifier, since FID means the Inception's); "is" scores the samples' class predictions; swd compares pixel
# patches; nn finds each sample's nearest training image (a memorisation check); acc and intra_fid score
# class-conditional runs (the classifier's agreement with the requested class, FID within each class); cas and
# aug train a classifier on the samples (alone; added to a few real images) and test it on real images.
METRICS = ("fid", "kid", "pr", "dc", "is", "swd", "nn", "acc", "intra_fid", "cas", "aug")
ALIASES = {"fd": "fid", "kd": "kid", "intra_fd": "intra_fid"}  # --metrics fd: the Frechet distance, any features
FEATURE_METRICS = ("fid", "kid", "pr", "dc", "is", "intra_fid")  # the ones that need an extractor
# value-name prefixes of the scores in domain-classifier features (the Inception's keep the usual names)
CLASSIFIER_PREFIXES = (("intra_fid", "intra_fd_classifier"), ("fid", "fd_classifier"), ("kid_", "kd_classifier_"),
                       ("is_", "classifier_score_"))
CONDITIONAL_METRICS = ("acc", "intra_fid", "cas", "aug")
CONDITIONAL_DEFAULTS = ("acc", "intra_fid")  # added to the defaults for a class-conditional run (cas, aug: minutes)
AUG_REAL = 1000  # real labelled training images that the generated ones are added to
DEFAULT_METRICS = ("fid", "kid", "pr", "dc")
TOY_POINTS = 2500  # samples scored on toy mixtures, as in VEEGAN and PacGAN
NN_LOO_POINTS = 2000  # training images whose leave-one-out distance calibrates the memorisation score


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


def value_name(key: str, extractor) -> str:
    """The name a value is stored and printed under: FID and KID are the Inception's by definition, so the same
    distances in a domain classifier's features are fd_classifier, kd_classifier_mean, ..."""
    if extractor is None or getattr(extractor, "name", "").startswith("inception"):
        return key
    for old, new in CLASSIFIER_PREFIXES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def extractor_for(metrics: tuple[str, ...], name: str, dataset_name: str, inception_path: str | None,
                  device: str):
    """The feature extractor `metrics` need, or None: swd needs none, and nn works in pixel space alone when
    no extractor was asked for and the data has no domain classifier (no Inception file is needed)."""
    if any(m in FEATURE_METRICS for m in metrics):
        return build_extractor(name, dataset_name, inception_path, device)
    if "nn" in metrics and (name != "auto" or inception_path or classifier_for(dataset_name)):
        return build_extractor(name, dataset_name, inception_path, device)
    return None


def parse_metrics(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """'fid,kid' -> ("fid", "kid"), each checked against METRICS ("fd" and "kd" stand for fid and kid)."""
    names = tuple(m.strip() for m in text.split(",") if m.strip()) if isinstance(text, str) else tuple(text)
    names = tuple(dict.fromkeys(ALIASES.get(m, m) for m in names))
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise UserError(f"unknown metric '{bad[0] if bad else text}'; choose from {', '.join(METRICS)} "
                        "(fd and kd: the same as fid and kid)")
    return names


def compare(real: torch.Tensor, fake: torch.Tensor, metrics: tuple[str, ...] = DEFAULT_METRICS) -> dict[str, float]:
    """The feature metrics among `metrics` (fid, kid, pr, dc) between two feature sets."""
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
    return out


def score_images(real: torch.Tensor, fake: torch.Tensor, metrics: tuple[str, ...], extractor,
                 train: torch.Tensor | None = None, panel: Path | None = None,
                 progress: bool = False, cache_fake: bool = True) -> tuple[dict[str, float], dict]:
    """Every metric in `metrics` between uint8 image sets; returns (values, protocol entries).

    `train` is the set the nearest-neighbour check searches (the generator's training images; default
    `real`); `panel` is where the nearest-neighbour picture goes.
    """
    if "is" in metrics and not hasattr(extractor, "logits"):  # checked before minutes of feature extraction
        raise UserError("the FID Inception file has no logits, so it gives no Inception Score; "
                        "use --extractor classifier (MNIST, Fashion-MNIST) for the classifier score")
    values: dict[str, float] = {}
    protocol: dict = {}
    if any(m in ("fid", "kid", "pr", "dc") for m in metrics):
        real_feats = cached_features(real, extractor, progress)
        fake_feats = cached_features(fake, extractor, progress, cache=cache_fake)
        values.update(compare(real_feats, fake_feats, metrics))
        protocol.update(kid="cubic polynomial kernel, 100 subsets of min(1000, n)", pr_k=3, dc_k=5)
    if "is" in metrics:
        from ganforge.metrics.inception_score import inception_score

        values.update(inception_score(extractor.logits(fake)))
        values["is_real_mean"] = inception_score(extractor.logits(real))["is_mean"]  # the score's ceiling
        protocol["is"] = f"{extractor.name} logits, 10 splits; is_real_mean: the same score of the real images"
    if "swd" in metrics:
        from ganforge.metrics.swd import sliced_wasserstein

        m = min(len(real), len(fake))
        values.update(sliced_wasserstein(real[:m], fake[:m]))
        protocol["swd"] = (f"x1e3, Laplacian pyramid down to 16 px, 128 7x7 patches per image, 4 x 128 random "
                           f"directions, {m} images of each set")
    if "nn" in metrics:
        values.update(_nearest(fake, real if train is None else train, extractor, panel, progress))
        spaces = f"and in {extractor.name} feature space" if extractor is not None else "only (no extractor)"
        protocol["nn"] = (f"Euclidean nearest training image in pixel space ([0, 1]) {spaces}; calibrated by "
                          f"the leave-one-out distances of {NN_LOO_POINTS} training images: nn_ratio = median sample distance / median leave-one-out distance, copy_rate = "
                          "fraction of samples closer than the 5% closest training pairs (0.05 expected)")
    return {value_name(k, extractor): v for k, v in values.items()}, protocol


def _nearest(fake: torch.Tensor, train: torch.Tensor, extractor, panel: Path | None,
             progress: bool) -> dict[str, float]:
    from ganforge.metrics import nearest

    out: dict[str, float] = {}
    found = {}
    spaces = {"pixel": (fake.flatten(1).float() / 255, train.flatten(1).float() / 255)}
    if extractor is not None:
        spaces["feature"] = (cached_features(fake, extractor, progress), cached_features(train, extractor, progress))
    for space, (a, b) in spaces.items():
        dist, found[space] = nearest.nearest_neighbours(a, b)
        loo = nearest.leave_one_out_distances(b, n=NN_LOO_POINTS)
        out.update({f"nn_{space}_{k}": v for k, v in nearest.memorisation_score(dist, loo).items()})
    if panel is not None:
        nearest.save_nearest_panel(fake, train, found["pixel"], found.get("feature"), panel, n_show=24,
                                   upscale=2 if fake.shape[-1] < 64 else 1)
    return out


def merge_json(path: Path, result: dict) -> Path:
    """Add an evaluation to the results file at `path` without losing earlier metrics: "values" holds every
    metric's latest value, "evaluations" each evaluation with the values it still provides and its protocol,
    and "protocol"/"time" the latest one's. A file that cannot be read is replaced."""
    evaluations = []
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            evaluations = old.get("evaluations") or [{k: old[k] for k in ("values", "protocol", "time") if k in old}]
        except (OSError, ValueError, AttributeError):
            evaluations = []
    for entry in evaluations:  # values measured again now are the new evaluation's
        entry["values"] = {k: v for k, v in entry.get("values", {}).items() if k not in result["values"]}
    evaluations = [e for e in evaluations if e["values"]] + [result]
    merged = {k: v for e in evaluations for k, v in e["values"].items()}
    return write_json(path, {"values": merged, "protocol": result["protocol"], "time": result["time"],
                             "evaluations": evaluations})


def write_json(path: Path, data: dict) -> Path:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    return write_text_atomic(path, json.dumps(data, indent=1) + "\n")


def evaluate_run(run_dir: Path, metrics: tuple[str, ...] = DEFAULT_METRICS, n: int | None = None,
                 ref: str = "test", extractor_name: str = "auto", inception_path: str | None = None,
                 seed: int = 0, device: str = "auto", checkpoint: Path | None = None,
                 progress: bool = True) -> dict:
    """Sample a run and compare the samples with real data; write RUN_DIR/eval.json and return it.

    Image runs: `n` samples (default 10,000) against the first `n` images of the `ref` split. Toy runs:
    the mode metrics of VEEGAN / PacGAN on `n` points (default 2,500); `metrics` does not apply.
    """
    from ganforge import runs
    from ganforge.data.spec import training_labels
    from ganforge.nets.conditional import condition_vector

    metrics = parse_metrics(metrics)
    if ref not in ("train", "test"):
        raise UserError(f"--ref must be train or test, got '{ref}'")
    cfg = runs.read_config(run_dir)
    family, data_info, step = runs.load_family(run_dir, checkpoint, device)
    device = str(next(family.parameters()).device)  # evaluation runs on the generator's device
    by_class = family.conditional and not family.attributes
    if by_class and metrics == DEFAULT_METRICS:
        metrics = (*metrics, *CONDITIONAL_DEFAULTS)
    if not by_class and any(m in CONDITIONAL_METRICS for m in metrics):
        raise UserError("acc, intra_fid, cas and aug score class-conditional runs (model.condition with class labels); "
                        "drop them from --metrics")
    if data_info["kind"] == "video":  # rollouts against the true frames of generated test clips
        from ganforge.metrics.video import score_video_run

        if metrics != DEFAULT_METRICS:
            raise UserError("video runs are measured by per-frame mse, ssim and sharpness; drop --metrics")
        values, protocol = score_video_run(family, cfg, n, progress)
    elif data_info["kind"] != "image":
        n = n or TOY_POINTS
        values, protocol = _score_toy(family, cfg, data_info, n, seed, device)
    elif cfg.model.family == "text2image":  # samples drawn for captions, measured against what they say
        from ganforge.metrics.text import own_caption_matching, score_text_run

        if metrics != DEFAULT_METRICS:
            raise UserError("text2image runs are measured by class and attribute accuracy and caption matching; "
                            "drop --metrics")
        real = runs.load_data(runs.with_split(cfg, ref))
        if family.own_captions:
            values, protocol = own_caption_matching(family, real, n, seed, progress=progress)
        else:
            values, protocol = score_text_run(family, real, n, seed, progress)
    elif data_info.get("input_shape"):  # image-to-image: translations against their true targets
        from ganforge.metrics.translation_eval import score_translation

        if metrics != DEFAULT_METRICS:
            raise UserError("image-to-image runs are measured by l1, psnr, ssim and the domain classifier; "
                            "drop --metrics")
        values, protocol = score_translation(family, runs.load_data(runs.with_split(cfg, ref)), n, device)
    else:
        n = n or 10_000
        real = runs.load_data(runs.with_split(cfg, ref))
        extractor = extractor_for(metrics, extractor_name, real.name, inception_path, device)
        inputs = family.noise(n, torch.Generator().manual_seed(seed))
        labels = None
        if family.conditional:  # samples get the labels of the reference images, so the class mix matches
            labels = training_labels(real)
            labels = labels[torch.arange(n) % len(labels)]
            inputs["c"] = condition_vector(labels, family.n_cond)
        fake = viz.to_uint8(family.generator()({k: v.to(device) for k, v in inputs.items()}).cpu())
        train = None
        if "nn" in metrics:  # the images the generator was trained on
            train = runs.load_data(cfg).x if cfg.data.split != ref or cfg.data.holdout else real.x
        values, protocol = score_images(real.x[:n], fake, metrics, extractor, train,
                                        Path(run_dir) / "nearest.png", progress)
        if hasattr(family, "reconstruct"):  # autoencoders: the reference images through E and G
            values.update(reconstruction_scores(family, real.x[:n]))
            protocol["reconstruction"] = (f"recon_*: the first {min(n, len(real.x))} reference images through the "
                                          "encoder's mean code and the decoder, against themselves in [0, 1]; "
                                          "SSIM with an 11x11 Gaussian window, PSNR per image with data range 1")
        if by_class:
            few_real = None
            if "aug" in metrics:  # a seeded, class-balanced few of the training split, never the reference images
                pool = runs.load_data(runs.with_split(cfg, "train"))
                if pool.x.shape == real.x.shape and torch.equal(pool.x, real.x):
                    raise UserError(f"aug adds samples to real training images, and {real.name} has no split "
                                    f"apart from the reference images; drop aug from --metrics")
                few_real = runs.balanced_subset(pool, AUG_REAL, seed)
            values.update(conditional_scores(real, fake, labels, metrics, extractor, progress, few_real))
            features = extractor.name if extractor is not None else "extractor"
            protocol["conditional"] = ("samples generated for the classes of the first n reference images; acc: "
                                       "the domain classifier's label equals the requested class; class_coverage: "
                                       "classes given >= 1/(2K) of the samples; intra_fid: mean over classes of "
                                       f"the {features} FD within each class")
            if "cas" in metrics:
                protocol["cas"] = CAS_PROTOCOL
            if "aug" in metrics:
                protocol["aug"] = AUG_PROTOCOL
        protocol = {**extractor_protocol(extractor), "n_real": min(n, len(real.x)), "n_fake": n,
                    "dataset": real.name, "split": ref,
                    "quantised": "samples rounded to uint8 as saved, before feature extraction", **protocol}
    protocol.update(checkpoint_step=step, seed=seed)
    result = {"values": values, "protocol": protocol, "time": datetime.now().isoformat(timespec="seconds")}
    written = [merge_json(Path(run_dir) / "eval.json", result)]
    if "nn" in metrics and data_info["kind"] == "image":
        written.append(Path(run_dir) / "nearest.png")
    return {**result, "written": [str(p) for p in written]}


def reconstruction_scores(family, images: torch.Tensor, batch: int = 1000) -> dict[str, float]:
    """recon_l1, recon_psnr, recon_ssim of uint8 `images` against family.reconstruct(images), means over images."""
    from ganforge.metrics import translation as tm

    was_training = family.training
    family.eval()
    try:
        scores: dict[str, list[torch.Tensor]] = {"recon_l1": [], "recon_psnr": [], "recon_ssim": []}
        for part in images.split(batch):
            target = tm.to_unit(part)
            out = tm.to_unit(viz.to_uint8(family.reconstruct(part).cpu()))  # rounded as a saved image would be
            scores["recon_l1"].append(tm.l1(out, target))
            scores["recon_psnr"].append(tm.psnr(out, target))
            scores["recon_ssim"].append(tm.ssim(out, target))
    finally:
        family.train(was_training)
    return {k: float(torch.cat(v).mean()) for k, v in scores.items()}


def extractor_protocol(extractor) -> dict:
    """The extractor's entries of a protocol: its name, its weights' sha1 and its preprocessing."""
    if extractor is None:
        return {"extractor": "none (pixel metrics only)"}
    return {"extractor": extractor.name, "extractor_sha1": extractor.sha1, "preprocess": extractor.preprocess}


REAL_TRAIN_IMAGES = 60_000  # the train split the shipped domain classifiers learned from

CAS_PROTOCOL = ("Classification Accuracy Score (Ravuri and Vinyals 2019): ganforge's domain-classifier recipe "
                "(the shipped weights' shifts and optimiser steps: their epochs over the 60k train split) trained "
                "on the n generated samples and their requested classes only, accuracy on the whole real "
                "reference split")


AUG_PROTOCOL = (f"dataset augmentation: ganforge's domain-classifier recipe trained on {AUG_REAL:,} real training "
                "images (seeded, class-balanced), and on those plus the n generated samples with their requested "
                "classes, the same number of optimiser steps each; accuracy on the whole real reference split; "
                "aug_gain = aug_with_samples - aug_real_only, in points")


def _recipe_for(real, shape: tuple[int, ...], metric: str, seed: int, epochs: int | None = None):
    from ganforge.metrics.classifier import DEFAULT_EPOCHS, DEFAULT_SHIFT, Recipe

    family = classifier_for(real.name)
    if family is None or shape != (1, 28, 28):
        raise UserError(f"{metric} trains ganforge's classifier recipe, made for 28x28 MNIST and Fashion-MNIST; "
                        f"{real.name} is neither: drop {metric} from --metrics")
    return Recipe(family, epochs or DEFAULT_EPOCHS[family], max_shift=DEFAULT_SHIFT[family], seed=seed)


def classification_accuracy_score(fake: torch.Tensor, labels: torch.Tensor, real, seed: int = 0,
                                  progress: bool = False, epochs: int | None = None) -> float:
    """CAS: a classifier trained on generated images `fake` (uint8) labelled with their requested classes,
    tested on the real images of `real`. Near the real-data classifier's accuracy: the samples carry what the
    classes look like, as a training set."""
    import dataclasses
    import math

    from ganforge.metrics.classifier import accuracy, train_classifier

    recipe = _recipe_for(real, tuple(fake.shape[1:]), "cas", seed, epochs)
    if epochs is None:  # trained as the real-data classifier was: its optimiser steps, over the samples
        steps = recipe.epochs * math.ceil(REAL_TRAIN_IMAGES / recipe.batch_size)
        recipe = dataclasses.replace(recipe, epochs=max(1, round(steps / math.ceil(len(fake) / recipe.batch_size))))
    model = train_classifier(fake, labels, recipe, progress=progress)
    return accuracy(model, real.x, real.y)


def augmentation_gain(fake: torch.Tensor, labels: torch.Tensor, few_x: torch.Tensor, few_y: torch.Tensor, real,
                      seed: int = 0, progress: bool = False, epochs: int | None = None) -> dict[str, float]:
    """What generated samples add to a small labelled set: the classifier recipe trained on the real images
    `few_x` alone and on them plus the samples `fake` (labelled `labels`), for the same number of steps (the
    recipe's epochs over the larger set), each tested on the real images of `real`."""
    import dataclasses
    import math

    from ganforge.metrics.classifier import accuracy, train_classifier

    recipe = _recipe_for(real, tuple(fake.shape[1:]), "aug", seed, epochs)
    both_x, both_y = torch.cat([few_x, fake]), torch.cat([few_y, labels])
    steps = recipe.epochs * math.ceil(len(both_x) / recipe.batch_size)
    alone = dataclasses.replace(recipe, epochs=max(1, round(steps / math.ceil(len(few_x) / recipe.batch_size))))
    real_only = accuracy(train_classifier(few_x, few_y, alone, progress=progress), real.x, real.y)
    with_samples = accuracy(train_classifier(both_x, both_y, recipe, progress=progress), real.x, real.y)
    return {"aug_real_only": real_only, "aug_with_samples": with_samples,
            "aug_gain": 100 * (with_samples - real_only)}


def conditional_scores(real, fake: torch.Tensor, labels: torch.Tensor, metrics: tuple[str, ...], extractor,
                       progress: bool = False, few_real=None) -> dict[str, float]:
    """acc (class accuracy and coverage under the domain classifier), intra_fid, cas and aug (added to the
    labelled dataset `few_real`) of samples `fake` generated for classes `labels`, against the real dataset
    `real`."""
    from ganforge.metrics import conditional

    out: dict[str, float] = {}
    k = len(real.class_names)
    if "acc" in metrics:
        judge = extractor if hasattr(extractor, "logits") else None
        if judge is None:
            family = classifier_for(real.name)
            if family is None:
                raise UserError(f"acc needs a domain classifier, and there is none for {real.name} "
                                f"(have: {', '.join(SHIPPED)}); drop acc from --metrics")
            judge = ClassifierExtractor(family, device=getattr(extractor, "device", "cpu"))
        out.update(conditional.class_agreement(judge.logits(fake).argmax(1), labels, k))
    if "cas" in metrics:
        out["cas"] = classification_accuracy_score(fake, labels, real, progress=progress)
    if "aug" in metrics:
        out.update(augmentation_gain(fake, labels, few_real.x, few_real.y, real, progress=progress))
    if "intra_fid" in metrics:
        n = len(fake)
        real_feats = cached_features(real.x[:n], extractor, progress)
        out.update(conditional.intra_fid(real_feats, real.y[:n], cached_features(fake, extractor, progress),
                                         labels, k))
    return {value_name(k, extractor): v for k, v in out.items()}


def _score_toy(family, cfg, data_info: dict, n: int, seed: int, device: str) -> tuple[dict, dict]:
    from ganforge.metrics.toy import mode_metrics

    if data_info["modes"] is None:
        raise UserError(f"{data_info['name']} has no mode centres to score against")
    inputs = family.noise(n, torch.Generator().manual_seed(seed))
    points = family.generator()({k: v.to(device) for k, v in inputs.items()}).cpu()
    values = mode_metrics(points, torch.tensor(data_info["modes"], dtype=torch.float32), data_info["sigma"])
    protocol = {"dataset": data_info["name"], "n_fake": n, "high_quality": "within 3 sigma of the nearest mode",
                "modes": len(data_info["modes"]), "sigma": data_info["sigma"],
                "reverse_kl": "KL(high-quality samples' mode histogram || uniform)"}
    return values, protocol


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
    """Compare two image sets (dataset names, folders or .npz files), like pytorch-fid's command line."""
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
    protocol = {**extractor_protocol(extractor), "real": real_name, "fake": fake_name, "n_real": len(real), "n_fake": len(fake), "split": split,
                **protocol}
    result = {"values": values, "protocol": protocol, "time": datetime.now().isoformat(timespec="seconds")}
    written = []
    if out:
        written.append(merge_json(Path(out), result))
        if "nn" in metrics:
            written.append(panel)
    return {**result, "written": [str(p) for p in written]}
