import math

import pytest
import torch
from torch import nn

from ganforge import losses


def test_d_loss_at_zero_logits_is_two_log_two():
    zeros = torch.zeros(7)
    assert losses.d_loss_bce(zeros, zeros).item() == torch.tensor(2 * math.log(2)).item()


def test_losses_match_the_probability_formulas():
    real = torch.tensor([2.0, -0.5, 0.3])
    fake = torch.tensor([-1.0, 0.7, 4.0])
    p_real, p_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(p_real).mean() + torch.log(1 - p_fake).mean())
    assert torch.allclose(losses.d_loss_bce(real, fake), expected_d, atol=1e-6)
    assert torch.allclose(losses.g_loss_minimax(fake), torch.log(1 - p_fake).mean(), atol=1e-6)
    assert torch.allclose(losses.g_loss_nonsaturating(fake), -torch.log(p_fake).mean(), atol=1e-6)


def test_hand_computed_values():
    # D(G(z)) = sigmoid(0) = 1/2: minimax log(1 - 1/2) = -log 2, non-saturating -log(1/2) = log 2
    assert abs(losses.g_loss_minimax(torch.zeros(1)).item() + math.log(2)) < 1e-7
    assert abs(losses.g_loss_nonsaturating(torch.zeros(1)).item() - math.log(2)) < 1e-7
    # logit log(3): D = 3/4, so log(1 - D) = log(1/4)
    assert abs(losses.g_loss_minimax(torch.tensor([math.log(3)])).item() - math.log(0.25)) < 1e-6


def test_minimax_saturates_where_nonsaturating_does_not():
    """When D rejects fakes confidently (logit -20), the minimax gradient vanishes; the non-saturating one is -1."""
    logits = torch.tensor([-20.0], requires_grad=True)
    losses.g_loss_minimax(logits).backward()
    assert abs(logits.grad.item()) < 1e-8
    logits.grad = None
    losses.g_loss_nonsaturating(logits).backward()
    assert abs(logits.grad.item() + 1.0) < 1e-6


def test_losses_stay_finite_for_extreme_logits():
    extreme = torch.tensor([-200.0, 200.0])
    for value in (losses.d_loss_bce(extreme, extreme), losses.g_loss_minimax(extreme),
                  losses.g_loss_nonsaturating(extreme)):
        assert torch.isfinite(value)
    assert abs(losses.g_loss_nonsaturating(torch.tensor([-200.0])).item() - 200.0) < 1e-3


# --- WGAN, hinge, least squares -----------------------------------------------------------------------------

REAL = torch.tensor([1.0, -2.0, 0.5])
FAKE = torch.tensor([0.5, 3.0, -1.0])


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_objectives_against_hand_computed_values(shape):
    real, fake = REAL.reshape(shape), FAKE.reshape(shape)
    # mean(fake) = 2.5/3, mean(real) = -0.5/3
    assert losses.d_loss_wgan(real, fake).item() == pytest.approx(1.0)
    assert losses.g_loss_wgan(fake).item() == pytest.approx(-2.5 / 3)
    # relu(1 - real) = [0, 3, 0.5], relu(1 + fake) = [1.5, 4, 0]
    assert losses.d_loss_hinge(real, fake).item() == pytest.approx(3.5 / 3 + 5.5 / 3)
    assert losses.g_loss_hinge(fake).item() == pytest.approx(-2.5 / 3)
    # (real - 1)^2 = [0, 9, 0.25], fake^2 = [0.25, 9, 1], (fake - 1)^2 = [0.25, 4, 4]
    assert losses.d_loss_lsgan(real, fake).item() == pytest.approx(0.5 * 9.25 / 3 + 0.5 * 10.25 / 3)
    assert losses.g_loss_lsgan(fake).item() == pytest.approx(0.5 * 8.25 / 3)


def test_hinge_ignores_samples_beyond_the_margin():
    real = torch.tensor([1.5, 0.5], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    losses.d_loss_hinge(real, fake).backward()
    assert real.grad.tolist() == [0.0, -0.5] and fake.grad.tolist() == [0.0, 0.5]


def test_objective_table_matches_the_config_and_the_formulas():
    """Every family.objective the config accepts has a pair in the table, and each pair gives the paper's values
    at hand-picked logits (real 2, -1; fake 0.5, -3), computed here without the library's functions."""
    import dataclasses

    from ganforge.families.gan_options import GANOptions

    choices = {f.name: f for f in dataclasses.fields(GANOptions)}["objective"].metadata["choices"]
    assert set(losses.OBJECTIVES) == set(choices)
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])

    def softplus(v):
        return math.log1p(math.exp(v))

    expected = {  # (D loss, G loss)
        "gan": ((softplus(-2) + softplus(1)) / 2 + (softplus(0.5) + softplus(-3)) / 2,
                (softplus(-0.5) + softplus(3)) / 2),
        "wgan": (-1.25 - 0.5, 1.25),  # E f(G(z)) - E f(x); -E f(G(z))
        "hinge": ((0 + 2) / 2 + (1.5 + 0) / 2, 1.25),
        "lsgan": (0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2, 0.5 * (0.25 + 16) / 2),
    }
    for name, (d_value, g_value) in expected.items():
        d_loss, g_loss = losses.OBJECTIVES[name]
        assert d_loss(real, fake).item() == pytest.approx(d_value, rel=1e-6), name
        assert g_loss(fake).item() == pytest.approx(g_value, rel=1e-6), name
    assert losses.G_LOSSES["minimax"](fake).item() == pytest.approx(-(softplus(0.5) + softplus(-3)) / 2, rel=1e-6)


def test_clip_weights_bounds_every_parameter():
    net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.linspace(-3, 3, p.numel()).reshape(p.shape))
        net[2].bias.fill_(0.005)
    assert losses.clip_weights_(net, 0.01) is None
    for p in net.parameters():
        assert p.abs().max().item() <= 0.01
    assert net[0].weight.min().item() == pytest.approx(-0.01) and net[0].weight.max().item() == pytest.approx(0.01)
    assert net[2].bias.item() == pytest.approx(0.005)  # inside the box: untouched
    with pytest.raises(ValueError):
        losses.clip_weights_(net, 0.0)


# --- Gradient penalties ---------------------------------------------------------------------------------------


def linear_critic(norm: float, shape: tuple[int, ...] = (3, 4, 4)) -> nn.Module:
    """f(x) = w.x with ||w|| = norm, so grad_x f = w everywhere."""
    critic = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1, bias=False), nn.Flatten(0))
    with torch.no_grad():
        w = torch.randn(1, math.prod(shape), generator=torch.Generator().manual_seed(0))
        critic[1].weight.copy_(w / w.norm() * norm)
    return critic


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    assert abs(losses.gradient_penalty(linear_critic(1.0), real, fake).item()) < 1e-6
    assert losses.gradient_penalty(linear_critic(2.0), real, fake).item() == pytest.approx(1.0, abs=1e-5)
    assert losses.gradient_penalty(linear_critic(0.5), real, fake).item() == pytest.approx(0.25, abs=1e-5)


def test_gradient_penalty_interpolates_with_one_coefficient_per_sample():
    seen = []

    def critic(x):
        seen.append(x.detach().clone())
        return (x**2).flatten(1).sum(1)

    real, fake = torch.ones(6, 3, 4, 4), torch.zeros(6, 3, 4, 4)  # so x_hat = eps exactly
    losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    eps = seen[0].flatten(1)
    assert torch.equal(eps, eps[:, :1].expand_as(eps))  # one value across all pixels of a sample
    assert len(set(eps[:, 0].tolist())) == 6  # and a different one for each sample
    assert (eps >= 0).all() and (eps < 1).all()
    # the same seed gives the same coefficients; the penalty is E[(||2 x_hat|| - 1)^2] with ||x_hat|| = eps sqrt(48)
    seen.clear()
    gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert torch.equal(seen[0].flatten(1), eps)
    expected = ((2 * eps[:, 0] * math.sqrt(48) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_on_segment_between_pairs():
    seen = []

    def critic(x):
        seen.append(x.detach().clone())
        return x.flatten(1).sum(1)

    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    losses.gradient_penalty(critic, real, fake)
    coef = (seen[0] - fake) / (real - fake)  # x_hat = eps real + (1 - eps) fake
    assert torch.allclose(coef, coef[:, :1, :1, :1].expand_as(coef), atol=1e-4)


def test_gradient_penalty_backpropagates_into_the_critic():
    critic = linear_critic(2.0)
    gp = losses.gradient_penalty(critic, torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4, requires_grad=True))
    gp.backward()
    w = critic[1].weight
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = w at ||w|| = 2
    assert torch.allclose(w.grad, w.detach(), atol=1e-5)

    mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    losses.gradient_penalty(mlp, torch.randn(8, 2), torch.randn(8, 2)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mlp.parameters() if p.dim() > 1)


def test_r1_of_a_linear_discriminator_is_half_the_squared_weight_norm():
    w = torch.tensor([3.0, -4.0], requires_grad=True)  # ||w||^2 = 25
    x = torch.randn(5, 2, requires_grad=True)
    r1 = losses.r1_penalty(x @ w, x)
    assert r1.item() == pytest.approx(12.5)
    r1.backward()  # differentiable in the weights: d/dw 0.5 ||w||^2 = w
    assert torch.allclose(w.grad, w.detach())


def test_r1_on_images_sums_over_pixels():
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    logits = (x**2).flatten(1).sum(1)  # grad = 2x
    expected = 0.5 * (2 * x.detach()).pow(2).flatten(1).sum(1).mean()
    assert losses.r1_penalty(logits, x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_dragan_penalty():
    real = torch.randn(6, 3, 4, 4)
    assert abs(losses.dragan_penalty(linear_critic(1.0), real).item()) < 1e-6
    assert losses.dragan_penalty(linear_critic(2.0), real).item() == pytest.approx(1.0, abs=1e-5)

    seen = []

    def critic(x):
        seen.append(x.detach().clone())
        return x.flatten(1).sum(1)

    losses.dragan_penalty(critic, real, generator=torch.Generator().manual_seed(0))
    # x_hat = x + (1 - eps) 0.5 std(x) u: within half a (population) std above x, noise differing per element
    shift = seen[0] - real
    assert (shift >= -1e-6).all() and (shift <= 0.5 * real.std(correction=0) + 1e-6).all()
    assert len(set(shift[0].flatten().tolist())) > 1
