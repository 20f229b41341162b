import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.nets.stabilisers import MinibatchDiscrimination, MinibatchStdDev, pack, spectral_norm_all


def test_minibatch_stddev_hand_computed_pair():
    # one group of 2: per-position population std |a - b| / 2 = [1, 2], mean 1.5
    x = torch.tensor([[[[0.0, 2.0]]], [[[2.0, 6.0]]]])  # [2, 1, 1, 2]
    y = MinibatchStdDev()(x)
    assert y.shape == (2, 2, 1, 2)
    assert torch.equal(y[:, :1], x)
    assert torch.allclose(y[:, 1], torch.full((2, 1, 2), 1.5), atol=1e-6)


def test_minibatch_stddev_matches_the_group_statistic():
    x = torch.randn(8, 3, 5, 5)
    y = MinibatchStdDev(group_size=4)(x)
    assert y.shape == (8, 4, 5, 5)
    assert torch.equal(y[:, :3], x)  # original channels untouched
    for i in range(8):
        group = x[i % 2::2]  # strided groups as in ProGAN: sample i is in group i mod (N / G)
        var = ((group - group.mean(0)) ** 2).mean(0)
        s = torch.sqrt(var + 1e-8).mean()
        assert torch.allclose(y[i, 3], s.expand(5, 5), atol=1e-6)  # constant over H, W
    assert not torch.allclose(y[0, 3], y[1, 3])  # the two groups differ


def test_minibatch_stddev_of_identical_samples_is_sqrt_eps():
    y = MinibatchStdDev()(torch.randn(1, 2, 3, 3).expand(4, 2, 3, 3))
    assert torch.allclose(y[:, 2], torch.full((4, 3, 3), math.sqrt(1e-8)), rtol=1e-3)


def test_minibatch_stddev_on_vectors_and_small_batches():
    x = torch.tensor([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]])  # N = 3 < group size: one group of 3
    y = MinibatchStdDev(group_size=4)(x)
    assert y.shape == (3, 3) and torch.equal(y[:, :2], x)
    expected = (x.var(0, correction=0) + 1e-8).sqrt().mean()
    assert torch.allclose(y[:, 2], expected.expand(3))


def test_minibatch_stddev_rejects_indivisible_batches():
    with pytest.raises(ValueError, match=r"6.*4"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 2, 3, 3))
    with pytest.raises(ValueError):
        MinibatchStdDev(group_size=0)


def test_minibatch_discrimination_shape_and_identical_inputs():
    layer = MinibatchDiscrimination(6, n_kernels=5, kernel_dim=3)
    x = torch.randn(7, 6)
    y = layer(x)
    assert y.shape == (7, 11) and torch.equal(y[:, :6], x)
    y_same = layer(torch.randn(1, 6).expand(7, 6))
    assert torch.allclose(y_same[:, 6:], torch.full((7, 5), 6.0))  # N - 1 neighbours at distance 0
    y.sum().backward()
    assert layer.T.grad is not None and layer.T.grad.abs().sum() > 0


def test_minibatch_discrimination_hand_computed_pair():
    layer = MinibatchDiscrimination(2, n_kernels=2, kernel_dim=2)
    with torch.no_grad():  # kernel 0 sees (a, b), kernel 1 sees (2a, b)
        layer.T.copy_(torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    o = layer(x)[:, 2:]
    # L1 distances: kernel 0 |1| + |2| = 3, kernel 1 |2| + |2| = 4
    expected = torch.tensor([math.exp(-3), math.exp(-4)])
    assert torch.allclose(o, expected.expand(2, 2), atol=1e-7)


def operator_matrix(m: nn.Module) -> torch.Tensor:
    w = m.weight.detach()
    if isinstance(m, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # [in, out, k, k]: the output dimension is 1
    return w.reshape(w.shape[0], -1)


def test_spectral_norm_all_bounds_every_weight():
    torch.manual_seed(0)
    net = nn.ModuleDict({"lin": nn.Linear(10, 20), "conv": nn.Conv2d(3, 8, 3), "deconv": nn.ConvTranspose2d(8, 3, 4),
                         "emb": nn.Embedding(5, 7), "bn": nn.BatchNorm2d(3)})
    with torch.no_grad():
        for m in net.values():
            m.weight.mul_(5)
    assert all(torch.linalg.svdvals(operator_matrix(net[k]))[0] > 2 for k in ("lin", "conv", "deconv", "emb"))
    assert spectral_norm_all(net) is net
    spectral_norm_all(net)  # a second call must not stack a second normalisation
    for k in ("lin", "conv", "deconv", "emb"):
        assert parametrize.is_parametrized(net[k], "weight") and len(net[k].parametrizations.weight) == 1
    assert not parametrize.is_parametrized(net["bn"])
    net.train()
    for _ in range(20):  # power iteration advances once per training-mode forward
        net["lin"](torch.randn(2, 10))
        net["conv"](torch.randn(2, 3, 6, 6))
        net["deconv"](torch.randn(2, 8, 3, 3))
        net["emb"](torch.tensor([0, 4]))
    net.eval()
    for k in ("lin", "conv", "deconv", "emb"):
        sigma = torch.linalg.matrix_norm(operator_matrix(net[k]), ord=2).item()
        assert 0.99 <= sigma <= 1 + 1e-2, (k, sigma)


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(6 * 2 * 3 * 3, dtype=torch.float32).reshape(6, 2, 3, 3)
    p = pack(x, 3)
    assert p.shape == (2, 6, 3, 3)
    assert torch.equal(p[0], torch.cat([x[0], x[1], x[2]]))
    assert torch.equal(p[1], torch.cat([x[3], x[4], x[5]]))
    v = torch.arange(8.0).reshape(4, 2)
    assert torch.equal(pack(v, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))
    assert torch.equal(pack(x, 1), x)
    with pytest.raises(ValueError, match=r"5.*2"):
        pack(torch.randn(5, 2, 3, 3), 2)
