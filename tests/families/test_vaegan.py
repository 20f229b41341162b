"""VAE-GAN: its phases (Larsen et al.'s Algorithm 1), losses by hand, the plain-VAE setting, and training."""

import math

import pytest
import torch
from PIL import Image

from ganforge import losses
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.metrics.classifier import ClassifierExtractor
from ganforge.metrics.frechet import fid_from_features
from ganforge.metrics.scoring import reconstruction_scores
from ganforge.runs import load_data, load_family
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer

SMALL = ["data.name=fashion-mnist-10k", "family.g_width=16", "family.d_width=16", "family.z_dim=16",
         "train.batch_size=32", "train.ema=0", "log.tensorboard=false", "eval.every=0"]
SPEC = DataSpec((1, 28, 28), True, n_classes=10, class_names=tuple("abcdefghij"))


def vaegan(*sets, preset="vaegan-fashion", spec=SPEC):
    cfg = load_config(preset, [*SMALL, *sets])
    return build_family(cfg, spec)


def step_context(n=8, seed=0):
    return Step(0, 0, n, torch.Generator().manual_seed(seed), torch.device("cpu"))


def test_kl_and_feature_error_by_hand():
    mean, log_var = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])
    assert losses.kl_to_standard_normal(mean, log_var).item() == pytest.approx(1 - math.log(2) / 2)
    assert losses.gaussian_feature_error(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)).item() == pytest.approx(2.5)


def test_phases_follow_algorithm_1_and_the_vae_drops_d():
    f = vaegan()
    assert [(p.name, p.steps, p.freeze, p.data) for p in f.phases()] == [
        ("D", "D", (), True), ("E", "E", ("G", "D"), False), ("G", "G", ("E", "D"), False)]
    vae = vaegan(preset="vae-fashion")
    assert [(p.name, p.data) for p in vae.phases()] == [("E", True), ("G", False)]


def test_losses_by_hand():
    f = vaegan("family.gamma=0.5")
    f.eval()  # BatchNorm with running statistics: the same forward here and by hand
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    batch = Batch(x, None)
    eps = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))  # the step's first draw
    mean, log_var = f.E(x)
    z = mean + (0.5 * log_var).exp() * eps
    recon_features = f.D.features(torch.tanh(f.G(z)))
    e_expected = losses.kl_to_standard_normal(mean, log_var) + 0.5 * ((recon_features - f.D.features(x)) ** 2
                                                                       ).flatten(1).sum(1).mean()
    e_loss, stats = f.loss("E", batch, step_context())
    assert e_loss.item() == pytest.approx(e_expected.item(), rel=1e-5) and {"loss_kl", "loss_recon"} <= set(stats)
    g_loss, g_stats = f.loss("G", batch, step_context())
    gen = torch.Generator().manual_seed(0)
    eps, prior = torch.randn(8, 16, generator=gen), torch.randn(8, 16, generator=gen)
    z = mean + (0.5 * log_var).exp() * eps
    out = f.G(torch.cat([z, prior]))
    recon = 0.5 * ((f.D.features(torch.tanh(out[:8])) - f.D.features(x)) ** 2).flatten(1).sum(1).mean()
    adversarial = torch.nn.functional.softplus(-f.D(torch.tanh(out))).mean()
    assert g_loss.item() == pytest.approx((0.5 * recon + adversarial).item(), rel=1e-4)
    assert g_stats["loss_g"].item() == pytest.approx(adversarial.item(), rel=1e-4)


def test_the_plain_vae_measures_pixels_as_bernoulli_means():
    f = vaegan(preset="vae-fashion")
    f.eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    pre = torch.randn(4, 1, 28, 28)
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(2 * pre), (x + 1) / 2, reduction="sum") / 4
    assert f.reconstruction_error(pre, x).item() == pytest.approx(expected.item(), rel=1e-4)
    assert torch.allclose(torch.tanh(pre), 2 * torch.sigmoid(2 * pre) - 1, atol=1e-6)  # the same image


@pytest.mark.parametrize("sets, message", [
    (["family.gan=0"], "family.reconstruction=pixels"),
    (["family.gamma=0"], "'family.gamma'"),
    (["family.reconstruction=vgg"], "'family.reconstruction' must be one of features, pixels"),
])
def test_bad_options_are_one_line(sets, message):
    with pytest.raises(UserError, match=message):
        vaegan(*sets)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_at_each_size(size):
    f = vaegan(spec=DataSpec((3, size, size), True))
    x = torch.rand(2, 3, size, size) * 2 - 1
    mean, log_var = f.E(x)
    assert mean.shape == log_var.shape == (2, 16)
    assert f.decode({"z": mean}).shape == (2, 3, size, size)
    assert f.D(x).shape == (2,)


def _trainer(preset):
    cfg = load_config(preset, SMALL)
    dataset = load_data(cfg)
    return build_trainer(cfg, dataset), dataset


def test_the_vae_learns_to_reconstruct():
    trainer, dataset = _trainer("vae-fashion")
    test = dataset.x[-500:]
    before = reconstruction_scores(trainer.family.generator().reconstruct, test)["recon_ssim"]
    stats = RunningStats()
    for _ in range(150):
        trainer.train_step(stats)
    after = reconstruction_scores(trainer.family.generator().reconstruct, test)["recon_ssim"]
    assert after > before + 0.15, (before, after)  # 0.08 -> 0.37 when written


def test_the_vaegan_learns_to_sample():
    trainer, dataset = _trainer("vaegan-fashion")
    extractor = ClassifierExtractor("fashion-mnist")
    real = extractor.features(dataset.x[-1000:])

    def fd():
        f = trainer.family
        return fid_from_features(real, extractor.features(f.generator()(f.noise(1000, torch.Generator().manual_seed(0)))))

    before = fd()
    stats = RunningStats()
    for _ in range(150):
        trainer.train_step(stats)
    assert {"loss_d", "loss_kl", "loss_recon", "loss_g"} <= set(stats.read_and_reset())
    assert fd() < 0.75 * before  # 118 -> 70 when written


def test_train_sample_eval_explore_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "vaegan-fashion", "--out", str(run), "--steps", "4", "--quiet",
                 *[f"--set={s}" for s in [*SMALL, "log.sample_every=2", "log.checkpoint_every=2"]]]) == 0
    for name in ("samples.png", "recon.png", "recon.gif"):
        assert Image.open(run / name).size[0] > 50, name
    family, _, step = load_family(run)
    assert step == 4 and family.latent_kind() == "gaussian"
    assert main(["eval", str(run), "--n", "100", "--metrics", "fid"]) == 0
    out = capsys.readouterr().out
    assert "recon_ssim" in out and "fd_classifier" in out
    # encoded images as interpolation ends
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    x = load_data(load_config("vaegan-fashion", SMALL)).x
    Image.fromarray(x[0, 0].numpy()).save(a)
    Image.fromarray(x[1, 0].numpy()).save(b)
    assert main(["explore", "interpolate", str(run), "--images", str(a), str(b), "--steps", "5"]) == 0
    png = run / "explore" / "interpolate_images.png"
    width, height = Image.open(png).size  # a row of 5, captions beside it and above
    assert width > 2 * (5 * 30 + 2) and height > 2 * 32
    assert main(["explore", "attribute", str(run), "--attr", "1", "--images", str(a), "--strength", "0", "1"]) == 0
    assert Image.open(run / "explore" / "attribute_1.gif").n_frames >= 1
