"""CycleGAN: its losses by hand, the pools of past fakes, what it refuses, exact resume with two data streams,
and a short run on mnist-colour that learns both directions and is measured both ways by `ganforge eval`."""

import dataclasses
import json

import pytest
import torch
from PIL import Image

from ganforge import losses
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.families.cyclegan import to_channels
from ganforge.runs import load_data

SPEC = DataSpec((3, 28, 28), True, n_classes=10, input_shape=(1, 28, 28), paired=False)
SMALL = ["family.g_width=4", "family.d_width=8", "family.blocks=1", "log.tensorboard=false"]


def cyclegan(*sets, spec=SPEC):
    return build_family(load_config("cyclegan-mnist-colour", [*SMALL, *sets]), spec)


def step_context():
    return Step(0, 0, 4, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_losses_by_hand():
    torch.manual_seed(0)
    f = cyclegan("family.pool=0", "family.identity=0.5")  # the paper's identity loss (the preset has none)
    a, b = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 3, 28, 28) * 2 - 1
    batch = Batch(x_A=a, x_B=b)
    g_loss, stats = f.loss("G", batch, step_context())
    fake_b, fake_a = f.G_AB(a), f.G_BA(b)
    adversarial = 0.5 * (f.D_B(fake_b) - 1).pow(2).mean() + 0.5 * (f.D_A(fake_a) - 1).pow(2).mean()
    cycle = (f.G_BA(fake_b) - a).abs().mean() + (f.G_AB(fake_a) - b).abs().mean()
    identity = (f.G_AB(b.mean(1, keepdim=True)) - b).abs().mean() + (f.G_BA(a.expand(-1, 3, -1, -1)) - a).abs().mean()
    assert torch.allclose(g_loss, adversarial + 10 * cycle + 5 * identity, atol=1e-5)
    assert torch.allclose(stats["loss_cycle"], cycle, atol=1e-6)
    d_loss, _ = f.loss("D", batch, step_context())  # the fakes of G's phase, no pool
    expected = losses.d_loss_lsgan(f.D_A(a), f.D_A(fake_a)) + losses.d_loss_lsgan(f.D_B(b), f.D_B(fake_b))
    assert torch.allclose(d_loss, expected, atol=1e-6)
    without = cyclegan("family.pool=0", "family.identity=0")
    without.load_state_dict(f.state_dict())
    g_plain, stats = without.loss("G", batch, step_context())
    assert torch.allclose(g_plain, adversarial + 10 * cycle, atol=1e-5) and "loss_identity" not in stats


def test_to_channels_and_translation_shapes():
    gray, colour = torch.rand(2, 1, 8, 8), torch.rand(2, 3, 8, 8)
    assert torch.equal(to_channels(colour, 1), colour.mean(1, keepdim=True))
    assert torch.equal(to_channels(gray, 3)[:, 2], gray[:, 0]) and to_channels(gray, 1) is gray
    f = cyclegan().eval()
    assert f.translate(torch.zeros(2, 1, 28, 28), "AB").shape == (2, 3, 28, 28)
    assert f.translate(torch.zeros(2, 3, 28, 28), "BA").shape == (2, 1, 28, 28)
    assert f.translate(torch.zeros(1, 1, 36, 44), "AB").shape == (1, 3, 36, 44)  # any size that divides by 4


def test_half_of_what_d_sees_comes_from_the_pool_once_it_fills():
    f = cyclegan("family.pool=8")
    fake = torch.zeros(4, 3, 28, 28)
    assert torch.equal(f._pooled("B", fake), fake)  # empty pool: the fresh batch
    f._pooled("B", torch.ones(4, 3, 28, 28))  # the pool now holds zeros and ones
    seen = f._pooled("B", torch.full((4, 3, 28, 28), 2.0))
    assert (seen[:, 0, 0, 0] == 2).sum() == 2 and (seen[:, 0, 0, 0] < 2).sum() == 2
    assert len(f.pools["B"]) == 8 and len(f.pools["A"]) == 0


@pytest.mark.parametrize("sets, spec, message", [
    (["family.patch_layers=7"], SPEC, "family.patch_layers"),
    (["family.cycle=-1"], SPEC, "must be >= 0"),
    (["family.objective=hinge"], SPEC, "family.objective"),
    (["train.ema=0.999"], SPEC, "train.ema"),
    ([], dataclasses.replace(SPEC, shape=(3, 30, 30), input_shape=(1, 30, 30)), "divide by 4"),
    ([], dataclasses.replace(SPEC, input_shape=(1, 14, 14)), "one size"),
    ([], DataSpec((1, 28, 28), True), "image-to-image data"),
])
def test_refuses_what_it_cannot_train(sets, spec, message):
    with pytest.raises(UserError, match=message):
        cyclegan(*sets, spec=spec)


def test_a_subset_of_unpaired_data_takes_each_domain_apart(shared, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    data = load_data(load_config("cyclegan-mnist-colour", ["data.subset=50"]))
    assert not data.paired and data.x.shape == (50, 3, 28, 28) and data.inputs.shape == (50, 1, 28, 28)
    assert torch.equal(data.y.bincount(), torch.full((10,), 5)) and torch.equal(data.input_labels.bincount(),
                                                                                 torch.full((10,), 5))


def test_a_short_run_learns_both_ways_and_is_measured_both_ways(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    common = ["--set", "data.subset=1000", "--set", "family.g_width=8", "--set", "family.d_width=16",
              "--set", "family.blocks=2", "--set", "log.tensorboard=false", "--set", "log.sample_every=1000",
              "--set", "train.batch_size=8", "--set", "family.identity=0.5", "--quiet"]  # identity: faster start
    for name, steps in (("untrained", 1), ("run", 150)):
        assert main(["train", "--config", "cyclegan-mnist-colour", "--steps", str(steps), "--out",
                     str(tmp_path / name), *common]) == 0
    with Image.open(tmp_path / "run" / "samples.png") as img:  # 16 examples, both round trips, 2 to a row
        assert img.size == (2 * (12 * (28 + 2) + 2), 2 * (8 * (28 + 2) + 2)) and img.mode == "RGB"
    scores = {}
    for name in ("untrained", "run"):
        assert main(["eval", str(tmp_path / name), "--n", "300"]) == 0
        scores[name] = json.loads((tmp_path / name / "eval.json").read_text())["values"]
    trained, untrained = scores["run"], scores["untrained"]
    assert "300 translated mnist-colour test inputs" in capsys.readouterr().out
    for key in ("cycle_l1_aba", "cycle_l1_bab"):  # the round trips come back closer
        assert trained[key] < 0.7 * untrained[key]
    assert trained["class_accuracy"] > untrained["class_accuracy"] + 0.2  # A -> B keeps the digit
    assert trained["fd_classifier_ba"] < 0.5 * untrained["fd_classifier_ba"]  # B -> A looks like A (still faint)
    assert trained["class_accuracy_real"] > 0.95 and trained["class_accuracy_real_ba"] > 0.95  # the ceilings
    assert {"l1_ba", "psnr_ba", "ssim_ba", "fd_classifier", "fd_classifier_ba", "flip_rate"} <= trained.keys()
