"""The translation networks: shapes at sizes that are not 256, any channel counts, the PatchGAN's receptive
field measured by gradients, the U-Net's skips."""

import pytest
import torch

from ganforge.errors import UserError
from ganforge.nets.patchgan import PatchDiscriminator, receptive_field
from ganforge.nets.resnet import ResnetGenerator, SRDiscriminator, SRResNet
from ganforge.nets.unet import UNet, unet_depth


def test_unet_depth_is_what_the_size_divides():
    assert unet_depth(32, 32) == 5 and unet_depth(256, 256) == 8 and unet_depth(28, 28) == 2
    assert unet_depth(48, 64) == 4 and unet_depth(32, 32, wanted=3) == 3
    with pytest.raises(UserError, match="divisible by 64"):
        unet_depth(32, 32, wanted=6)
    with pytest.raises(UserError, match="only 0 times"):
        unet_depth(27, 27)


def test_unet_maps_any_channels_at_the_same_size_and_its_skips_keep_pixels_local():
    torch.manual_seed(0)
    net = UNet(1, 3, depth=5, width=8).eval()
    x = torch.zeros(1, 1, 32, 32, requires_grad=True)
    y = net(x)
    assert y.shape == (1, 3, 32, 32) and y.abs().max() <= 1
    y[0, :, 10, 20].sum().backward()
    influence = x.grad[0, 0].abs()
    # the outermost skip feeds each output pixel its own neighbourhood most: an input pixel within 2 pixels of
    # the output pixel counts many times more than one further away (measured: 43x to 62x over 8 seeds)
    near = torch.zeros(32, 32, dtype=torch.bool)
    near[8:13, 18:23] = True
    assert influence[near].mean() > 10 * influence[~near].mean()


def test_unet_dropout_is_noise_in_training_mode_only():
    net = UNet(1, 1, depth=4, width=8)
    x = torch.randn(2, 1, 16, 16)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


@pytest.mark.parametrize("layers", [0, 1, 2, 3])
def test_patchgan_receptive_field_matches_the_gradient_footprint(layers):
    assert receptive_field(layers) == {0: 1, 1: 16, 2: 34, 3: 70}[layers]
    d = PatchDiscriminator(2, layers, width=4).eval()
    x = torch.randn(1, 2, 96, 96, requires_grad=True)
    out = d(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    touched = x.grad[0].abs().sum(0) > 0
    rows, cols = touched.any(1).nonzero(), touched.any(0).nonzero()
    assert int(rows.max() - rows.min() + 1) == receptive_field(layers)
    assert int(cols.max() - cols.min() + 1) == receptive_field(layers)


def test_image_gan_gives_one_score_per_image_and_sees_every_pixel():
    d = PatchDiscriminator(1, -1, width=4, image_size=(28, 28)).eval()
    x = torch.randn(3, 1, 28, 28, requires_grad=True)
    out = d(x)
    assert out.shape == (3, 1, 1, 1)
    out[0].sum().backward()
    assert (x.grad[0].abs() > 0).float().mean() > 0.99 and (x.grad[1] == 0).all()


def test_resnet_generator_and_srresnet_shapes():
    assert ResnetGenerator(1, 3, width=8, blocks=2)(torch.randn(2, 1, 28, 28)).shape == (2, 3, 28, 28)
    sr = SRResNet(1, 4, width=8, blocks=2)
    assert sr(torch.randn(2, 1, 7, 7)).shape == (2, 1, 28, 28)
    assert SRResNet(3, 2, width=8, blocks=1)(torch.randn(1, 3, 14, 14)).shape == (1, 3, 28, 28)
    with pytest.raises(ValueError, match="scale must be"):
        SRResNet(1, 3)
    d = SRDiscriminator(1, width=4)
    assert d(torch.randn(2, 1, 28, 28)).shape == (2, 1) and d(torch.randn(2, 1, 40, 24)).shape == (2, 1)
