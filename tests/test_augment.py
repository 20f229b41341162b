"""DiffAugment and ADA: their defining properties, hand-checked ops, and the switch in training."""

import json

import pytest
import torch

from ganforge import augment
from ganforge.cli import main
from ganforge.errors import UserError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_translation_moves_whole_pixels_and_fills_with_zeros():
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    seen = set()
    for seed in range(40):
        y = augment.translation(x, gen(seed), ratio=0.25)  # up to one pixel each way
        nonzero = y[y != 0]
        # a shift keeps a block of the original, in order, and fills the rest with zeros
        assert set(nonzero.tolist()) <= set(x.flatten().tolist()) and len(nonzero) in (9, 12, 16)
        seen.add(tuple(y.flatten().tolist()))
    assert len(seen) == 9  # every shift in {-1, 0, 1}^2 drawn
    right = torch.tensor([[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15]], dtype=torch.float32)
    assert any(torch.equal(augment.translation(x, gen(s), 0.25)[0, 0], right) for s in range(40))


def test_cutout_zeroes_one_square_of_half_the_size():
    x = torch.ones(200, 1, 8, 8)
    y = augment.cutout(x, gen(), ratio=0.5)
    holes = (y == 0).sum(dim=(1, 2, 3))
    assert holes.max() == 16 and holes.min() >= 4  # 4x4 inside, less where it leaves the image
    for img in y[:20, 0]:
        r, c = torch.nonzero(img == 0, as_tuple=True)
        assert (r.max() - r.min() + 1) * (c.max() - c.min() + 1) == len(r)  # one rectangle


def test_colour_ops_match_their_formulas():
    x = torch.rand(6, 3, 5, 5) * 2 - 1
    u = torch.rand(6, 1, 1, 1, generator=gen(3))
    torch.testing.assert_close(augment.brightness(x, gen(3)), x + (u - 0.5))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(augment.contrast(x, gen(3)), (x - mean) * (u + 0.5) + mean)
    gray = x.mean(dim=1, keepdim=True)
    torch.testing.assert_close(augment.saturation(x, gen(3)), (x - gray) * (u * 2) + gray)
    one_channel = x[:, :1]
    torch.testing.assert_close(augment.saturation(one_channel, gen(3)), one_channel)  # gray has no saturation


def test_rot90_and_xflip_keep_every_pixel():
    x = torch.randn(10, 1, 6, 6)
    for op in (augment.rot90, augment.xflip):
        y = op(x, gen())
        assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
        assert not torch.equal(y, x)


@pytest.mark.parametrize("kind", ["diffaugment", "ada"])
def test_gradients_flow_through_the_augmentation(kind):
    aug = augment.Augmenter(kind, seed=0)
    aug.p = torch.tensor(0.9)
    x = torch.randn(16, 3, 8, 8, requires_grad=True)
    aug(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # the gradient of a translation or cutout is zero exactly where the pixel left the picture, not everywhere
    assert (x.grad == 0).float().mean() < 0.9


def test_ada_p_moves_toward_the_overfitting_target():
    aug = augment.Augmenter("ada", target=0.6, kimg=1, interval=4, batch_size=100)  # steps of 0.4
    confident = torch.full((100, 1), 3.0)  # D says "real" to every real image: r = 1 > 0.6
    for _ in range(8):
        aug.observe(confident)
    assert aug.p.item() == pytest.approx(0.8)
    unsure = torch.cat([torch.full((50, 1), 1.0), torch.full((50, 1), -1.0)])  # r = 0 < 0.6
    for _ in range(4):
        aug.observe(unsure)
    assert aug.p.item() == pytest.approx(0.4)
    for _ in range(40):
        aug.observe(unsure)
    assert aug.p.item() == 0.0  # clamped
    assert augment.ada_augment(torch.ones(5, 1, 4, 4), aug.p, gen()).equal(torch.ones(5, 1, 4, 4))  # p = 0: none


def test_bad_settings_are_one_line_errors():
    with pytest.raises(UserError, match="augment_policy"):
        augment.Augmenter("diffaugment", policy="color,blur")
    with pytest.raises(UserError, match="ada_target"):
        augment.Augmenter("ada", target=1.5)


def test_training_with_ada_logs_p_saves_it_and_resumes_it(tmp_path, capsys):
    run = tmp_path / "r"
    tiny = ["--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "train.batch_size=8", "--set",
            "log.every=2", "--set", "log.tensorboard=false", "--set", "eval.every=0", "--quiet"]
    assert main(["train", "--out", str(run), "--steps", "8", "--set", "train.augment=ada", "--set",
                 "train.ada_kimg=0.01", "--set", "train.ada_interval=1", *tiny]) == 0
    ps = [r["ada_p"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "ada_p" in r]
    assert len(ps) == 4 and max(ps) > 0  # an untrained D is sure of nothing: p moves, in steps of 0.8
    from safetensors.torch import load_file

    state = load_file(str(run / "checkpoints" / "step_000008" / "state.safetensors"))
    assert "family.augment.p" in state and "family.augment.generator" in state
    assert main(["train", "--resume", str(run), "--steps", "10", *tiny]) == 0
    # the same run straight to 10 steps gives the same weights: p and the augmentation stream resume exactly
    straight = tmp_path / "s"
    assert main(["train", "--out", str(straight), "--steps", "10", "--set", "train.augment=ada", "--set",
                 "train.ada_kimg=0.01", "--set", "train.ada_interval=1", "--set", "log.checkpoint_every=8",
                 *tiny]) == 0
    a = load_file(str(run / "checkpoints" / "step_000010" / "model.safetensors"))
    b = load_file(str(straight / "checkpoints" / "step_000010" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_diffaugment_trains_and_families_without_images_refuse_it(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "d"), "--steps", "2", "--quiet", "--set", "train.augment=diffaugment",
                 "--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "train.batch_size=8",
                 "--set", "eval.every=0"]) == 0
    assert main(["train", "--config", "toy-ring", "--out", str(tmp_path / "t"), "--steps", "2", "--quiet",
                 "--set", "train.augment=diffaugment"]) == 2
    assert "train.augment" in capsys.readouterr().err
