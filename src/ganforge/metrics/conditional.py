"""Metrics of class-conditional generation: does G draw the class it was asked for, and how well per class.

- accuracy: the fraction of samples that a domain classifier labels as the class they were generated for
  (the "classification accuracy" of ACGAN-style evaluations); also per class.
- class coverage: the fraction of classes that receive at least half of an even share (1 / 2K) of the
  samples, as the classifier labels them; a generator that ignores some labels loses coverage.
- intra-FID (Miyato and Koyama 2018): the Frechet distance computed within each class (samples generated for
  class k against real images of class k), averaged over the classes.
"""

from __future__ import annotations

import torch

from ganforge.metrics.frechet import fid_from_features


def class_agreement(predicted: torch.Tensor, requested: torch.Tensor, n_classes: int) -> dict[str, float]:
    """Accuracy, per-class accuracy and class coverage of samples generated for `requested` classes that a
    classifier labels `predicted` (both int64 (N,))."""
    correct = (predicted == requested).float()
    out = {"class_accuracy": float(correct.mean())}
    for k in range(n_classes):
        asked = requested == k
        if asked.any():
            out[f"class_accuracy_{k}"] = float(correct[asked].mean())
    share = torch.bincount(predicted, minlength=n_classes).float() / len(predicted)
    out["class_coverage"] = float((share >= 0.5 / n_classes).float().mean())
    return out


def intra_fid(real_features: torch.Tensor, real_labels: torch.Tensor, fake_features: torch.Tensor,
              fake_labels: torch.Tensor, n_classes: int) -> dict[str, float]:
    """The mean over classes of the Frechet distance between the features of each class's real images and of
    the samples generated for it; classes with fewer than 2 images on either side are left out."""
    per_class = {}
    for k in range(n_classes):
        real_k, fake_k = real_features[real_labels == k], fake_features[fake_labels == k]
        if len(real_k) >= 2 and len(fake_k) >= 2:
            per_class[k] = fid_from_features(real_k, fake_k)
    if not per_class:
        return {}
    out = {"intra_fid": sum(per_class.values()) / len(per_class)}
    out.update({f"intra_fid_{k}": v for k, v in per_class.items()})
    return out
