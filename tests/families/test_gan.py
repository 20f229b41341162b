import math

import torch
from torch import nn

from ganforge.config import load_config
from ganforge.families import Batch, DataSpec, build_family


def toy_gan(*overrides):
    cfg = load_config("toy-ring", ["family.g_hidden=[8]", "family.d_hidden=[8]", *overrides])
    return build_family(cfg, DataSpec((2,), is_image=False))


def test_d_loss_and_statistics_against_a_hand_computed_case():
    gan = toy_gan()
    # a discriminator that outputs logit 0 for everything: D = 1/2, loss = 2 log 2
    for p in gan.D.parameters():
        nn.init.zeros_(p)
    loss, stats = gan.d_loss(Batch(torch.randn(5, 2)), torch.randn(5, 2))
    assert abs(loss.item() - 2 * math.log(2)) < 1e-6
    assert stats["d_real"].item() == 0.5 and stats["d_fake"].item() == 0.5


def test_g_step_reuses_the_d_steps_samples_only_for_the_same_noise():
    gan = toy_gan()
    calls = []
    gan.G.register_forward_hook(lambda *args: calls.append(1))
    z = torch.randn(4, 2)
    gan.d_loss(Batch(torch.randn(4, 2)), z)
    gan.g_loss(z)
    assert len(calls) == 1  # one G forward for both steps
    gan.d_loss(Batch(torch.randn(4, 2)), z)
    gan.g_loss(torch.randn(4, 2))
    assert len(calls) == 3  # fresh noise: a fresh forward


def test_g_loss_gradient_reaches_g_and_matches_the_chosen_objective():
    for name, expected in (("nonsaturating", lambda l: torch.nn.functional.softplus(-l).mean()),
                           ("minimax", lambda l: -torch.nn.functional.softplus(l).mean())):
        gan = toy_gan(f"family.g_loss={name}")
        z = torch.randn(6, 2)
        loss, _stats = gan.g_loss(z)
        assert torch.allclose(loss, expected(gan.D(gan.G(z))))
        loss.backward()
        assert all(p.grad is not None for p in gan.G.parameters())


def test_max_norm_caps_each_unit_of_d_after_its_step_only():
    gan = toy_gan("family.d_max_norm=0.5")
    with torch.no_grad():
        for p in gan.D.parameters():
            p.mul_(100)
    g_before = [p.clone() for p in gan.G.parameters()]
    gan.after_step("G")
    linears = [m for m in gan.D.modules() if isinstance(m, nn.Linear)]
    assert max(m.weight.norm(dim=1).max().item() for m in linears) > 0.5
    gan.after_step("D")
    for m in linears:
        assert m.weight.norm(dim=1).max().item() <= 0.5 + 1e-6
    assert all(torch.equal(a, b) for a, b in zip(g_before, gan.G.parameters()))
