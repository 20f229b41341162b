"""Moving MNIST as ganforge generates it: bouncing by hand, pasting by hand, and seeded, chunk-stable sets."""

import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data import moving_mnist as mm
from ganforge.data.spec import data_spec


def test_path_bounces_off_the_edges():
    pos = torch.tensor([[[0.85, 0.05]]])  # one clip, one digit: row near the bottom, column near the left
    velocity = torch.tensor([[[0.1, -0.1]]])
    got = mm.path(pos, velocity, 4)[0, :, 0]
    # row: 0.85, 0.95, 1.05 -> clamped 1.0 and reversed, 0.9; column: 0.05, -0.05 -> 0.0 reversed, 0.1, 0.2
    expected = torch.tensor([[0.85, 0.05], [0.95, 0.0], [1.0, 0.1], [0.9, 0.2]])
    assert torch.allclose(got, expected, atol=1e-6)


def test_paste_places_digits_and_combines_them_by_max():
    digits = torch.tensor([[[[10, 20], [30, 40]], [[50, 5], [5, 5]]]], dtype=torch.uint8)  # 1 clip, 2 digits
    corners = torch.tensor([[[[0, 0], [1, 1]]]])  # 1 frame: the first at (0, 0), the second at (1, 1)
    canvas = mm.paste(digits, corners, size=3)[0, 0]
    expected = torch.tensor([[10, 20, 0], [30, 50, 5], [0, 5, 5]], dtype=torch.uint8)
    assert torch.equal(canvas, expected)


def test_generate_is_seeded_and_the_first_sequences_do_not_depend_on_the_total(monkeypatch):
    monkeypatch.setattr(mm, "CHUNK", 3)
    digits = (torch.rand(20, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    a = mm.generate(digits, 7, seed=5)
    assert a.shape == (7, 20, 64, 64) and a.dtype == torch.uint8
    assert torch.equal(a, mm.generate(digits, 7, seed=5))
    assert torch.equal(a[:4], mm.generate(digits, 4, seed=5))
    assert not torch.equal(a, mm.generate(digits, 7, seed=6))
    # every frame holds two whole digits: its maximum is at least the brighter digit's maximum somewhere
    assert (a.flatten(2).amax(2) > 0).all()


def test_digits_move_by_the_step_between_frames():
    digit = torch.zeros(1, 28, 28, dtype=torch.uint8)
    digit[0, 10:18, 10:18] = 255  # a bright square
    clip = mm.generate(digit, 1, seed=0, n_digits=1)[0].float()
    rows, cols = torch.arange(64.0), torch.arange(64.0)
    mass = clip.sum((1, 2))
    centre_r = (clip.sum(2) * rows).sum(1) / mass
    centre_c = (clip.sum(1) * cols).sum(1) / mass
    moves = ((centre_r[1:] - centre_r[:-1]) ** 2 + (centre_c[1:] - centre_c[:-1]) ** 2).sqrt()
    assert moves.max() <= mm.STEP * 36 + 1.5  # 3.6 px per frame, give or take rounding and a bounce
    assert moves.mean() > 2.0


def test_the_test_set_ignores_the_seed_and_the_dataset_is_video(shared, monkeypatch):
    digits = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8)
    test_a, test_b = mm.sequences(digits, "test", seed=0, n=3), mm.sequences(digits, "test", seed=9, n=3)
    train = mm.sequences(digits, "train", seed=0, n=3)
    assert test_a.shape == (3, 20, 64, 64)
    assert torch.equal(test_a, test_b) and not torch.equal(test_a, train)
    monkeypatch.setattr(mm, "N_TRAIN", 5)
    monkeypatch.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    data = load_dataset("moving-mnist")
    assert data.kind == "video" and data.x.shape == (5, 20, 64, 64) and data.x.dtype == torch.uint8
    spec = data_spec(data)
    assert not spec.is_image and spec.shape == (20, 64, 64)


@pytest.mark.parametrize("n", [0])
def test_no_sequences(n):
    assert mm.generate(torch.zeros(2, 28, 28, dtype=torch.uint8), n, 0).shape == (0, 20, 64, 64)
