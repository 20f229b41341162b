import copy

import pytest
import torch
import torch.nn.functional as F

from ganforge import textbook


def test_dataset_item_is_totensor_then_normalize():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    image, label = textbook.NormalisedImages(x, torch.tensor([7]))[0]
    assert image.dtype == torch.float32 and label == 7
    expected = torch.tensor([0.0, 128 / 255, 1.0]).reshape(1, 1, 3).sub(0.5).div(0.5)
    torch.testing.assert_close(image, expected)
    assert image.min() == -1 and image.max() == 1


def adam_first_step(params, grads, lr):
    """Adam's first update (both bias corrections make m_hat = g and v_hat = g^2): p -= lr * g / (|g| + eps)."""
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= lr * g / (g.abs() + 1e-8)


def test_textbook_step_equals_a_hand_written_dcgan_step(tiny_dcgan):
    cfg = tiny_dcgan(extra=["optim.g.lr=2e-4", "optim.d.lr=2e-4"])  # the example's learning rate, written out below
    torch.manual_seed(0)
    netG, netD, optG, optD = textbook.textbook_networks(cfg, (1, 28, 28), torch.device("cpu"))
    G, D = copy.deepcopy(netG), copy.deepcopy(netD)
    before = {k: v.clone() for k, v in [*netG.state_dict().items(), *netD.state_dict().items()]}
    real = torch.rand(8, 1, 28, 28) * 2 - 1

    torch.manual_seed(1)
    errD, errG, d_x, d_gz1, d_gz2 = textbook.textbook_step(netG, netD, optG, optD, real, 100, torch.device("cpu"))

    # the reference: the example's Sigmoid + BCELoss, D's gradient of the summed loss, then G through the new D
    torch.manual_seed(1)
    z = torch.randn(8, 100)
    fake = G(z)
    p_real, p_fake = torch.sigmoid(D(real)), torch.sigmoid(D(fake.detach()))
    loss_d = F.binary_cross_entropy(p_real, torch.ones(8)) + F.binary_cross_entropy(p_fake, torch.zeros(8))
    adam_first_step(list(D.parameters()), torch.autograd.grad(loss_d, list(D.parameters())), 2e-4)
    p_gen = torch.sigmoid(D(fake))
    loss_g = F.binary_cross_entropy(p_gen, torch.ones(8))
    adam_first_step(list(G.parameters()), torch.autograd.grad(loss_g, list(G.parameters())), 2e-4)

    for got, want in ((netG, G), (netD, D)):
        for (name, a), b in zip(got.state_dict().items(), want.state_dict().values()):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    assert errD == pytest.approx(loss_d.item(), rel=1e-5) and errG == pytest.approx(loss_g.item(), rel=1e-5)
    assert d_x == pytest.approx(p_real.mean().item(), rel=1e-5)
    assert d_gz1 == pytest.approx(p_fake.mean().item(), rel=1e-5)
    assert d_gz2 == pytest.approx(p_gen.mean().item(), rel=1e-5)
    # both players moved, and the losses are real numbers
    for net in (netG, netD):
        assert all(not torch.equal(p, before_p) for p, before_p in
                   ((p, before[k]) for k, p in net.state_dict().items() if k.endswith("weight")))
    assert all(torch.isfinite(torch.tensor(v)) for v in (errD, errG, d_x, d_gz1, d_gz2))


def test_textbook_rate_runs_across_epochs(tiny_dcgan, random_digits):
    # 20 images, batch 8, drop_last: 2 batches an epoch, so 1 + 5 steps start three more epochs
    rate, peak, gflop = textbook.textbook_rate(tiny_dcgan(), random_digits(20), steps=5, warmup=1, workers=0)
    assert rate > 0 and peak > 0 and gflop > 0
