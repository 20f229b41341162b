import dataclasses

import pytest
import torch
from torch import nn

from ganforge.errors import UserError
from ganforge.families.gan_options import GANOptions
from ganforge.nets import build_networks


@pytest.mark.parametrize("res", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_for_every_resolution_and_channel_count(res, channels):
    model = GANOptions(arch="dcgan", g_width=8, d_width=8, z_dim=16)
    g, d = build_networks(model, (channels, res, res), True)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, res, res)
    assert x.abs().max() <= 1.0  # tanh output
    assert d(x).shape == (3,)


@pytest.mark.parametrize(("shape", "base"), [((3, 48, 64), (3, 4)), ((1, 64, 32), (4, 2)), ((3, 12, 16), (3, 4)),
                                             ((1, 16, 64), (1, 4))])
@pytest.mark.parametrize("condition", ["none", "cgan", "projection"])
def test_dcgan_builds_rectangles_on_a_rectangular_base(shape, base, condition):
    """data.aspect=keep: G's first layer makes a 4x3 (4x2, 4x1) map that doubles up to the image, D's last reads
    the same map back; a square's weights keep their shapes (a 4x4 base)."""
    model = GANOptions(arch="dcgan", g_width=4, d_width=4, z_dim=8, condition=condition)
    g, d = build_networks(model, shape, True, n_cond=0 if condition == "none" else 3)
    first = next(m for m in g.modules() if isinstance(m, nn.ConvTranspose2d))
    last = [m for m in d.modules() if isinstance(m, nn.Conv2d)][-1]
    assert first.kernel_size == base and last.kernel_size == base
    c = None if condition == "none" else torch.eye(3)[[0, 2]]
    x = g(torch.randn(2, 8)) if c is None else g(torch.randn(2, 8), c)
    assert x.shape == (2, *shape)
    assert (d(x) if c is None else d(x, c)[0]).shape == (2,)
    square = build_networks(dataclasses.replace(model, condition="none"), (3, 64, 64), True)[0]
    assert next(m for m in square.modules() if isinstance(m, nn.ConvTranspose2d)).weight.shape == (8, 32, 4, 4)


def test_dcgan_follows_the_paper_guidelines():
    g, d = build_networks(GANOptions(arch="dcgan"), (3, 64, 64), True)
    for net in (g, d):
        assert not any(isinstance(m, nn.Linear) for m in net.modules())  # no hidden dense layers
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in net.modules())
    g_layers, d_layers = list(g), list(d)
    # G ends ConvTranspose -> Tanh (no BatchNorm on its output); D starts Conv -> LeakyReLU (no BatchNorm on input)
    assert isinstance(g_layers[-2], nn.ConvTranspose2d) and isinstance(g_layers[-1], nn.Tanh)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert any(isinstance(m, nn.ReLU) for m in g.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3


def test_dcgan_parameter_counts_match_the_reference_network():
    g, d = build_networks(GANOptions(arch="dcgan"), (3, 64, 64), True)
    # the PyTorch DCGAN example (nz 100, ngf = ndf = 64, 3 x 64 x 64, bias-free convolutions) has 3,576,704 and
    # 2,765,568 parameters; ganforge adds biases where no BatchNorm follows: G's output conv (3), D's input
    # conv (64) and D's output conv (1)
    assert sum(p.numel() for p in g.parameters()) == 3_576_704 + 3
    assert sum(p.numel() for p in d.parameters()) == 2_765_568 + 64 + 1


def test_dcgan_init_is_normal_0_02():
    torch.manual_seed(0)
    g, _ = build_networks(GANOptions(arch="dcgan"), (3, 64, 64), True)
    w = g[1].weight
    assert abs(w.std().item() - 0.02) < 0.001
    assert abs(w.mean().item()) < 0.001


@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan28_shapes(channels):
    g, d = build_networks(GANOptions(arch="dcgan28"), (channels, 28, 28), True)
    x = g(torch.randn(4, 100))
    assert x.shape == (4, channels, 28, 28)
    assert d(x).shape == (4,)


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("mlp", (1,)), ("mlp", (1, 28, 28)), ("dense", (1, 28, 28))])
def test_dense_architectures(arch, shape):
    model = GANOptions(arch=arch, z_dim=30)
    g, d = build_networks(model, shape, len(shape) == 3)
    x = g(torch.randn(5, 30))
    assert x.shape == (5, *shape)
    assert d(x).shape == (5,)


def test_toy_generators_are_unbounded_and_images_bounded():
    g, _ = build_networks(GANOptions(arch="mlp", z_dim=2), (2,), False)
    assert not isinstance(list(g)[-2], nn.Tanh)
    g, _ = build_networks(GANOptions(arch="mlp", z_dim=2), (1, 8, 8), True)
    assert isinstance(list(g)[-2], nn.Tanh)


def test_maxout_discriminator():
    from ganforge.nets.mlp import Maxout

    m = Maxout(3, 2, pieces=4)
    x = torch.randn(5, 3)
    manual = m.linear(x).view(5, 2, 4).max(-1).values
    assert torch.equal(m(x), manual)
    _, d = build_networks(GANOptions(arch="mlp", d_activation="maxout", d_dropout=0.5), (1, 28, 28), True)
    assert any(isinstance(x, Maxout) for x in d.modules()) and any(isinstance(x, nn.Dropout) for x in d.modules())


@pytest.mark.parametrize("shape, message", [
    ((1, 28, 28), "power-of-two"), ((2, 32, 32), "1 or 3 image channels"),
    ((1, 32, 12), r"square or with the short side a quarter, half or three quarters of the long one \(data.aspect=keep\)"),
    ((1, 24, 18), "got 18x24")])
def test_dcgan_rejects_unsupported_shapes(shape, message):
    with pytest.raises(UserError, match=message):
        build_networks(GANOptions(arch="dcgan"), shape, True)


def test_conv_archs_need_images():
    with pytest.raises(UserError, match="needs image data"):
        build_networks(GANOptions(arch="dcgan"), (2,), False)


def test_mlp_uniform_init_and_input_dropout():
    model = GANOptions(arch="mlp", g_init=0.05, d_init=0.005, d_input_dropout=0.2)
    g, d = build_networks(model, (1, 28, 28), True)
    for net, scale in ((g, 0.05), (d, 0.005)):
        for m in net.modules():
            if isinstance(m, nn.Linear):
                assert m.weight.abs().max() <= scale and m.weight.abs().max() > 0.9 * scale
                assert not m.bias.any()
    assert isinstance(list(d)[1], nn.Dropout) and list(d)[1].p == 0.2
