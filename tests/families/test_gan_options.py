"""Every objective and stabiliser switch of the GAN family, wired end to end."""

import copy
import math

import pytest
import torch
from torch import nn

from ganforge import losses
from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.families import Batch, DataSpec, build_family
from ganforge.nets.stabilisers import add_batch_statistics
from ganforge.runs import load_data, load_family
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer, train

TOY = ["family.g_hidden=[16]", "family.d_hidden=[16]", "data.n_toy=1000", "train.batch_size=32",
       "log.tensorboard=false", "log.sample_every=1000", "log.checkpoint_every=3", "log.every=1"]


def toy_gan(*overrides):
    return build_family(load_config("toy-ring", [*TOY, *overrides]), DataSpec((2,), is_image=False))


def trainer_after(steps, *overrides):
    cfg = load_config("toy-ring", [*TOY, *overrides])
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for _ in range(steps):
        trainer.train_step(stats)
    return trainer, stats.read_and_reset()


@pytest.mark.parametrize("objective", ["gan", "wgan", "hinge", "lsgan"])
def test_each_objective_trains_and_reports_its_own_statistics(objective):
    _, stats = trainer_after(3, f"family.objective={objective}")
    assert all(math.isfinite(v) for v in stats.values())
    if objective == "gan":
        assert {"d_real", "d_fake"} <= set(stats)
    else:  # a critic's outputs are not probabilities
        assert {"critic_real", "critic_fake"} <= set(stats) and "d_real" not in stats


def test_objective_losses_are_the_named_functions():
    gan = toy_gan("family.objective=hinge")
    for p in gan.D.parameters():
        nn.init.zeros_(p)  # D(x) = 0 everywhere: hinge D loss = 1 + 1, G loss = 0
    loss, _ = gan.d_loss(Batch(torch.randn(4, 2)), torch.randn(4, 2))
    assert loss.item() == pytest.approx(2.0)
    assert gan.g_loss(torch.randn(4, 2))[0].item() == pytest.approx(0.0)


def test_one_sided_label_smoothing_changes_only_the_real_target():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5])
    s = 0.1
    expected = ((1 - s) * -torch.log(torch.sigmoid(real)) - s * torch.log(1 - torch.sigmoid(real))).mean() \
        - torch.log(1 - torch.sigmoid(fake)).mean()
    assert losses.d_loss_bce(real, fake, s).item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses.d_loss_bce(real, fake, 0.0).item() == pytest.approx(losses.d_loss_bce(real, fake).item())


def test_penalties_are_added_and_reported():
    _, stats = trainer_after(2, "family.objective=wgan", "family.gp=10", "family.dragan=1", "family.r1=1")
    assert stats["gp"] > 0 and stats["dragan"] > 0 and stats["r1"] > 0


def test_lazy_r1_runs_every_r1_every_d_steps():
    gan = toy_gan("family.r1=1", "family.r1_every=3")
    seen = [("r1" in gan.d_loss(Batch(torch.randn(4, 2)), torch.randn(4, 2))[1]) for _ in range(6)]
    assert seen == [True, False, False, True, False, False]


def test_top_k_fraction_decays_each_epoch_down_to_its_floor():
    gan = build_family(load_config("toy-ring", [*TOY, "family.g_top_k=0.5", "family.g_top_k_decay=0.9"]),
                       DataSpec((2,), is_image=False, n_examples=1000))
    fractions = []
    for d_steps in (0, 31, 32, 63, 1000):  # batches of 32: epochs 0, 0, 1 (1,024 images), 2, 32
        gan.d_steps_done = d_steps
        fractions.append(gan.top_k_fraction())
    assert fractions == pytest.approx([1.0, 1.0, 0.9, 0.81, 0.5])
    assert toy_gan().top_k_fraction() == 1.0  # off by default


def test_top_k_gives_g_gradient_from_the_fakes_d_rates_most_real_only():
    gan = build_family(load_config("toy-ring", [*TOY, "family.g_top_k=0.25"]), DataSpec((2,), is_image=False,
                                                                                      n_examples=1000))
    gan.d_steps_done = 10_000  # long past the decay: a quarter of the fakes count
    z = torch.randn(16, 2, requires_grad=True)
    with torch.no_grad():
        scores = gan.D(gan.G(z))
    loss, _ = gan.g_loss(z)
    loss.backward()
    chosen = z.grad.abs().sum(1) > 0  # each sample's z reaches G's loss through its own fake only
    assert chosen.sum() == 4
    assert set(chosen.nonzero().flatten().tolist()) == set(scores.topk(4).indices.tolist())
    assert loss.item() == pytest.approx(losses.g_loss_nonsaturating(scores.topk(4).values).item(), rel=1e-6)


def test_weight_clipping_bounds_the_critic_after_each_d_step():
    trainer, _ = trainer_after(2, "family.objective=wgan", "family.clip=0.01", "optim.d.name=rmsprop",
                               "optim.d.lr=5e-5")
    assert all(p.abs().max() <= 0.01 for p in trainer.family.D.parameters())


def test_pacgan_packs_m_samples_into_one_d_input():
    gan = toy_gan("family.pack=4")
    first = next(m for m in gan.D.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 2 * 4
    assert gan.critic(torch.randn(32, 2)).shape == (8,)
    with pytest.raises(UserError, match="multiple of family.pack"):
        load_config("toy-ring", ["family.pack=3", "train.batch_size=32"])


def test_batch_statistics_leave_d_unchanged_at_the_start():
    d = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.LeakyReLU(0.2), nn.Linear(5, 1), nn.Flatten(0))
    x = torch.randn(8, 6)
    for std, disc in ((4, 0), (0, 3), (2, 3)):
        extended = add_batch_statistics(copy.deepcopy(d), std, disc, 4)
        assert torch.allclose(extended(x), d(x), atol=1e-6)  # the head's new inputs start with weight 0
        head = [m for m in extended if isinstance(m, nn.Linear)][-1]
        assert head.in_features == 5 + disc + (1 if std else 0)


def test_batch_statistics_on_a_dcgan_head():
    cfg = load_config(None, ["family.minibatch_std=4", "family.minibatch_disc=8", "family.d_width=8"])
    gan = build_family(cfg, DataSpec((1, 28, 28), is_image=True))
    assert gan.D(torch.randn(8, 1, 28, 28)).shape == (8,)
    dc = build_family(load_config("dcgan-64", ["family.minibatch_std=4", "family.d_width=8", "family.g_width=8"]),
                      DataSpec((3, 32, 32), is_image=True))
    assert dc.D(torch.randn(8, 3, 32, 32)).shape == (8,)  # a conv head grows one input channel


def test_spectral_norm_wraps_the_chosen_networks():
    gan = toy_gan("family.spectral_norm=d")
    assert all(hasattr(m, "parametrizations") for m in gan.D.modules() if isinstance(m, nn.Linear))
    assert not any(hasattr(m, "parametrizations") for m in gan.G.modules() if isinstance(m, nn.Linear))


def test_replay_feeds_old_fakes_to_d():
    trainer, _ = trainer_after(3, "family.replay=64", "family.replay_mix=0.5")
    assert len(trainer.family.replay) == 64  # 3 steps of 32 fakes, capacity 64


def test_ema_generator_samples_and_is_what_sample_loads(tmp_path):
    cfg = load_config("toy-ring", [*TOY, "train.steps=3", "train.ema=0.9"])
    train(cfg, tmp_path / "run", quiet=True)
    model, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert any(k.startswith("G_ema.") for k in model)
    family, _, _ = load_family(tmp_path / "run")
    z = torch.randn(5, 2)
    ema_g = family.G  # load_family put the G_ema weights here
    g = build_family(cfg, DataSpec((2,), is_image=False)).G
    g.load_state_dict({k[len("G_ema."):]: v for k, v in model.items() if k.startswith("G_ema.")})
    assert torch.equal(ema_g(z), g(z))
    g.load_state_dict({k[len("G."):]: v for k, v in model.items() if k.startswith("G.")})
    assert not torch.equal(ema_g(z), g(z))  # the average differs from the last weights


DCGAN_TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=8", "log.tensorboard=false",
              "log.sample_every=1000", "log.every=1", "eval.every=0", "train.ema=0.9"]


def test_ema_of_a_batchnorm_generator_samples_with_its_own_statistics(tmp_path):
    cfg = load_config("default", [*DCGAN_TINY, "train.steps=4", "log.checkpoint_every=4"])
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for _ in range(2):
        trainer.train_step(stats)
    trainer.family.generate(torch.randn(3, 100))  # sampling mid-run changes nothing in training (below)
    for _ in range(2):
        trainer.train_step(stats)
    z = torch.randn(6, 100)
    first = trainer.family.generate(z)
    shadow, live = trainer.ema.shadow, trainer.family.G
    bn_means = [(a.running_mean, b.running_mean) for a, b in zip(shadow.modules(), live.modules())
                if isinstance(a, nn.BatchNorm2d)]
    assert bn_means and all(not torch.allclose(a, b) for a, b in bn_means)  # refreshed, not the live G's
    assert torch.equal(trainer.family.generate(z), first)  # refreshed once, then reused
    # the same four steps with no sampling in between: identical weights, and the checkpoint holds the
    # refreshed statistics, which `ganforge sample` then uses
    train(cfg, tmp_path / "run", quiet=True)
    model, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    for k, v in trainer.model_tensors().items():
        assert torch.equal(model[k], v), k
    family, _, _ = load_family(tmp_path / "run")
    assert torch.allclose(family.generate(z), first, atol=1e-6)


def test_resume_is_exact_with_every_stateful_stabiliser(tmp_path):
    opts = ["family.replay=40", "train.ema=0.9", "family.r1=1", "family.r1_every=2", "family.pack=2",
            "family.minibatch_std=4", "family.objective=hinge"]
    straight = load_config("toy-ring", [*TOY, *opts, "train.steps=6"])
    train(straight, tmp_path / "straight", quiet=True)
    train(load_config("toy-ring", [*TOY, *opts, "train.steps=3"]), tmp_path / "resumed", quiet=True)
    train(straight, tmp_path / "resumed", resume=True, quiet=True)
    a_model, a_state, _ = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b_model, b_state, _ = load_checkpoint(latest_checkpoint(tmp_path / "resumed"))
    assert a_model.keys() == b_model.keys() and a_state.keys() == b_state.keys()
    assert "family.replay.samples" in a_state and "G_ema.0.weight" in a_model
    for key in a_model:
        assert torch.equal(a_model[key], b_model[key]), key
    for key in a_state:
        assert torch.equal(a_state[key], b_state[key]), key


def test_a_gradient_penalty_on_a_batchnorm_d_gets_a_note(capsys, tmp_path):
    spec = DataSpec((1, 28, 28), True)
    noted = build_family(load_config("default", ["family.r1=1"]), spec).training_notes()
    assert len(noted) == 1 and "family.r1" in noted[0] and "BatchNorm" in noted[0]
    assert build_family(load_config("default"), spec).training_notes() == []
    toy = build_family(load_config("toy-ring", ["family.gp=1"]), DataSpec((2,), False))
    assert toy.training_notes() == []  # the MLP's D has no BatchNorm
    train(load_config("toy-ring", ["family.dragan=1", "family.arch=dcgan", "data.name=fashion-mnist-10k",
                                   "data.resolution=16", "train.steps=1", "log.tensorboard=false",
                                   "family.g_width=8", "family.d_width=8"]), tmp_path / "run")
    assert "note: family.dragan penalises D's gradient per sample" in capsys.readouterr().out
