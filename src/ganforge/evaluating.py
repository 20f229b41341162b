"""`ganforge eval RUN`: a run's trained Generator measured against real data, the result merged into
RUN/eval.json.

What is measured follows from what the generator can do: a frame predictor (PredictsFrames) by its rollouts,
a run on toy points by the mode metrics, a generator that takes text (TakesText) by what its samples show of
their captions, a translator (Translates) against the true targets of held-out inputs, and any other image
generator by comparing its samples with the reference images (metrics/scoring.py), per class for a
class-conditional one (metrics/conditional_eval.py), and by its reconstructions where it has an encoder
(Reconstructs). Every result carries its protocol and the checkpoint's step.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import torch

from ganforge import runs, viz
from ganforge.errors import UserError
from ganforge.generator import Generator, PredictsFrames, Reconstructs, TakesText, Translates
from ganforge.metrics.conditional_eval import (
    AUG_REAL,
    CONDITIONAL_DEFAULTS,
    CONDITIONAL_METRICS,
    check_conditional,
    conditional_protocol,
    conditional_scores,
)
from ganforge.metrics.features import extractor_protocol
from ganforge.metrics.scoring import (
    DEFAULT_METRICS,
    RECONSTRUCTION_PROTOCOL,
    TOY_POINTS,
    choose_metrics,
    default_n,
    extractor_for,
    merge_json,
    n_protocol,
    parse_metrics,
    reconstruction_scores,
    score_images,
)


def evaluate_run(run_dir: Path, metrics: str | tuple[str, ...] | None = None, n: int | None = None,
                 ref: str = "test", extractor_name: str = "auto", inception_path: str | None = None,
                 seed: int = 0, device: str = "auto", checkpoint: Path | None = None,
                 progress: bool = True) -> dict:
    """Sample a run and compare the samples with real data; write RUN_DIR/eval.json and return it, with
    "notes": lines for the user (what was skipped, what is rough at this size).

    Image runs: `n` samples (default: as many as the reference images, up to 10,000) against the first `n`
    reference images (`reference_data`). `metrics` None: fid, kid, pr, dc (and acc, intra_fid for a
    class-conditional run), less what cannot be had here, each skipped with a note (scoring.choose_metrics):
    swd and nn where no feature extractor can be had, no acc without a domain classifier for the data. Toy
    runs: the mode metrics of VEEGAN / PacGAN on `n` points (default 2,500); `metrics` and `ref` do not apply.
    """
    requested = None if metrics is None else parse_metrics(metrics)
    if ref not in ("train", "test"):
        raise UserError(f"--ref must be train or test, got '{ref}'")
    run_dir = runs.require_run(run_dir)  # "pretrained:NAME": the folder eval.json goes to
    g = runs.load_generator(run_dir, checkpoint, device)
    by_class = g.conditional and not g.attributes
    if not by_class and any(m in CONDITIONAL_METRICS for m in requested or ()):
        raise UserError("acc, intra_fid, cas and aug score class-conditional runs (family.condition with class labels); "
                        "drop them from --metrics")
    notes: list[str] = []
    if isinstance(g, PredictsFrames):  # rollouts against the true frames of generated test clips
        from ganforge.metrics.video import score_video_run

        only(requested, "video runs are measured by per-frame mse, ssim and sharpness")
        fixed(ref, "video runs are measured on generated moving-mnist test clips")
        values, protocol = score_video_run(g, n, progress)
    elif g.data["kind"] != "image":
        fixed(ref, "toy runs are measured against their mixture's modes")
        values, protocol = score_toy(g, n or TOY_POINTS, seed)
    elif isinstance(g, TakesText):  # samples drawn for captions, measured against what they say
        from ganforge.metrics.text import own_caption_matching, score_text_run

        only(requested, "text-to-image runs are measured by class and attribute accuracy and caption matching")
        real, split, _ = reference_data(g, ref)
        if g.spec.captions:  # an image folder's own captions: matching alone
            values, protocol = own_caption_matching(g, real, n, seed, split=split, progress=progress)
        else:
            values, protocol = score_text_run(g, real, n, seed, split=split, progress=progress)
    elif isinstance(g, Translates):  # translations of held-out inputs against their true targets
        from ganforge.metrics.translation_eval import score_translation

        only(requested, "image-to-image runs are measured by l1, psnr, ssim and the domain classifier")
        real, split, _ = reference_data(g, ref, "pairs" if g.spec.paired else "images")
        values, protocol = score_translation(g, real, n, split)
    else:
        values, protocol, notes = score_samples(g, requested, n, ref, extractor_name, inception_path, seed,
                                                progress, by_class)
    protocol.update(checkpoint_step=g.step, seed=seed)
    result = {"values": values, "protocol": protocol, "time": datetime.now().isoformat(timespec="seconds")}
    written = [merge_json(Path(run_dir) / "eval.json", result)]
    if "nn" in protocol and g.data["kind"] == "image":  # nn's picture beside eval.json
        written.append(Path(run_dir) / "nearest.png")
    return {**result, "notes": notes, "written": [str(p) for p in written]}


def only(metrics: tuple[str, ...] | None, measured: str) -> None:
    """Refuse --metrics for a run measured by its own protocol."""
    if metrics is not None:
        raise UserError(f"{measured}; drop --metrics")


def fixed(ref: str, measured: str) -> None:
    """Refuse --ref for a run whose reference is fixed by its protocol."""
    if ref != "test":
        raise UserError(f"{measured}; drop --ref")


def reference(g: Generator, split: str):
    """The real data of the run's dataset, split `split`, whole."""
    return runs.load_data(runs.with_split(g.cfg, split))


def reference_data(g: Generator, ref: str, unit: str = "images"):
    """(the reference data for --ref `ref`, the words for what it is, the data the run trained on).

    Data without a test split (an image folder, the embedded Fashion-MNIST 10k, an image-to-image folder
    without test/) gives the training data for --ref test: the examples data.holdout kept out of training
    where there are any, else the training data itself, and the words say so; `unit`: what one example is
    called in them ("images", "pairs").
    """
    cfg = g.cfg
    if ref == cfg.data.split:
        real = reference(g, ref)
        # data.holdout and data.subset applied: exactly what the run saw
        trained = real if not (cfg.data.holdout or cfg.data.subset) else runs.load_data(cfg)
        held = f", {cfg.data.holdout:,} of them held out of training" if cfg.data.holdout else ""
        return real, f"{ref} (the split the run trained on{held})", trained
    trained = runs.load_data(cfg)
    whole = trained if not (cfg.data.holdout or cfg.data.subset) else reference(g, cfg.data.split)
    if has_split(cfg, ref):
        real = reference(g, ref)
        if not (real.x.shape == whole.x.shape and torch.equal(real.x, whole.x)):
            return real, ref, trained
    kind = "folder" if whole.name.startswith("folder:") else "dataset"
    if ref == "test" and cfg.data.holdout:
        words = f"the last {cfg.data.holdout:,} {unit} of the {kind}, which data.holdout kept out of training " \
                "(it has no test split)"
        return runs.heldout_data(cfg), words, trained
    return whole, f"the whole {kind} (no {ref} split; the training {unit})", trained


def has_split(cfg, split: str) -> bool:
    """Whether the run's data has a `split` of its own to read. An image-to-image folder has one only where
    data/pairs.py reads it (test/ beside A/ and B/ or side-by-side images, testA/ and testB/; two folders
    named by data.domain_b have none); other data reads any split (an image folder gives the same images)."""
    from ganforge.data.pairs import translation_layout

    d = cfg.data
    if split == d.split:
        return True
    if d.domain_b is not None:
        return False
    path = Path(d.name.removeprefix("folder:")).expanduser()
    layout = translation_layout(path, d.layout) if path.is_dir() else None
    if layout == "unpaired":
        return (path / f"{split}A").is_dir() or (path / f"{split}B").is_dir()  # one alone: loading says which is missing
    if layout is not None:  # paired or side by side: train/ or the top for training, test/ for testing
        return split == "train" or (path / split).is_dir()
    return True


def score_samples(g: Generator, metrics: tuple[str, ...] | None, n: int | None, ref: str, extractor_name: str,
                  inception_path: str | None, seed: int, progress: bool,
                  by_class: bool) -> tuple[dict, dict, list[str]]:
    """n samples (default: as many as the reference images, up to 10,000) against the first n reference
    images; a class-conditional generator's samples are drawn for the classes of those images, and an
    autoencoder's reconstructions of them are scored too. Returns (values, protocol, notes)."""
    from ganforge.data.spec import training_labels

    real, split, trained = reference_data(g, ref)
    defaults = (*DEFAULT_METRICS, *CONDITIONAL_DEFAULTS) if by_class else DEFAULT_METRICS
    metrics, chosen, notes = choose_metrics(metrics, defaults, extractor_name, real.name, inception_path)
    given, n = n, default_n(n, len(real.x))
    n_real = min(n, len(real.x))
    few_real = None
    if by_class:  # what cannot be measured is refused before minutes of sampling and features
        check_conditional(metrics, real, tuple(real.x.shape[1:]))
        if "aug" in metrics:  # a seeded, class-balanced few of the training split, never the reference images
            pool = reference(g, "train")
            if pool.x.shape == real.x.shape and torch.equal(pool.x, real.x):
                raise UserError(f"aug adds samples to real training images, and {real.name} has no split "
                                f"apart from the reference images; drop aug from --metrics")
            few_real = runs.balanced_subset(pool, AUG_REAL, seed)
    device = str(g.device)
    extractor = extractor_for(metrics, extractor_name, real.name, inception_path, device)
    inputs = g.noise(n, torch.Generator().manual_seed(seed))
    labels = None
    if g.conditional:  # samples get the labels of the reference images, so the class mix matches
        labels = training_labels(real)
        labels = labels[torch.arange(n) % len(labels)]
        inputs = g.for_labels(inputs, labels)
    fake = viz.to_uint8(g({k: v.to(device) for k, v in inputs.items()}).cpu())
    train = trained.x if "nn" in metrics else None  # the images the generator was trained on
    values, protocol = score_images(real.x[:n], fake, metrics, extractor, train, Path(g.run_dir) / "nearest.png",
                                    progress)
    if isinstance(g, Reconstructs):  # autoencoders: the reference images through E and G
        values.update(reconstruction_scores(g.reconstruct, real.x[:n]))
        protocol["reconstruction"] = RECONSTRUCTION_PROTOCOL.format(n=n_real)
    if by_class and any(m in CONDITIONAL_METRICS for m in metrics):
        values.update(conditional_scores(real, fake, labels, metrics, extractor, progress, few_real))
        protocol.update(conditional_protocol(metrics, extractor, real, labels))
    notes += protocol.get("warnings", [])
    protocol = {**extractor_protocol(extractor), "n_real": n_real, "n_fake": n, "n": n_protocol(given, n_real, n),
                "dataset": real.name, "split": split,
                "quantised": "samples rounded to uint8 as saved, before feature extraction", **chosen, **protocol}
    return values, protocol, notes


def score_toy(g: Generator, n: int, seed: int) -> tuple[dict, dict]:
    """The mode metrics of n points against the run's mixture (VEEGAN, PacGAN)."""
    from ganforge.metrics.toy import mode_metrics

    data = g.data
    if data["modes"] is None:
        raise UserError(f"{data['name']} has no mode centres to score against")
    inputs = g.noise(n, torch.Generator().manual_seed(seed))
    points = g({k: v.to(g.device) for k, v in inputs.items()}).cpu()
    values = mode_metrics(points, torch.tensor(data["modes"], dtype=torch.float32), data["sigma"])
    protocol = {"dataset": data["name"], "n_fake": n, "high_quality": "within 3 sigma of the nearest mode",
                "modes": len(data["modes"]), "sigma": data["sigma"],
                "reverse_kl": "KL(high-quality samples' mode histogram || uniform)"}
    return values, protocol
