"""BigGAN's pieces: self-attention, the orthogonal regulariser, hierarchical z with a shared embedding."""

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.config import family_options, load_config
from ganforge.errors import UserError
from ganforge.losses import orthogonal_penalty
from ganforge.nets import build_networks
from ganforge.nets.attention import SelfAttention, insert_attention
from ganforge.nets.conditional import BigGANG, ConditionalBatchNorm2d, z_chunks
from ganforge.runs import load_data
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer


def test_self_attention_starts_as_the_identity_and_mixes_positions():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(block(x), x)  # the gate starts at 0
    block.gate.data.fill_(1.0)
    y = block(x)
    x2 = x.clone()
    x2[:, :, 4, 4] += 1.0  # one position changed: every position's output moves (global attention)
    assert (block(x2) - y)[:, :, 0, 0].abs().sum() > 0
    one = torch.randn(1, 16, 1, 1)  # one position attends only to itself: x + out(value(x))
    assert torch.allclose(block(one), one + block.out(block.value(one)), atol=1e-6)


def test_attention_goes_where_the_resolution_is():
    model = family_options(load_config(None, ["family.attention=14"]))
    g, d = build_networks(model, (1, 28, 28), True)
    (gi,) = [i for i, m in enumerate(g) if isinstance(m, SelfAttention)]
    assert isinstance(g[gi - 1], nn.ReLU) and g[gi].gate.numel() == 1
    assert g[: gi](torch.zeros(2, 100)).shape[-1] == 14
    assert any(isinstance(m, SelfAttention) for m in d)
    assert g(torch.randn(3, 100)).shape == (3, 1, 28, 28) and d(torch.randn(3, 1, 28, 28)).shape == (3,)
    with pytest.raises(UserError, match="family.attention=5: the networks have no layer of that size; sizes: 7, 14"):
        insert_attention(g, torch.zeros(2, 100), 5)


def test_orthogonal_penalty_by_hand():
    layer = nn.Linear(2, 2, bias=False)
    layer.weight.data = torch.eye(2)
    assert orthogonal_penalty(layer).item() == 0.0
    layer.weight.data = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # W W^T = [[2, 1], [1, 1]]: off-diagonal 1, 1
    assert orthogonal_penalty(layer).item() == pytest.approx(2.0)
    conv = nn.Conv2d(1, 2, 1, bias=False)
    conv.weight.data = torch.tensor([1.0, 2.0]).view(2, 1, 1, 1)  # rows (1) and (2): W W^T off-diagonal 2, 2
    assert orthogonal_penalty(nn.Sequential(layer, conv)).item() == pytest.approx(2.0 + 8.0)
    tall = nn.Linear(1, 3, bias=False)  # 3 x 1: W W^T is all ones, six off-diagonal 1s (computed as W^T W)
    tall.weight.data = torch.ones(3, 1)
    assert orthogonal_penalty(tall).item() == pytest.approx(6.0)


def test_hierarchical_z_chunks_and_the_shared_embedding():
    assert z_chunks(120, 2) == [40, 40, 40] and z_chunks(100, 2) == [34, 33, 33]
    with pytest.raises(UserError, match="too small"):
        z_chunks(2, 2)
    model = family_options(load_config("biggan-fashion", ["family.attention=0", "family.spectral_norm=d", "family.d_condition=projection"]))
    g, d = build_networks(model, (1, 28, 28), True, n_cond=10)
    assert isinstance(g, BigGANG) and g.chunks == [40, 40, 40]
    bns = [m for m in g.net if isinstance(m, ConditionalBatchNorm2d)]
    assert len(bns) == 2 and all(m.gain.in_features == 32 + 40 for m in bns)
    for m in bns:  # make the conditioning matter
        nn.init.normal_(m.gain.weight, 0, 0.5)
    g.eval()
    z, c = torch.randn(2, 120), torch.eye(10)[[3, 3]]
    base = g(z, c)
    z2 = z.clone()
    z2[:, 80:] += 1.0  # the last layer's chunk only
    assert not torch.allclose(g(z2, c), base)
    assert not torch.allclose(g(z, torch.eye(10)[[5, 5]]), base)  # another class
    logits, classes = d(base, c)
    assert logits.shape == (2,) and classes is None  # a projection D


def test_biggan_preset_trains_with_spectral_norm_in_both(tmp_path):
    cfg = load_config("biggan-fashion", ["data.name=fashion-mnist-10k", "family.g_width=8", "family.d_width=8",
                                         "train.batch_size=8", "log.tensorboard=false", "eval.every=0"])
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for _ in range(5):
        trainer.train_step(stats)
    values = stats.read_and_reset()
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values()) and values["ortho"] > 0
    # spectral_norm=both: every weighted layer of G and D is divided by its largest singular value, apart from
    # the conditional BatchNorms' gain and bias layers (they start at zero: nothing to divide by)
    for name, net in trainer.family.networks.items():
        conditioning = {id(m) for cbn in net.modules() if isinstance(cbn, ConditionalBatchNorm2d)
                        for m in cbn.children()}
        layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding))
                  and id(m) not in conditioning]
        assert len(layers) >= 3 and all(parametrize.is_parametrized(m, "weight") for m in layers), name
        for m in layers:
            sn = m.parametrizations.weight[0]
            with torch.no_grad():
                for _ in range(100):  # the power iteration, run further than 5 steps did
                    sn(m.parametrizations.weight.original)
            sn.eval()
            w = m.weight.transpose(0, 1) if isinstance(m, nn.ConvTranspose2d) else m.weight
            assert torch.linalg.matrix_norm(w.flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.01), name
            sn.train()


def test_d_condition_gives_the_biggan_g_a_classifier_head_beside_or_instead_of_the_projection():
    model = family_options(load_config("biggan-fashion", ["family.attention=0", "family.d_condition=projection+acgan",
                                           "family.spectral_norm=off"]))
    _, d = build_networks(model, (1, 28, 28), True, n_cond=10)
    x, c = torch.randn(4, 1, 28, 28), torch.eye(10)[[0, 1, 2, 3]]
    logits, classes = d(x, c)
    assert logits.shape == (4,) and classes.shape == (4, 10)
    with torch.no_grad():
        d.embed.weight.zero_()  # no projection left: the label no longer moves the logit
    assert torch.allclose(d(x, c)[0], d(x, torch.eye(10)[[9, 9, 9, 9]])[0])
    _, d = build_networks(dataclasses.replace(model, d_condition="acgan"), (1, 28, 28), True, n_cond=10)
    assert not hasattr(d, "embed") and d(x, c)[1].shape == (4, 10)
    with pytest.raises(UserError, match="family.d_condition"):
        build_networks(dataclasses.replace(model, condition="cgan", d_condition="acgan"), (1, 28, 28), True, 10)


def test_biggan_with_a_classifier_head_trains_the_class_loss():
    cfg = load_config("biggan-fashion", ["data.name=fashion-mnist-10k", "family.g_width=8", "family.d_width=8",
                                         "family.attention=0", "family.d_condition=acgan", "train.batch_size=8",
                                         "log.tensorboard=false", "eval.every=0"])
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for _ in range(3):
        trainer.train_step(stats)
    values = stats.read_and_reset()
    assert values["loss_class_d"] > 0 and values["loss_class_g"] > 0 and 0 <= values["class_acc_real"] <= 1
