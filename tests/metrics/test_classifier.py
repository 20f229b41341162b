from pathlib import Path

import pytest
import torch

from ganforge.data import load_dataset
from ganforge.metrics.classifier import (
    FEATURE_DIM,
    DomainClassifier,
    Recipe,
    accuracy,
    load_classifier,
    random_shift,
    save_classifier,
    train_classifier,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_shapes():
    model = DomainClassifier()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert model.features(x).shape == (3, FEATURE_DIM)
    assert model(x).shape == (3, 10)


def test_random_shift_moves_each_image_by_at_most_max_shift():
    x = torch.full((50, 1, 9, 9), -1.0)
    x[:, :, 4, 4] = 1.0  # one bright pixel at the centre
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    positions = set()
    for img in shifted[:, 0]:
        (r, c), = (img == 1.0).nonzero().tolist()
        assert abs(r - 4) <= 2 and abs(c - 4) <= 2
        positions.add((r, c))
    assert len(positions) > 10  # images get different shifts
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


def test_short_training_learns_and_round_trips(tmp_path):
    data = load_dataset("fashion-mnist-10k")
    model = train_classifier(data.x[:3000], data.y[:3000], Recipe("fashion-mnist", epochs=3), progress=False)
    held_out = accuracy(model, data.x[9000:], data.y[9000:])
    assert held_out > 0.5  # chance is 0.1
    save_classifier(model, tmp_path / "c", {"n_classes": 10, "in_channels": 1})
    loaded, _ = load_classifier(str(tmp_path / "c.safetensors"))
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.equal(loaded(x), model(x))


def test_shipped_fashion_classifier_reaches_91_percent_on_the_test_split():
    model, meta = load_classifier("fashion-mnist")
    data = load_dataset("fashion-mnist-10k")  # the Fashion-MNIST test split
    acc = accuracy(model, data.x, data.y)
    assert acc >= 0.91
    assert abs(acc - meta["test_accuracy"]) < 1e-3


def test_shipped_mnist_classifier_reaches_99_percent():
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"MNIST IDX files not found at {SHARED / 'mnist'}")
    model, meta = load_classifier("mnist")
    data = load_dataset("mnist", root=str(SHARED / "mnist"), split="test")
    acc = accuracy(model, data.x, data.y)
    assert acc >= 0.99
    assert abs(acc - meta["test_accuracy"]) < 1e-3
