"""SRGAN: its losses by hand (pixel, content in a classifier's feature maps, GAN), SRResNet as the same family
with the GAN weight at 0, what it refuses, and a short SRResNet run on fashion-sr4 that learns, is measured
beside bicubic interpolation, starts an SRGAN (family.init) and enlarges a user's image by its scale."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge import api
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.metrics.classifier import load_classifier

SPEC = DataSpec((1, 28, 28), True, n_classes=10, input_shape=(1, 7, 7))
SMALL = ["family.g_width=8", "family.d_width=8", "family.blocks=2", "log.tensorboard=false"]


def srgan(*sets, spec=SPEC, preset="srgan-fashion-sr4"):
    return build_family(load_config(preset, [*SMALL, *sets]), spec)


def step_context(n=4):
    return Step(0, 0, n, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_losses_by_hand():
    torch.manual_seed(0)
    f = srgan("family.pixel=2", "family.content=0.5", "family.gan=0.01").eval()  # eval: G(a) can be recomputed
    a, x = torch.rand(4, 1, 7, 7) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    batch = Batch(x, torch.arange(4), a=a)
    d_loss, _ = f.loss("D", batch, step_context())
    fake = f.G(a)
    assert fake.shape == (4, 1, 28, 28)
    expected = F.softplus(-f.D(x)).mean() + F.softplus(f.D(fake)).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    g_loss, stats = f.loss("G", batch, step_context())
    judge, meta = load_classifier("fashion-mnist-seed1")  # the second seed: eval grades with the first
    assert meta["recipe"]["seed"] == 1 and meta["test_accuracy"] > 0.9
    maps = judge.body[:-2]
    content = ((maps(fake) - maps(x)) ** 2).mean()
    expected = 2 * ((fake - x) ** 2).mean() + 0.5 * content + 0.01 * F.softplus(-f.D(fake)).mean()
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-4)
    assert stats["loss_content"].item() == pytest.approx(content.item(), rel=1e-4)
    g_loss.backward()
    assert all(p.grad is None for p in judge.parameters())  # the judge is not trained
    assert not any(k.startswith("_content") for k in f.state_dict())  # nor saved with the weights


def test_srresnet_is_the_family_without_its_discriminator():
    f = srgan(preset="srgan-fashion-sr4-mse")
    assert [(p.name, p.steps) for p in f.phases()] == [("G", "G")]
    a, x = torch.rand(4, 1, 7, 7) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    loss, stats = f.eval().loss("G", Batch(x, torch.arange(4), a=a), step_context())
    assert loss.item() == pytest.approx(((f.G(a) - x) ** 2).mean().item(), rel=1e-5) and set(stats) == {"loss_pixel"}


@pytest.mark.parametrize(("sets", "spec", "message"), [
    ((), DataSpec((1, 28, 28), True, input_shape=(1, 28, 28)), "model.family=pix2pix"),
    ((), DataSpec((1, 28, 28), True, input_shape=(1, 9, 9)), "power of two"),
    (("family.pixel=0", "family.content=0", "family.gan=0"), SPEC, "not all 0"),
    ((), DataSpec((3, 28, 28), True, input_shape=(3, 7, 7)), "family.content=0"),
    (("family.d_stages=7",), SPEC, "family.d_stages"),
])
def test_refuses_what_it_cannot_train(sets, spec, message):
    with pytest.raises(UserError, match=message):
        srgan(*sets, spec=spec)


def test_a_short_run_learns_is_measured_beside_bicubic_and_enlarges_a_user_image(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("fashion-mnist").parent))
    common = ["--set", "data.subset=512", "--set", "family.g_width=16", "--set", "family.blocks=2",
              "--set", "log.tensorboard=false", "--set", "log.sample_every=1000", "--quiet"]
    # 400 steps: at 200 class accuracy sat on the bound below on one CPU (29.7% against 9.7% untrained)
    for name, steps in (("untrained", 1), ("run", 400)):
        assert main(["train", "--config", "srgan-fashion-sr4-mse", "--steps", str(steps), "--out",
                     str(tmp_path / name), *common]) == 0
    with Image.open(tmp_path / "run" / "samples.png") as img:  # input (as 4x4 blocks) | output | target
        assert img.size == (2 * (12 * (28 + 2) + 2), 2 * (4 * (28 + 2) + 2))
    scores = {}
    for name in ("untrained", "run"):
        assert main(["eval", str(tmp_path / name), "--n", "300"]) == 0
        scores[name] = json.loads((tmp_path / name / "eval.json").read_text())["values"]
    assert "300 translated fashion-sr4 test inputs" in capsys.readouterr().out
    trained, untrained = scores["run"], scores["untrained"]
    assert trained["psnr"] > untrained["psnr"] + 5 and trained["class_accuracy"] > untrained["class_accuracy"] + 0.2
    # the baseline is the same for both runs, and on this data bicubic enlargement is a fair guess already
    assert trained["psnr_bicubic"] == untrained["psnr_bicubic"] and 14 < trained["psnr_bicubic"] < 20
    assert "fd_classifier_bicubic" in trained and "class_accuracy_real_bicubic" not in trained
    # SRGAN starts from this SRResNet (Ledig et al.): its G holds the run's weights before the first step
    from ganforge.runs import load_family

    srresnet, _, _ = load_family(tmp_path / "run")
    start = srgan(f"family.init={tmp_path / 'run'}", "family.g_width=16", spec=srresnet.spec)
    start.begin_training(None)
    assert all(torch.equal(a, b) for a, b in zip(start.G.state_dict().values(), srresnet.G.state_dict().values()))
    with pytest.raises(UserError, match="is not this run's network; train both with the same family.g_width"):
        srgan(f"family.init={tmp_path / 'run'}", spec=srresnet.spec).begin_training(None)
    with pytest.raises(UserError, match="family.init.*is not a run folder"):
        srgan(f"family.init={tmp_path / 'nothing'}", spec=srresnet.spec).begin_training(None)
    src = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (5, 9), dtype=np.uint8), "L").save(src)
    out = api.translate(tmp_path / "run", src, tmp_path / "big.png")
    with Image.open(out[0]) as img:
        assert img.size == (36, 20)  # 9x5 times the scale, 4
