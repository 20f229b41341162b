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
                "on the n generated samples and their requested classes only, accuracy on the whole real "
                "reference split")

AUG_PROTOCOL = (f"dataset augmentation: ganforge's domain-classifier recipe trained on {AUG_REAL:,} real training "
                "images (seeded, class-balanced), and on those plus the n generated samples with their requested "
                "classes, the same number of optimiser steps each; accuracy on the whole real reference split; "
                "aug_gain = aug_with_samples - aug_real_only, in points")


def conditional_protocol(metrics: tuple[str, ...], extractor) -> dict[str, str]:
    """The protocol entries of conditional_scores for `metrics`."""
    features = extractor.name if extractor is not None else "extractor"
    protocol = {"conditional": ("samples generated for the classes of the first n reference images; acc: the "
                                "domain classifier's label equals the requested class; class_coverage: classes "
                                "given >= 1/(2K) of the samples; intra_fid: mean over classes of the "
                                f"{features} FD within each class")}
    if "cas" in metrics:
        protocol["cas"] = CAS_PROTOCOL
    if "aug" in metrics:
        protocol["aug"] = AUG_PROTOCOL
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
        judge = extractor if has_logits(extractor) else None
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
