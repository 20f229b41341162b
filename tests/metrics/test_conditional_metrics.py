import dataclasses

import pytest
import torch

from ganforge.metrics.conditional import class_agreement, intra_fid
from ganforge.metrics.frechet import fid_from_features


def test_class_agreement_by_hand():
    requested = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 2, 2, 0, 2])
    out = class_agreement(predicted, requested, n_classes=4)
    assert out["class_accuracy"] == pytest.approx(6 / 8)
    assert out["class_accuracy_0"] == 0.5 and out["class_accuracy_1"] == 1.0 and out["class_accuracy_2"] == 0.75
    assert "class_accuracy_3" not in out  # never asked for
    # shares 2/8, 3/8, 3/8, 0: three of four classes get at least 1/(2*4) of the samples
    assert out["class_coverage"] == 0.75


def test_intra_fid_is_the_mean_of_the_per_class_distances():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(60, 3, generator=g)
    fake = torch.randn(60, 3, generator=g) + 0.5
    labels = torch.arange(60) % 3
    out = intra_fid(real, labels, fake, labels, 3)
    per_class = [fid_from_features(real[labels == k], fake[labels == k]) for k in range(3)]
    assert out["intra_fid"] == pytest.approx(sum(per_class) / 3, rel=1e-9)
    assert out["intra_fid_2"] == pytest.approx(per_class[2], rel=1e-9)
    same = intra_fid(real, labels, real, labels, 3)
    assert same["intra_fid"] == pytest.approx(0, abs=1e-6)


def test_classification_accuracy_score_is_high_for_true_labels_and_chance_for_shuffled_ones():
    from ganforge.data import load_dataset
    from ganforge.metrics.conditional_eval import classification_accuracy_score

    full = load_dataset("fashion-mnist-10k")
    x, y = full.x[:1000], full.y[:1000]
    real = dataclasses.replace(full, x=full.x[5000:7000], y=full.y[5000:7000])  # tested on other images
    # real images as the "samples": a real training set (a short recipe: 5 epochs of 1,000 images)
    assert classification_accuracy_score(x, y, real, epochs=5) > 0.5
    shuffled = y[torch.randperm(1000, generator=torch.Generator().manual_seed(0))]
    assert classification_accuracy_score(x, shuffled, real, epochs=5) < 0.25  # samples that do not show their class


def test_the_conditional_protocol_gives_the_counts_used():
    from types import SimpleNamespace

    from ganforge.metrics.conditional_eval import conditional_protocol

    # 5 reference images of classes 0 0 1 1 2 (of 4), samples drawn for them in turn
    real = SimpleNamespace(name="folder:mine", x=torch.zeros(5, 1, 4, 4), y=torch.tensor([0, 0, 1, 1, 2]),
                           class_names=["a", "b", "c", "d"])
    extractor = SimpleNamespace(name="inception-v3-fid")
    labels = real.y[torch.arange(7) % 5]  # 0 0 1 1 2 0 0
    p = conditional_protocol(("intra_fid", "cas"), extractor, real, labels)
    assert p["conditional"] == "7 samples generated for the classes of the 5 reference images in turn"
    # classes 2 (1 real, 1 generated) and 3 (none) have no Frechet distance
    assert p["intra_fid"].startswith("mean over 2 of the 4 classes (those with 2 or more images on each side) of the "
                                     "inception-v3-fid FD within each class: 2 real and 2-4 generated images per class")
    assert "trained on the 7 generated samples and their requested classes only, accuracy on all 5 reference" in p["cas"]
    assert set(p) == {"conditional", "intra_fid", "cas"}
    fashion = SimpleNamespace(name="fashion-mnist-10k", x=torch.zeros(30, 1, 28, 28), y=torch.arange(30) % 10,
                              class_names=[str(k) for k in range(10)])
    p = conditional_protocol(("acc",), None, fashion, fashion.y[:20])
    assert p == {"conditional": "20 samples generated for the classes of the first 20 reference images",
                 "acc": "class_accuracy: the fashion-mnist-classifier's label equals the requested class, over the 20 "
                        "samples; class_coverage: the share of the 10 classes given >= 1/(2 x 10) of the samples"}
