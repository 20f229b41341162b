"""The protocol of class-conditional runs: samples drawn for given classes, scored against those classes.

acc (the domain classifier's agreement with the requested class, and class coverage), intra_fid (the Frechet
distance within each class), cas (a classifier trained on the samples alone, tested on real images: Ravuri
and Vinyals 2019) and aug (what the samples add to a few real labelled images).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ganforge.errors import UserError
from ganforge.metrics.classifier import SHIPPED, ClassifierExtractor
from ganforge.metrics.features import cached_features, classifier_for, has_logits
from ganforge.metrics.scoring import value_name

CONDITIONAL_METRICS = ("acc", "intra_fid", "cas", "aug")
CONDITIONAL_DEFAULTS = ("acc", "intra_fid")  # added to the defaults for a class-conditional run (cas, aug: minutes)
AUG_REAL = 1000  # real labelled training images that the generated ones are added to
REAL_TRAIN_IMAGES = 60_000  # the train split the shipped domain classifiers learned from

CAS_PROTOCOL = ("Classification Accuracy Score (Ravuri and Vinyals 2019): ganforge's domain-classifier recipe "
                "(the shipped weights' shifts and optimiser steps: their epochs over the 60k train split) trained "
                "on the {n:,} generated samples and their requested classes only, accuracy on all {n_ref:,} "
                "reference images")

AUG_PROTOCOL = ("dataset augmentation: ganforge's domain-classifier recipe trained on {aug_real:,} real training "
                "images (seeded, class-balanced), and on those plus the {n:,} generated samples with their requested "
                "classes, the same number of optimiser steps each; accuracy on all {n_ref:,} reference images; "
                "aug_gain = aug_with_samples - aug_real_only, in points")


def check_conditional(metrics: tuple[str, ...], real, shape: tuple[int, ...]) -> None:
    """Refuse the conditional metrics among `metrics` that cannot be had for the reference data `real` and
    samples of `shape` (C x H x W), before anything is sampled or extracted."""
    if "acc" in metrics and classifier_for(real.name) is None:
        raise UserError(f"acc needs a domain classifier, and there is none for {real.name} "
                        f"(have: {', '.join(SHIPPED)}); drop acc from --metrics")
    for metric in ("cas", "aug"):
        if metric in metrics:
            _recipe_for(real, shape, metric, 0)


def _span(counts: torch.Tensor) -> str:
    lo, hi = int(counts.min()), int(counts.max())
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def conditional_protocol(metrics: tuple[str, ...], extractor, real, labels: torch.Tensor) -> dict[str, str]:
    """The protocol entries of conditional_scores for `metrics`, samples drawn for the classes `labels`
    against the reference data `real`, with the counts used."""
    n, n_ref, k = len(labels), len(real.x), len(real.class_names)
    drawn = f"the first {n:,} reference images" if n <= n_ref else f"the {n_ref:,} reference images in turn"
    protocol = {"conditional": f"{n:,} samples generated for the classes of {drawn}"}
    if "acc" in metrics:
        judge = getattr(extractor, "name", None) if has_logits(extractor) else SHIPPED[classifier_for(real.name)]
        protocol["acc"] = (f"class_accuracy: the {judge}'s label equals the requested class, over the {n:,} samples; "
                           f"class_coverage: the share of the {k} classes given >= 1/(2 x {k}) of the samples")
    if "intra_fid" in metrics:
        real_k = torch.bincount(real.y[:n], minlength=k)
        fake_k = torch.bincount(labels, minlength=k)
        used = (real_k >= 2) & (fake_k >= 2)
        which = f"the {k} classes" if bool(used.all()) else \
            f"{int(used.sum())} of the {k} classes (those with 2 or more images on each side)"
        features = extractor.name if extractor is not None else "extractor"
        per_class = (f"{_span(real_k[used])} real and {_span(fake_k[used])} generated images per class"
                     if bool(used.any()) else "no class has 2 images on each side")
        protocol["intra_fid"] = (f"mean over {which} of the {features} FD within each class: {per_class} (biased "
                                 "upwards at small counts: compare only values of the same counts)")
    if "cas" in metrics:
        protocol["cas"] = CAS_PROTOCOL.format(n=n, n_ref=n_ref)
    if "aug" in metrics:
        protocol["aug"] = AUG_PROTOCOL.format(aug_real=AUG_REAL, n=n, n_ref=n_ref)
    return protocol


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
        check_conditional(("acc",), real, tuple(fake.shape[1:]))
        judge = extractor if has_logits(extractor) else \
            ClassifierExtractor(classifier_for(real.name), device=getattr(extractor, "device", "cpu"))
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
