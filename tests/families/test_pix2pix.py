"""pix2pix: its losses by hand, what it refuses, and a short run on fashion-edges that learns, draws input |
output | target and is measured by `ganforge eval`."""

import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.runs import load_family

SPEC = DataSpec((1, 32, 32), True, n_classes=10, input_shape=(1, 32, 32))
SMALL = ["family.g_width=8", "family.d_width=8", "log.tensorboard=false"]


def pix2pix(*sets, spec=SPEC):
    cfg = load_config("pix2pix-fashion-edges", [*SMALL, *sets])
    return build_family(cfg, spec)


def step_context(n=4):
    return Step(0, 0, n, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_losses_by_hand():
    torch.manual_seed(0)
    f = pix2pix("family.l1=10", "family.gan=0.5", "family.patch_layers=3").eval()  # eval: no dropout, so G(a) can be recomputed
    a, b = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    batch = Batch(b, torch.arange(4), a=a)
    d_loss, _stats = f.loss("D", batch, step_context())
    fake = f.G(a)
    real_logits, fake_logits = f.D(torch.cat([a, b], 1)), f.D(torch.cat([a, fake], 1))
    assert real_logits.shape[-2:] == (2, 2)  # patches of 34 px over a 32 px image
    expected = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    g_loss, g_stats = f.loss("G", batch, step_context())
    expected = 0.5 * F.softplus(-fake_logits).mean() + 10 * (fake - b).abs().mean()
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert g_stats["loss_l1"].item() == pytest.approx((fake - b).abs().mean().item(), rel=1e-5)
    assert [(p.name, p.steps, p.freeze, p.data) for p in f.phases()] == [("D", "D", (), True),
                                                                         ("G", "G", ("D",), False)]


def test_d_sees_the_pair_and_the_patch_layers_set_its_field():
    assert pix2pix("family.patch_layers=0").D(torch.zeros(1, 2, 32, 32)).shape == (1, 1, 32, 32)
    assert pix2pix("family.patch_layers=1").D(torch.zeros(1, 2, 32, 32)).shape == (1, 1, 14, 14)
    assert pix2pix("family.patch_layers=-1").D(torch.zeros(1, 2, 32, 32)).shape == (1, 1, 1, 1)
    colour = DataSpec((3, 32, 32), True, input_shape=(1, 32, 32))
    f = pix2pix(spec=colour)
    assert f.D.body[0].in_channels == 4 and f.G(torch.zeros(1, 1, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(("sets", "spec", "message"), [
    ((), DataSpec((1, 32, 32), True, input_shape=(1, 32, 32), paired=False), "model.family=cyclegan"),
    ((), DataSpec((1, 28, 28), True, input_shape=(1, 7, 7)), "model.family=srgan"),
    ((), DataSpec((1, 28, 28), True), "needs image-to-image data"),
    (("family.l1=0", "family.gan=0"), SPEC, "not both 0"),
    (("family.patch_layers=6",), SPEC, "family.patch_layers"),
    (("train.ema=0.999",), SPEC, "train.ema=0"),
    (("family.objective=wgan",), SPEC, "'family.objective' must be one of gan, lsgan"),
])
def test_refuses_what_it_cannot_train(sets, spec, message):
    with pytest.raises(UserError, match=message):
        pix2pix(*sets, spec=spec)


def test_a_short_run_learns_the_task_draws_triples_and_is_measured(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("fashion-mnist").parent))
    run = tmp_path / "run"
    common = ["--set", "data.subset=512", "--set", "family.g_width=16", "--set", "family.d_width=16",
              "--set", "log.tensorboard=false", "--set", "log.sample_every=100", "--quiet"]
    assert main(["train", "--config", "pix2pix-fashion-edges", "--steps", "1", "--out", str(tmp_path / "untrained"),
                 *common]) == 0
    assert main(["train", "--config", "pix2pix-fashion-edges", "--steps", "200", "--out", str(run), *common]) == 0
    with Image.open(run / "samples.png") as img:  # 16 held-out examples as input | output | target, 4 per row
        assert img.size == (2 * (12 * (32 + 2) + 2), 2 * (4 * (32 + 2) + 2))
    scores = {}
    for name in ("untrained", "run"):
        assert main(["eval", str(tmp_path / name), "--n", "300"]) == 0
        scores[name] = json.loads((tmp_path / name / "eval.json").read_text())["values"]
    assert "300 translated fashion-edges test inputs" in capsys.readouterr().out
    trained, untrained = scores["run"], scores["untrained"]
    assert trained["l1"] < 0.7 * untrained["l1"] and trained["psnr"] > untrained["psnr"] + 3
    assert trained["class_accuracy"] > untrained["class_accuracy"] + 0.2
    assert trained["class_accuracy_real"] > 0.85  # the classifier on the true targets, the ceiling
    # the showcase travels with the weights: the family rebuilt from the run folder holds the test inputs
    family, _, _ = load_family(run)
    test_edges = json.loads((run / "run.json").read_text())["data"]
    assert test_edges["input_shape"] == [1, 32, 32] and bool(family.showcase_has_b)
    assert family.showcase_a.abs().sum() > 0 and family.showcase_a.min() >= -1


def test_a_shallow_u_net_note_suggests_a_size_that_halves_more():
    notes = pix2pix(spec=DataSpec((1, 28, 28), True, input_shape=(1, 28, 28))).training_notes()
    assert notes[1] == ("28x28 divides by 2 only 2 times, so G's U-Net is shallow (its narrowest level 7x7); "
                        "data.resolution=32 gives 5 halvings")
    assert len(pix2pix().training_notes()) == 1  # 32x32 halves 5 times: nothing to suggest
    assert len(pix2pix("family.unet_depth=2").training_notes()) == 1  # a depth asked for is not questioned


def test_data_that_is_not_pairs_is_named_before_the_size_of_its_images(tmp_path, capsys):
    def error(data: str) -> str:
        assert main(["train", "--config", "pix2pix-fashion-edges", "--data", data, "--out", str(tmp_path / "run"),
                     "--quiet"]) == 2
        return capsys.readouterr().err.strip()

    wide = Image.new("RGB", (12, 8), (200, 10, 10))  # non-square: without data.resolution a size error
    for name in ("plain/a.png", "plain/b.png", "unpaired/trainA/a.png", "unpaired/trainB/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        wide.save(tmp_path / name)
    assert error(str(tmp_path / "plain")) == (
        "ganforge train: error: the pix2pix family translates images and needs image-to-image data: data.name "
        "fashion-edges, fashion-sr4 or mnist-colour, or a folder holding A/ and B/ (pairs: the same file names), "
        "trainA/ and trainB/ (unpaired), or images with A and B side by side (data.layout=side_by_side)")
    assert error(str(tmp_path / "unpaired")) == (
        "ganforge train: error: pix2pix learns from pairs, and this data holds two unpaired domains: use "
        "model.family=cyclegan, or paired data (A/ and B/ with matching names)")
    assert not (tmp_path / "run").exists()
