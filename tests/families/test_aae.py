"""The adversarial autoencoder: its phases on the family contract, its priors, and that training works."""

import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.priors import component_of
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.runs import load_data, load_family
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer, train

SMALL = ["data.name=fashion-mnist-10k", "data.holdout=0", "family.hidden=[64]", "train.batch_size=32",
         "log.tensorboard=false", "eval.every=0"]
SPEC = DataSpec((1, 28, 28), True, n_classes=10, class_names=tuple("abcdefghij"))


def aae(*sets):
    cfg = load_config("aae-mnist", [*SMALL, *sets])
    return cfg, build_family(cfg, SPEC)


def step_context(n=8):
    return Step(0, 0, n, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_groups_and_phases_follow_the_paper():
    _, f = aae()
    assert set(f.groups()) == {"AE", "D", "E"}
    assert f.groups()["AE"] == [f.E, f.G] and f.groups()["E"] == [f.E]
    assert [(p.name, p.steps, p.freeze, p.data) for p in f.phases()] == [
        ("recon", "AE", (), True), ("D", "D", (), False), ("E", "E", ("D",), False)]


def test_losses_by_hand():
    _, f = aae("family.reconstruction=mse")
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    batch = Batch(x, torch.arange(8))
    loss, stats = f.loss("recon", batch, step_context())
    expected = ((torch.tanh(f.G(f.E(x)) / 2) - x) ** 2).flatten(1).sum(1).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and "loss_recon" in stats
    d_loss, d_stats = f.loss("D", batch, step_context())
    assert 0 < d_stats["d_real"].item() < 1
    prior = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))  # the Gaussian prior's draw
    real, fake = f.D(prior), f.D(f.E(x).detach())
    by_hand = torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()
    assert d_loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    e_loss, _ = f.loss("E", batch, step_context())
    assert e_loss.item() == pytest.approx(torch.nn.functional.softplus(-fake).mean().item(), rel=1e-5)


def test_supervised_discriminator_sees_the_label_and_the_label_component():
    _, f = aae("family.prior=mixture", "family.code_dim=2", "family.supervised=true")
    assert f.D[0].in_features == 2 + 10
    labels = torch.tensor([3, 7] * 50)
    draws = f.prior_draws(Step(0, 0, 100, torch.Generator().manual_seed(1), torch.device("cpu")), labels)
    assert (component_of(draws) == labels).float().mean() > 0.99


@pytest.mark.parametrize("sets, message", [
    (["family.prior=mixture"], "'family.code_dim' must be 2"),
    (["family.supervised=true"], "family.prior=mixture or swiss_roll"),
    (["family.prio=mixture"], "unknown config key 'family.prio'; did you mean 'family.prior'"),
    (["family.prior=circle"], "'family.prior' must be one of gaussian, mixture, swiss_roll"),
])
def test_bad_options_are_one_line(sets, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        aae(*sets)


def test_optimiser_groups_are_checked_against_the_family(tmp_path):
    cfg = load_config("aae-mnist", [*SMALL, "optim.g.lr=1e-3"])
    with pytest.raises(UserError, match="'optim.g': the aae family has the optimiser groups ae, d, e"):
        train(cfg, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_training_lowers_the_reconstruction_error_and_pulls_codes_to_their_components():
    cfg = load_config("aae-mnist", [*SMALL, "family.prior=mixture", "family.code_dim=2", "family.supervised=true",
                                    "family.hidden=[128]", "train.batch_size=100", "optim.ae.lr=1e-3",
                                    "optim.d.lr=1e-3", "optim.e.lr=1e-3"])
    dataset = load_data(cfg)
    trainer = build_trainer(cfg, dataset)
    x, y = dataset.x[:2000], dataset.y[:2000]
    share_before = trainer.family.code_share(x, y)
    stats = RunningStats()
    trainer.train_step(stats)
    first = stats.read_and_reset()["loss_recon"]
    for _ in range(299):
        trainer.train_step(stats)
    last = stats.read_and_reset()["loss_recon"]
    assert last < 0.8 * first
    assert trainer.family.code_share(x, y) > max(0.3, share_before + 0.2)  # chance: 0.1


def test_train_sample_eval_end_to_end(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--config", "aae-mnist", "--out", str(run), "--steps", "6", "--quiet",
            *[f"--set={s}" for s in [*SMALL, "family.prior=mixture", "family.code_dim=2", "family.supervised=true",
                                      "log.sample_every=3", "log.checkpoint_every=3"]]]
    assert main(args) == 0
    for name in ("samples.png", "recon.png", "codes.png", "codes.gif", "recon.gif"):
        assert Image.open(run / name).size[0] > 50, name
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png"), "--option", "class=3", "--n", "16"]) == 0
    assert main(["sample", str(run), "--out", str(tmp_path / "s.npz"), "--n", "20"]) == 0
    family, _, step = load_family(run)
    assert step == 6 and family.SAMPLER == "G"
    assert main(["sample", str(run), "--out", str(tmp_path / "t.png"), "--option", "truncation=1"]) == 2
    assert main(["eval", str(run), "--n", "200", "--metrics", "fid"]) == 0
    assert main(["train", "--resume", str(run), "--steps", "8", "--quiet"]) == 0
