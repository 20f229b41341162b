"""Evaluation during training (eval.every): score fixed-noise samples, log the values, keep the best weights.

The reference features of the real data are computed once when training starts (and cached on disk); each
evaluation then costs one pass of the generator and the extractor over eval.n samples, about 2 s for 2,000
samples with a domain classifier on 2 CPU cores. The noise has its own seed and the generator runs in eval
mode, so evaluating changes nothing in the training run: with or without it, the weights are the same.
A translator (pix2pix, CycleGAN, SRGAN) is scored on the first eval.n inputs of the eval.ref split, each
once, against the images of that split, as `ganforge eval` reads them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ganforge import runs, seeds, viz
from ganforge.config import Config
from ganforge.data import Dataset
from ganforge.errors import UserError
from ganforge.families import Family
from ganforge.generator import Translates
from ganforge.metrics.features import build_extractor, classifier_for, reference_features
from ganforge.metrics.scoring import TOY_POINTS, score_images, value_name

# config name -> (key in the values, metric group to compute, lower is better); keys are renamed for the
# extractor (fid -> fd_classifier in a domain classifier's features: see scoring.value_name)
IMAGE_METRICS = {"fid": ("fid", "fid", True), "fd": ("fid", "fid", True), "kid": ("kid_mean", "kid", True),
                 "kd": ("kid_mean", "kid", True),
                 "precision": ("precision", "pr", False), "recall": ("recall", "pr", False),
                 "density": ("density", "dc", False), "coverage": ("coverage", "dc", False),
                 "is": ("is_mean", "is", False)}
TOY_METRICS = {"reverse_kl": ("reverse_kl", None, True), "modes": ("modes_captured", None, False),
               "high_quality": ("high_quality", None, False)}


def affordable_extractor(cfg: Config, dataset_name: str, device: torch.device) -> str | None:
    """eval.extractor as configured; for "auto": the domain classifier where there is one, else Inception on a
    GPU where its file is found, else None (Inception takes minutes per evaluation on a CPU)."""
    choice = cfg.eval.extractor
    if choice != "auto":
        return choice
    if classifier_for(dataset_name):
        return "classifier"
    if device.type == "cuda":
        from ganforge.metrics.inception import resolve_inception_path

        try:
            resolve_inception_path(cfg.eval.inception)
            return "inception"
        except UserError:
            return None
    return None


class TrainingEval:
    """Called every eval.every steps: returns the values to log, and whether the score is a new best."""

    def __init__(self, cfg: Config, dataset: Dataset, family: Family, device: torch.device):
        e = cfg.eval
        self.is_image = dataset.kind == "image"
        table = IMAGE_METRICS if self.is_image else TOY_METRICS
        name = e.metric if e.metric != "auto" else ("fid" if self.is_image else "reverse_kl")
        if name not in table:
            kind = "image" if self.is_image else "toy"
            raise UserError(f"config key 'eval.metric' is '{name}', which {kind} data does not have; use one of "
                            f"{', '.join(table)}")
        self.name = name
        self.key, group, self.lower_is_better = table[name]
        self.dataset = dataset
        self.n, self.split = (e.n if self.is_image else TOY_POINTS), e.ref
        real = dataset
        if self.is_image and e.ref != cfg.data.split:
            real = runs.load_data(runs.with_split(cfg, e.ref))
        g = family.generator()
        self.sources = None  # a translator's inputs: the showcase's 16 in turn would describe 16 images alone
        if isinstance(g, Translates):
            if real.inputs is None:
                raise UserError(f"config key 'eval.ref': the {e.ref} split of {real.name} has no input images to "
                                "translate; set eval.every=0 and measure the run with `ganforge eval RUN`")
            self.n = min(self.n, len(real.inputs))  # each input once: a smaller split gives fewer
            self.sources = real.inputs[: self.n]
        else:
            stream = torch.Generator().manual_seed(cfg.train.seed + seeds.EVAL_NOISE)
            self.inputs = {k: v.to(device) for k, v in g.noise(self.n, stream).items()}
        if self.is_image:
            self.groups = (group,)
            self.extractor = build_extractor(affordable_extractor(cfg, real.name, device), real.name, e.inception,
                                             str(device))
            self.key = value_name(self.key, self.extractor)
            self.real_images = real.x[: self.n]
            reference_features(real, self.n, self.extractor)  # computed (or read) now, not at the first eval
        self.best: float | None = None

    def __call__(self, family: Family, step: int) -> tuple[dict[str, float], bool]:
        g = family.generator()
        if self.sources is not None:
            from ganforge.metrics.translation_eval import translate_all

            fake = translate_all(g, self.sources)
        else:
            fake = g(self.inputs).cpu()
        if self.is_image:
            # a step's samples are scored once: their features are not worth a cache entry each
            values, _ = score_images(self.real_images, viz.to_uint8(fake), self.groups, self.extractor,
                                     cache_fake=False)
        else:
            from ganforge.metrics.toy import mode_metrics

            values = mode_metrics(fake, self.dataset.modes.float(), self.dataset.sigma)
            values.pop("n_samples")
        value = float(values[self.key])
        better = not math.isnan(value) and (
            self.best is None or (value < self.best if self.lower_is_better else value > self.best))
        if better:
            self.best = value
        return {f"eval_{k}": v if isinstance(v, int) else float(v) for k, v in values.items()}, better

    def restore(self, run_dir: Path) -> None:
        """On resume: the best value so far, from the best checkpoint's record."""
        info = Path(run_dir) / "checkpoints" / "best" / "best.json"
        if info.is_file():
            record = json.loads(info.read_text())
            if record.get("metric") in (self.key, self.name):  # runs before 0.2 stored the config's name
                self.best = record["value"]

    def describe(self) -> str:
        if not self.is_image:
            return f"{self.key} on {self.n:,} points"
        if self.sources is not None:
            return f"{self.key} on {self.n:,} translated {self.split} inputs ({self.extractor.name} features)"
        return f"{self.key} on {self.n:,} samples ({self.extractor.name} features)"
