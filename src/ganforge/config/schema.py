"""The run config's schema: a tree of dataclasses, one per shared section.

The shared sections hold what every family reads: the data, the training loop, the optimiser groups, logging
and evaluation. Everything a family alone reads is its own option (`family:`, the family's Options dataclass
in its file under ganforge/families/).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.options import choice

PRESET_DIR = Path(__file__).parent.parent / "presets"


@dataclass
class DataConfig:
    name: str = "fashion-mnist-10k"  # a dataset name or a path (IDX folder, image folder, .zip or .tar of images)
    root: str | None = None  # folder holding a named dataset's files
    split: str = choice("train", "train", "test")  # the split of a named dataset to train on
    # images are resized and centre-cropped to this size; unset: the size the family's networks fix (28 for the
    # 28x28 ones), the data's own for the others; an image folder trained by the gan family with family.arch=dcgan28
    # gets the DCGAN for its images' size instead (the largest power of two that fits, up to 64)
    resolution: int | None = None
    # images of another shape: crop (their centre), pad (black bands around the whole image), or keep their aspect
    # (data.resolution is then the long side: 4x3 images train at 64x48, on networks built for rectangles)
    aspect: str = choice("crop", "crop", "pad", "keep")
    channels: int | None = None  # 1 or 3; default: what the data has
    n_toy: int = 100_000  # points drawn from a toy mixture
    # image folder: an unreadable file stops the run, or is skipped (and listed in the run's skipped_files.txt)
    on_bad_file: str = choice("error", "error", "skip")
    attributes: list[str] = field(default_factory=list)  # image folder with an attribute file: names kept (all if empty)
    holdout: int = 0  # the split's last this many examples are kept out of training (a validation set)
    subset: int = 0  # > 0: train on a seeded subset of this many examples, balanced over classes where labelled
    # labelled data: keep the examples of these classes only (indices), in every split (evaluation's too)
    classes: list[int] = field(default_factory=list)
    # image-to-image folders: auto finds A/ + B/ (paired by file name) or trainA/ + trainB/ (unpaired);
    # side_by_side reads each image as A on its left half and B on its right
    layout: str = choice("auto", "auto", "side_by_side")
    domain_b: str | None = None  # unpaired image-to-image: a folder of domain B's images (data.name: domain A's)


@dataclass
class ModelConfig:
    family: str = "gan"  # the training algorithm: see ganforge.families; its own settings are family.*


@dataclass
class OptimizerConfig:
    name: str = choice("adam", "adam", "sgd", "rmsprop")  # the optimiser
    lr: float = 2e-4  # learning rate
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # adam: beta1 (momentum) and beta2
    momentum: float = 0.0  # sgd, rmsprop: momentum


@dataclass
class OptimConfig:
    """Schedules shared by every optimiser, and one OptimizerConfig per optimiser group of the family.

    A group's settings are the key `optim.<group>` (the group's name in lower case: optim.g and optim.d for the
    GAN; separate rates for G and D are TTUR); a group left out gets OptimizerConfig's defaults.
    """

    decay: str = choice("none", "none", "linear")  # linear: every rate falls linearly to 0 after decay_start
    decay_start: float = 0.5  # fraction of train.steps after which the decay begins (pix2pix, CycleGAN)
    groups: dict[str, OptimizerConfig] = field(default_factory=dict)

    def group(self, name: str) -> OptimizerConfig:
        """The settings of optimiser group `name` (any case): as configured, else the defaults."""
        return self.groups.get(name.lower()) or OptimizerConfig()

    def __getattr__(self, name: str) -> OptimizerConfig:  # cfg.optim.g, cfg.optim.d, ...
        if name.startswith("_") or name in ("decay", "decay_start", "groups"):
            raise AttributeError(name)
        return self.group(name)


@dataclass
class TrainConfig:
    steps: int = 3500  # generator steps
    batch_size: int = 64  # examples per step (the global batch, split over the processes of a torchrun)
    seed: int = 0  # seeds the weights, the noise and the data order
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = choice("auto", "auto", "fp32", "bf16", "fp16")  # auto: bf16 on bf16 hardware (images); recorded
    # CPU threads; 0 (auto): every core, or from `ganforge train` on a machine other work keeps busy, the cores
    # left free (and OpenMP waits passively: cpu_share.py); the Python API keeps the process's own setting
    threads: int = 0
    compile: str = choice("off", "off", "on", "graphs")  # torch.compile the networks (graphs: with CUDA graphs)
    sync_bn: bool = False  # multi-GPU (torchrun): BatchNorm statistics over the global batch
    ema: float = 0.0  # > 0: samples and evaluation use an exponential moving average of G's weights, this beta
    # a trained run of the same family and networks whose weights (and averaged G) start this run, optimisers
    # fresh: fine-tuning (`ganforge train --init RUN`); empty: random weights
    init: str = ""
    on_divergence: str = choice("rollback", "rollback", "stop", "ignore")  # NaN/Inf in losses or weights
    max_rollbacks: int = 3  # rollbacks to the last checkpoint before the run stops with an error
    rollback_lr: float = 0.5  # learning rates are multiplied by this at each rollback (1: unchanged)
    # augment what D sees, real and fake, so it cannot memorise small data: diffaugment (Zhao et al. 2020: every
    # image, differentiably) or ada (Karras et al. 2020: each op with a probability p steered by D's confidence)
    augment: str = choice("none", "none", "diffaugment", "ada")
    augment_policy: str = "color,translation,cutout"  # diffaugment: its ops, comma-separated
    ada_target: float = 0.6  # ada: p rises while E[sign(D(x_real))] is above this, falls below it
    ada_kimg: float = 100.0  # ada: thousands of real images over which p can move by 1 (the paper: 500)
    ada_interval: int = 4  # ada: D steps between updates of p


@dataclass
class LogConfig:
    every: int = 50  # steps between metric lines (the only host-device syncs)
    sample_every: int = 250  # steps between fixed-noise sample grids
    checkpoint_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 2  # the latest this many checkpoints are kept
    n_samples: int = 64  # images in a sample grid
    n_points: int = 2500  # toy data: points drawn per sample plot
    tensorboard: bool = True  # also write the metrics as TensorBoard events (run folder/tensorboard)


@dataclass
class EvalConfig:
    every: int = 0  # steps between evaluations during training (0: off); the best checkpoint is kept
    # auto: fid for images (named fd_classifier in a domain classifier's features), reverse_kl for toy data
    metric: str = choice("auto", "auto", "fid", "fd", "kid", "kd", "precision", "recall", "density", "coverage",
                         "is", "reverse_kl", "modes", "high_quality")
    n: int = 2000  # generated samples (and real images) per evaluation
    extractor: str = choice("auto", "auto", "classifier", "inception")  # auto: the domain classifier if any
    inception: str | None = None  # the FID Inception file, for extractor inception
    ref: str = choice("test", "test", "train")  # real split compared with


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # the family's own options: the keys of model.family's Options dataclass (families/<family>.py)
    family: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # one line saying what the config is for (`ganforge presets` lists it)


def to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain data, optimiser groups written as keys of optim (optim.g, optim.d, ...)."""
    tree = dataclasses.asdict(cfg)
    tree["optim"].update(tree["optim"].pop("groups"))
    return tree
