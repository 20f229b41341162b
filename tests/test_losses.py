import math

import torch

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
