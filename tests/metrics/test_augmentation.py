"""CAS and the augmentation gain: classifiers trained on (generated) images, tested on real ones. Real
images stand in for perfect samples, and the same images with wrong labels for useless ones."""

from types import SimpleNamespace

import pytest

from ganforge.data.registry import load_dataset
from ganforge.errors import UserError
from ganforge.metrics.conditional_eval import augmentation_gain, classification_accuracy_score


@pytest.fixture(scope="module")
def parts():
    ds = load_dataset("fashion-mnist-10k", split="test")
    test = SimpleNamespace(name=ds.name, x=ds.x[8000:9000], y=ds.y[8000:9000])
    return ds.x[:40], ds.y[:40], ds.x[1000:2500], ds.y[1000:2500], test


def test_samples_that_carry_the_classes_add_to_a_few_real_images(parts):
    few_x, few_y, pool_x, pool_y, test = parts
    # 8 epochs of 1,540 images (96 steps); the 40 real images alone get as many steps (96 epochs)
    good = augmentation_gain(pool_x, pool_y, few_x, few_y, test, epochs=8)
    assert good["aug_gain"] > 3  # measured: 65.3% -> 73.9%
    assert good["aug_gain"] == pytest.approx(100 * (good["aug_with_samples"] - good["aug_real_only"]))


def test_cas_is_high_for_correct_labels_and_near_zero_for_shifted_ones(parts):
    _, _, pool_x, pool_y, test = parts
    # measured with 4 epochs of 1,500 images: 70.6% and 1.1%
    assert classification_accuracy_score(pool_x, pool_y, test, epochs=4) > 0.6
    assert classification_accuracy_score(pool_x, (pool_y + 1) % 10, test, epochs=4) < 0.1


def test_the_classifier_recipe_is_for_28x28_mnist_and_fashion_only(parts):
    few_x, few_y, pool_x, pool_y, _ = parts
    other = SimpleNamespace(name="folder:faces", x=pool_x, y=pool_y)
    with pytest.raises(UserError, match="drop aug from --metrics"):
        augmentation_gain(pool_x, pool_y, few_x, few_y, other)


def test_cas_trains_for_the_real_data_classifiers_optimiser_steps(parts, monkeypatch):
    _, _, pool_x, pool_y, test = parts
    seen = []
    monkeypatch.setattr("ganforge.metrics.classifier.train_classifier",
                        lambda x, y, recipe, progress: seen.append((len(x), recipe.epochs)) or object())
    monkeypatch.setattr("ganforge.metrics.classifier.accuracy", lambda model, x, y: 0.5)
    classification_accuracy_score(pool_x, pool_y, test)
    # Fashion-MNIST's recipe: 15 epochs of the 60k split at batch 128 = 15 x 469 = 7,035 steps; 1,500 samples
    # make 12 batches an epoch, so 586 epochs of them
    assert seen == [(1500, 586)]
    classification_accuracy_score(pool_x, pool_y, test, epochs=4)  # given epochs are taken as they are
    assert seen[-1] == (1500, 4)
