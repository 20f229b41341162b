import math
from pathlib import Path

import pytest
import torch

from ganforge.data import load_dataset
from ganforge.metrics.classifier import load_classifier
from ganforge.metrics.stacked import mode_statistics, read_digits, stacked_modes

MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"


def test_mode_statistics_hand_computed():
    assert mode_statistics(torch.arange(1000)) == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12),
                                                   "channel_kl": pytest.approx(0.0, abs=1e-12), "n_samples": 1000}
    one = mode_statistics(torch.full((50,), 7))
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(1000))
    assert one["channel_kl"] == pytest.approx(3 * math.log(10))  # digits 0, 0, 7: each channel one digit
    half = mode_statistics(torch.tensor([3, 3, 5, 5]))  # two modes, equally often: KL = log(1000 / 2)
    assert half["modes"] == 2 and half["kl"] == pytest.approx(math.log(500))
    # 003 and 005: the first two channels always read 0 (log 10 each), the third is 3 or 5 (log 5)
    assert half["channel_kl"] == pytest.approx(2 * math.log(10) + math.log(5))


def test_channel_kl_equals_kl_for_independent_channels():
    # the 100 modes with red digit 0 or 1, green 0..9, blue 0 or 5, each once: independent channels
    modes = torch.tensor([100 * r + 10 * g + b for r in (0, 1) for g in range(10) for b in (0, 5)])
    stats = mode_statistics(modes)
    assert stats["kl"] == pytest.approx(math.log(1000 / 40))
    assert stats["channel_kl"] == pytest.approx(stats["kl"])  # log 5 + 0 + log 5 = log 25


class ByBrightness(torch.nn.Module):
    """A stand-in classifier: a dark channel gets logit log 3 for digit 0, a bright one log 9 for digit 1 (others 0)."""

    def forward(self, x):
        bright = (x.mean((1, 2, 3)) > 0).float()
        logits = torch.zeros(len(x), 10)
        logits[:, 0] = (1 - bright) * math.log(3)
        logits[:, 1] = bright * math.log(9)
        return logits


def test_read_digits_gives_each_channel_its_digit_and_softmax_confidence():
    images = torch.zeros(2, 3, 28, 28, dtype=torch.uint8)
    images[0, 1] = 255  # dark, bright, dark
    images[1] = 255     # all bright
    digits, confidence = read_digits(images, ByBrightness())
    assert digits.tolist() == [[0, 1, 0], [1, 1, 1]]
    # dark: 3 / (3 + 9 ones) = 0.25; bright: 9 / (9 + 9 ones) = 0.5
    assert confidence.flatten().tolist() == pytest.approx([0.25, 0.5, 0.25, 0.5, 0.5, 0.5])
    assert stacked_modes(images, ByBrightness()).tolist() == [10, 111]


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"MNIST not found at {MNIST}")
def test_stacked_mnist_images_carry_their_three_digits():
    data = load_dataset("stacked-mnist", root=str(MNIST), split="test", seed=1)
    mnist = load_dataset("mnist", root=str(MNIST), split="test")
    assert data.x.shape == (10_000, 3, 28, 28) and data.x.dtype == torch.uint8
    assert int(data.y.min()) >= 0 and int(data.y.max()) < 1000
    classifier, _ = load_classifier("mnist")
    modes = stacked_modes(data.x[:2000], classifier)
    _, confidence = read_digits(data.x[:2000], classifier)
    assert confidence.mean() > 0.97  # real digits are read with confidence (a GAN's poor ones are not)
    assert (modes == data.y[:2000]).float().mean() > 0.97  # 0.993^3 with a 99.3% digit classifier
    stats = mode_statistics(modes)
    assert stats["modes"] > 820 and stats["kl"] < 0.5  # 2,000 uniform draws from 1,000 modes: 865 expected
    again = load_dataset("stacked-mnist", root=str(MNIST), split="test", seed=1)
    assert torch.equal(again.x, data.x)  # seeded
    # every channel is some MNIST digit image
    assert any(torch.equal(data.x[0, 0], m) for m in mnist.x[:, 0])
