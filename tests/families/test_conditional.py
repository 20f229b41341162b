"""The GAN family with family.condition: label plumbing through the losses, and what it refuses."""

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.families import Batch, DataSpec, build_family
from ganforge.nets.conditional import condition_vector
from ganforge.training.loop import train

TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=8", "log.tensorboard=false",
        "log.sample_every=1000", "log.every=1", "eval.every=0"]
SPEC = DataSpec((1, 28, 28), is_image=True, n_classes=10)


def family(*overrides, spec=SPEC):
    torch.manual_seed(0)
    return build_family(load_config("default", [*TINY, *overrides]), spec)


def batch(n=8):
    g = torch.Generator().manual_seed(1)
    return Batch(torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g))


def test_fakes_get_the_labels_of_the_real_batch_and_g_reuses_them():
    f = family("family.condition=cgan")
    real, z = batch(), torch.randn(8, 100)
    f.d_loss(real, z)
    assert torch.equal(f._labels, condition_vector(real.y, 10))
    seen = []
    f.G.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    f.g_loss(torch.randn(8, 100))  # a fresh z (k > 1): G draws it for the same labels
    assert torch.equal(seen[0], condition_vector(real.y, 10))


def test_acgan_adds_the_class_loss_to_both_players():
    real, z = batch(), torch.randn(8, 100)
    with_class = family("family.condition=acgan", "family.class_weight=1")
    without = family("family.condition=acgan", "family.class_weight=0")
    d1, s1 = with_class.d_loss(real, z)
    d0, _ = without.d_loss(real, z)
    assert d1.item() == pytest.approx(d0.item() + s1["loss_class_d"].item(), rel=1e-5)
    assert s1["loss_class_d"].item() > 2 * 2.0  # two untrained 10-way cross-entropies, ~log 10 each
    g1, t1 = with_class.g_loss(z)
    g0, _ = without.g_loss(z)
    assert g1.item() == pytest.approx(g0.item() + t1["loss_class_g"].item(), rel=1e-5)


def test_acgan_d_class_loss_on_fakes_can_be_weighed_down():
    real, z = batch(), torch.randn(8, 100)
    both = family("family.condition=acgan")
    real_only = family("family.condition=acgan", "family.class_fake_weight=0")
    _, s_both = both.d_loss(real, z)
    _, s_real = real_only.d_loss(real, z)
    # the same weights and inputs: the fake term is the difference, an untrained 10-way cross-entropy
    assert 1.5 < s_both["loss_class_d"].item() - s_real["loss_class_d"].item() < 3.5


def test_acgan_class_loss_trains_d_to_name_the_classes():
    f = family("family.condition=acgan")
    opt = torch.optim.Adam(f.D.parameters(), 1e-3)
    real = batch(32)
    first = None
    for _ in range(30):
        loss, stats = f.d_loss(real, torch.randn(32, 100))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else stats["class_acc_real"].item()
    assert stats["class_acc_real"].item() == 1.0 and first < 0.5  # it memorises one batch's labels


def test_what_conditioning_refuses():
    with pytest.raises(UserError, match="needs labels"):
        family("family.condition=cgan", spec=DataSpec((1, 28, 28), is_image=True))
    with pytest.raises(UserError, match="family.replay"):
        family("family.condition=cgan", "family.replay=64")
    with pytest.raises(UserError, match="family.pack"):
        family("family.condition=acgan", "family.pack=2")
    family("family.condition=cgan", "family.pack=2")  # a cgan pack carries each sample's label maps


def test_resume_of_a_conditional_run_is_exact(tmp_path):
    opts = [*TINY, "family.condition=acgan", "train.ema=0.9", "log.checkpoint_every=2"]
    straight = load_config("default", [*opts, "train.steps=4"])
    train(straight, tmp_path / "straight", quiet=True)
    train(load_config("default", [*opts, "train.steps=2"]), tmp_path / "resumed", quiet=True)
    train(straight, tmp_path / "resumed", resume=True, quiet=True)
    a, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "resumed"))
    assert "D.classifier.weight" in a
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("objective", ["gan", "wgan", "hinge", "lsgan"])
@pytest.mark.parametrize("mode", ["cgan", "acgan", "projection"])
def test_every_condition_trains_with_every_objective(mode, objective):
    penalty = ["family.gp=10"] if objective == "wgan" else ["family.r1=1"]  # a penalty on D's input too
    f = family(f"family.condition={mode}", f"family.objective={objective}", *penalty)
    opt = torch.optim.Adam(f.D.parameters(), 1e-3)
    real = batch()
    before = [p.detach().clone() for p in f.G.parameters()]
    for _ in range(2):
        loss, stats = f.d_loss(real, torch.randn(8, 100))
        opt.zero_grad()
        loss.backward()
        opt.step()
    g_loss, _ = f.g_loss(torch.randn(8, 100))
    g_loss.backward()
    assert all(torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in f.G.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, f.G.parameters()))  # only D stepped


def test_a_conditional_grid_names_each_row():
    """The sample grid's rows are the classes in turn (or attribute combinations): each row's caption is the
    condition its samples were drawn for; rows that mix conditions get none."""
    spec = DataSpec((1, 28, 28), is_image=True, n_classes=3, class_names=("shirt", "shoe", "bag"))
    g = family("family.condition=cgan", spec=spec).generator()
    inputs, columns = g.grid(g.noise(4, torch.Generator().manual_seed(0)))
    assert columns == 4 and g.row_labels(inputs, columns) == ["shirt", "shoe", "bag"]
    mixed = g.for_labels(g.noise(6, torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 0, 1, 2]))
    assert g.row_labels(mixed, 3) is None  # each row holds three classes: nothing one caption can say
    attrs = DataSpec((1, 28, 28), is_image=True, attr_names=("smiling", "glasses"))
    g = family("family.condition=cgan", spec=attrs).generator()
    inputs, columns = g.grid(g.noise(2, torch.Generator().manual_seed(0)))
    assert g.row_labels(inputs, columns) == ["none", "smiling", "glasses", "smiling, glasses"]
    unconditional = family().generator()
    assert unconditional.row_labels(*unconditional.grid(unconditional.noise(4, torch.Generator()))) is None
