"""Evaluation during training (eval.every): score fixed-noise samples, log the values, keep the best weights.

The reference features of the real data are computed once when training starts (and cached on disk); each
evaluation then costs one pass of the generator and the extractor over eval.n samples, about 2 s for 2,000
samples with a domain classifier on 2 CPU cores. The noise has its own seed and the generator runs in eval
mode, so evaluating changes nothing in the training run: with or without it, the weights are the same.
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
from ganforge.metrics import evaluate

# config name -> (key in the values, metric group to compute, lower is better); keys are renamed for the
# extractor (fid -> fd_classifier in a domain classifier's features: see evaluate.value_name)
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
    if evaluate.classifier_for(dataset_name):
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
        n = e.n if self.is_image else evaluate.TOY_POINTS
        g = torch.Generator().manual_seed(cfg.train.seed + seeds.EVAL_NOISE)
        self.inputs = {k: v.to(device) for k, v in family.noise(n, g).items()}
        self.n = n
        if self.is_image:
            self.groups = (group,)
            real = dataset
            if e.ref != cfg.data.split:
                real = runs.load_data(runs.with_split(cfg, e.ref))
            self.extractor = evaluate.build_extractor(affordable_extractor(cfg, real.name, device), real.name,
                                                      e.inception, str(device))
            self.key = evaluate.value_name(self.key, self.extractor)
            self.real_images = real.x[:n]
            evaluate.reference_features(real, n, self.extractor)  # computed (or read) now, not at the first eval
        self.best: float | None = None

    def __call__(self, family: Family, step: int) -> tuple[dict[str, float], bool]:
        fake = family.generator()(self.inputs).cpu()
        if self.is_image:
            # a step's samples are scored once: their features are not worth a cache entry each
            values, _ = evaluate.score_images(self.real_images, viz.to_uint8(fake), self.groups, self.extractor,
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
        return f"{self.key} on {self.n:,} samples ({self.extractor.name} features)"
