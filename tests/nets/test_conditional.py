"""Conditioning of G and D: shapes, label plumbing, and the defining formula of each mode."""

import math

import pytest
import torch
from torch import nn

from ganforge import losses
from ganforge.config import family_options, load_config
from ganforge.nets import build_networks
from ganforge.nets.conditional import (
    ConditionalBatchNorm2d,
    condition_vector,
    default_condition,
    join_condition,
)

SHAPE = (1, 28, 28)


def nets(mode, arch="dcgan28", *extra):
    cfg = load_config("default", [f"family.condition={mode}", f"family.arch={arch}", "family.g_width=8",
                                  "family.d_width=8", "family.g_hidden=[16]", "family.d_hidden=[16]", *extra])
    torch.manual_seed(0)
    return build_networks(family_options(cfg), SHAPE, True, n_cond=10)


def test_condition_vector_one_hot_for_classes_and_unchanged_attributes():
    assert torch.equal(condition_vector(torch.tensor([2, 0]), 3), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    attrs = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.equal(condition_vector(attrs, 2), attrs)


def test_join_condition_as_maps_or_inputs():
    x, c = torch.randn(2, 1, 4, 4), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    maps = join_condition(x, c, conv=True)
    assert maps.shape == (2, 3, 4, 4) and torch.equal(maps[:, :1], x)
    assert torch.equal(maps[0, 2], torch.ones(4, 4)) and torch.equal(maps[1, 2], torch.zeros(4, 4))
    flat = join_condition(x, c, conv=False)
    assert flat.shape == (2, 18) and torch.equal(flat[:, 16:], c)


@pytest.mark.parametrize("arch", ["dcgan28", "mlp", "dense"])
@pytest.mark.parametrize("mode", ["cgan", "acgan", "projection"])
def test_shapes_and_labels_reach_g_and_d(mode, arch):
    g, d = nets(mode, arch)
    g.eval(), d.eval()
    z = torch.randn(4, 100)
    c = condition_vector(torch.tensor([0, 1, 2, 3]), 10)
    x = g(z, c)
    assert x.shape == (4, *SHAPE)
    out, classes = d(x, c)
    assert out.shape == (4,)
    assert (classes.shape == (4, 10)) if mode == "acgan" else classes is None
    other = condition_vector(torch.tensor([5, 6, 7, 8]), 10)
    if g.concat:  # the label is part of G's input (conditional BatchNorm starts as the identity instead)
        assert not torch.allclose(g(z, other), x)
    if mode in ("cgan", "projection"):
        with torch.no_grad():  # let the label matter to D (projection's V starts small, not zero)
            for p in d.parameters():
                p.add_(0.1 * torch.randn_like(p))
        assert not torch.allclose(d(x, other)[0], d(x, c)[0])


def test_cgan_d_reads_label_maps_beside_the_image():
    _, d = nets("cgan")
    assert d.body[0].in_channels == 1 + 10
    _, packed = nets("cgan", "dcgan28", "family.pack=2")
    assert packed.body[0].in_channels == 2 * (1 + 10)


def test_projection_adds_the_inner_product_of_the_label_embedding_and_the_features():
    _, d = nets("projection")
    d.eval()
    x, c = torch.randn(3, *SHAPE), condition_vector(torch.tensor([1, 4, 9]), 10)
    h = d.body(x)
    expected = d.head(h) + (d.embed.weight.t()[[1, 4, 9]] * h.flatten(1)).sum(1)
    assert torch.allclose(d(x, c)[0], expected, atol=1e-6)


def test_projection_g_has_class_conditional_batchnorm():
    g, _ = nets("projection")
    cbn = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert cbn and not any(type(m) is nn.BatchNorm2d for m in g.net)
    assert not g.concat  # the label enters through the BatchNorm gains and biases only


def test_conditional_batchnorm_changes_only_the_samples_of_its_class():
    bn = ConditionalBatchNorm2d(2, 3).eval()
    x = torch.randn(3, 2, 4, 4)
    c = condition_vector(torch.tensor([0, 1, 2]), 3)
    before = bn(x, c)
    assert torch.allclose(before, bn.bn(x))  # gain 1, bias 0 at the start
    with torch.no_grad():
        bn.gain.weight[:, 1] = 1.0  # class 1: gain 2
        bn.bias.weight[:, 1] = 0.5
    after = bn(x, c)
    assert torch.equal(after[[0, 2]], before[[0, 2]])
    assert torch.allclose(after[1], before[1] * 2 + 0.5)


def test_mlp_g_without_batchnorm_reads_the_label_with_z():
    g, _ = nets("projection", "mlp")
    assert g.concat and g.net[0].in_features == 100 + 10


def test_acgan_class_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert losses.class_loss(logits, c) == pytest.approx(expected, rel=1e-6)
    # attributes: one sigmoid question each; logits 0 -> log 2 whatever the target
    assert losses.class_loss(torch.zeros(2, 3), torch.tensor([[1.0, 0, 1], [0, 0, 1]]), attributes=True) == \
        pytest.approx(math.log(2), rel=1e-6)
    logit = torch.tensor([[3.0]])
    assert losses.class_loss(logit, torch.tensor([[0.0]]), attributes=True) == \
        pytest.approx(math.log(1 + math.exp(3)), rel=1e-6)


def test_default_condition_cycles_through_classes_or_attribute_combinations():
    assert default_condition(12, 5, False).argmax(1).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    bits = default_condition(5, 3, True)
    assert bits.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]]
