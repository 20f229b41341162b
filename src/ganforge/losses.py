"""Adversarial objectives as plain functions of discriminator logits.

Everything works on logits: log D(x) = -softplus(-l) and log(1 - D(x)) = -softplus(l) are exact and stable,
where Sigmoid followed by BCE saturates and underflows. The WGAN, hinge and least-squares objectives read
the same logits as raw scores; the Lipschitz constraints and gradient penalties that go with them follow.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Discriminator loss of the minimax game: -[log D(x) + log(1 - D(G(z)))], averaged.

    smoothing s > 0 is one-sided label smoothing (Salimans et al. 2016): the target for real data is 1 - s,
    i.e. -[(1 - s) log D(x) + s log(1 - D(x))]; fakes keep target 0, which would otherwise reward G for
    staying where it is.
    """
    real_term = F.softplus(-real_logits).mean()
    if smoothing:
        real_term = (1 - smoothing) * real_term + smoothing * F.softplus(real_logits).mean()
    return real_term + F.softplus(fake_logits).mean()


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


# --- Other objectives -------------------------------------------------------------------------------------


def d_loss_wgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss, E[f(G(z))] - E[f(x)] (Arjovsky et al. 2017).

    Minimising it maximises the Kantorovich-Rubinstein estimate of W1; that is only an estimate of W1 when
    the critic f is (roughly) 1-Lipschitz, so pair it with `clip_weights_` or `gradient_penalty`.
    """
    return fake.mean() - real.mean()


def g_loss_wgan(fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss, -E[f(G(z))] (Arjovsky et al. 2017)."""
    return -fake.mean()


def d_loss_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss, E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017, Miyato et al. 2018).

    Samples already beyond the margin (D(x) >= 1, D(G(z)) <= -1) contribute no gradient.
    """
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_loss_hinge(fake: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss, -E[D(G(z))] (Lim & Ye 2017, Miyato et al. 2018): no margin on G's side."""
    return -fake.mean()


def d_loss_lsgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Least-squares discriminator loss, 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2] (Mao et al. 2017).

    The a = 0 (fake), b = 1 (real), c = 1 (G's target) coding of the paper; D's output is a raw score.
    """
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def g_loss_lsgan(fake: torch.Tensor) -> torch.Tensor:
    """Least-squares generator loss, 0.5 E[(D(G(z)) - 1)^2] (Mao et al. 2017, c = 1)."""
    return 0.5 * (fake - 1).pow(2).mean()


def class_loss(class_logits: torch.Tensor, c: torch.Tensor, attributes: bool = False) -> torch.Tensor:
    """ACGAN's class loss, -log P(C = c | x) averaged over the batch (Odena et al. 2017), for D on real and
    fake samples and for G.

    `c` is the condition vector: a one-hot class (softmax cross-entropy over the classes), or with
    `attributes` several 0/1 attributes, each its own yes/no question (sigmoid cross-entropy, averaged).
    """
    if attributes:
        return F.binary_cross_entropy_with_logits(class_logits, c)
    return F.cross_entropy(class_logits, c.argmax(1))


# --- Autoencoders ---------------------------------------------------------------------------------------------


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the code's dimensions, averaged over the
    batch: 0.5 * sum(mean^2 + var - log_var - 1) (Kingma and Welling 2014, Appendix B)."""
    return 0.5 * (mean.float() ** 2 + log_var.float().exp() - log_var.float() - 1).flatten(1).sum(1).mean()


def gaussian_feature_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """-log p(a | b) up to a constant, for a Gaussian of unit variance around b: half the squared distance per
    example, summed over its values, averaged over the batch (the VAE-GAN's L_llike in D's features)."""
    return 0.5 * ((a.float() - b.float()) ** 2).flatten(1).sum(1).mean()


# --- Lipschitz constraints and gradient penalties -----------------------------------------------------------


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN weight clipping (Arjovsky et al. 2017): clamp every parameter of `module` to [-c, c] in place.

    Call after each critic step; the paper used c = 0.01. A crude way to keep f in a compact set of
    K-Lipschitz functions (the paper itself calls it "a clearly terrible way"): prefer `gradient_penalty`.
    """
    if c <= 0:
        raise ValueError(f"clip value c must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)


def _per_sample(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U[0, 1) of shape [N, 1, 1, ...]: one coefficient per sample, broadcast over the other dimensions."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return _uniform(shape, x, generator)


def _uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # draw where the generator lives (a CPU generator cannot fill a CUDA tensor), then move to the data
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _gradient_norm_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_hat: torch.Tensor) -> torch.Tensor:
    """mean over samples of (||grad_x critic(x)||_2 at x_hat - 1)^2, differentiable in the critic's weights."""
    x_hat = x_hat.requires_grad_(True)
    # the sum over samples keeps them separate as long as sample i's output depends on x_hat[i] alone, which
    # BatchNorm in D breaks (the GAN family prints a note when the two are combined)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty, E[(||grad f(x_hat)||_2 - 1)^2] (Gulrajani et al. 2017).

    x_hat = eps x + (1 - eps) G(z) with eps ~ U[0, 1) drawn once per sample (shared by all of its pixels), so
    x_hat lies on the segment between a real and a fake sample, where the optimal critic has unit gradient
    norm. The result is differentiable in the critic's weights (create_graph); the caller multiplies by
    lambda (10 in the paper) and adds it to the critic loss. The paper drops BatchNorm from the critic,
    which would couple the samples' gradients (use LayerNorm or none).
    """
    real, fake = real.detach(), fake.detach()
    eps = _per_sample(real, generator)
    return _gradient_norm_penalty(critic, eps * real + (1 - eps) * fake)


def r1_penalty(real_logits: torch.Tensor, real_x: torch.Tensor) -> torch.Tensor:
    """R1 penalty, 0.5 E_x[||grad_x D(x)||^2] at real data (Mescheder et al. 2018).

    `real_x` must have had requires_grad set before computing `real_logits = D(real_x)`. The caller adds
    gamma * r1_penalty (the paper's gamma/2 ||grad||^2). Lazy regularisation (Karras et al. 2020, StyleGAN2):
    compute it only every `interval` D steps (16 there) and multiply gamma by `interval` so the average
    strength is unchanged; the GAN family (families/gan.py) counts the D steps and scales gamma.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_x, create_graph=True)
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean()


def orthogonal_penalty(module: nn.Module) -> torch.Tensor:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3): sum over the weight matrices W of
    `module` (convolutions flattened to out x in*k*k) of ||W W^T * (1 - I)||_F^2, which pushes filters towards
    orthogonality without constraining their norms. The caller multiplies by beta (1e-4 in the paper)."""
    total = torch.zeros(())
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight.transpose(0, 1) if isinstance(m, nn.ConvTranspose2d) else m.weight
            w = w.flatten(1).float()
            # ||W W^T||_F = ||W^T W||_F: take the Gram matrix on the smaller side (a 40 x 6272 projection of z
            # would otherwise make a 6272 x 6272 one), then remove the diagonal, the squared row norms
            gram = w.t() @ w if w.shape[0] > w.shape[1] else w @ w.t()
            diagonal = w.pow(2).sum(1)
            total = total.to(w.device) + gram.pow(2).sum() - diagonal.pow(2).sum()
    return total


def dragan_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """DRAGAN penalty, E[(||grad f(x_hat)||_2 - 1)^2] near the real data (Kodali et al. 2017).

    x_p = x + 0.5 std(x) u with u ~ U[0, 1) per element and std the (population) std of the whole batch, as
    in the reference implementation; x_hat = eps x + (1 - eps) x_p with eps ~ U[0, 1) per sample. Penalising
    sharp gradients around the data targets the local equilibria that cause mode collapse. The caller
    multiplies by lambda (10 in the paper).
    """
    real = real.detach()
    perturbed = real + 0.5 * real.std(correction=0) * _uniform(tuple(real.shape), real, generator)
    eps = _per_sample(real, generator)
    return _gradient_norm_penalty(critic, eps * real + (1 - eps) * perturbed)


# family.objective -> (D's loss, G's loss); for "gan", family.g_loss picks G's loss from G_LOSSES instead
OBJECTIVES: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                            Callable[[torch.Tensor], torch.Tensor]]] = {
    "gan": (d_loss_bce, g_loss_nonsaturating),
    "wgan": (d_loss_wgan, g_loss_wgan),
    "hinge": (d_loss_hinge, g_loss_hinge),
    "lsgan": (d_loss_lsgan, g_loss_lsgan),
}
