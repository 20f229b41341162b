"""Adversarial objectives as plain functions of discriminator logits.

Everything works on logits: log D(x) = -softplus(-l) and log(1 - D(x)) = -softplus(l) are exact and stable,
where Sigmoid followed by BCE saturates and underflows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss of the minimax game: -[log D(x) + log(1 - D(G(z)))], averaged."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the minimax value function: minimise log(1 - D(G(z))).

    Saturates when D confidently rejects the fakes (gradient -> 0 as D(G(z)) -> 0), which is why
    Goodfellow et al. 2014 suggest the non-saturating loss below in practice.
    """
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: maximise log D(G(z)), i.e. minimise -log D(G(z))."""
    return F.softplus(-fake_logits).mean()


G_LOSSES = {"minimax": g_loss_minimax, "nonsaturating": g_loss_nonsaturating}
