"""Mode counting on Stacked MNIST (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN).

Each generated 3 x 28 x 28 image is read as three digits, one per channel, by the MNIST domain classifier;
the triple is one of 1,000 modes. Reported: how many modes appear at least once among the samples (26,000 in
the papers) and KL(q || uniform) = sum_m q_m log(1000 q_m) of the samples' mode histogram q. Even a perfect
sampler scores KL near (1000 - 1) / (2 N) = 0.019 at N = 26,000: the histogram of finitely many draws is
never exactly flat.
"""

from __future__ import annotations

import torch

from ganforge import viz
from ganforge.errors import UserError

N_MODES = 1000


@torch.no_grad()
def read_digits(images: torch.Tensor, classifier: torch.nn.Module,
                batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(digits, confidence), each N x 3: the classifier's digit for each channel of N x 3 x 28 x 28 images (uint8,
    or float in [-1, 1]) and its softmax probability. Confidence tells a badly drawn digit, which the classifier
    has to file under some class anyway, from a clear one."""
    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 28, 28):
        raise UserError(f"Stacked MNIST mode counting needs N x 3 x 28 x 28 images, got {tuple(images.shape)}")
    digits, confidence = [], []
    for part in viz.to_uint8(images).split(batch_size):
        x = part.float().div(127.5).sub(1.0).reshape(-1, 1, 28, 28)  # each channel is one digit
        p, d = torch.softmax(classifier(x), 1).max(1)
        digits.append(d.reshape(-1, 3))
        confidence.append(p.reshape(-1, 3))
    return torch.cat(digits), torch.cat(confidence)


def stacked_modes(images: torch.Tensor, classifier: torch.nn.Module, batch_size: int = 1000) -> torch.Tensor:
    """The mode (100 r + 10 g + b) of each N x 3 x 28 x 28 image (uint8, or float in [-1, 1])."""
    return digits_to_modes(read_digits(images, classifier, batch_size)[0])


def digits_to_modes(digits: torch.Tensor) -> torch.Tensor:
    """N x 3 digits (r, g, b) -> the N modes 100 r + 10 g + b."""
    return (digits * torch.tensor([100, 10, 1], device=digits.device)).sum(1)


def mode_statistics(modes: torch.Tensor) -> dict[str, float]:
    """{"modes": distinct modes seen, "kl": KL(q || uniform over 1,000), "channel_kl": the sum over the three
    channels of KL(digit histogram || uniform over 10), "n_samples"}.

    channel_kl is the part of kl that the digit frequencies of each channel alone explain: the two are equal
    when the channels are independent, and kl - channel_kl measures how far they depend on one another.
    """
    counts = torch.bincount(modes, minlength=N_MODES)
    channel_kl = sum(kl_to_uniform(torch.bincount(digits, minlength=10))
                     for digits in (modes // 100, modes // 10 % 10, modes % 10))
    return {"modes": int((counts > 0).sum()), "kl": kl_to_uniform(counts), "channel_kl": channel_kl,
            "n_samples": len(modes)}


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(q || uniform) = sum_k q_k log(K q_k) of the histogram `counts` over its K bins (empty bins add 0)."""
    q = counts[counts > 0].double() / counts.sum()
    return float((q * torch.log(q * len(counts))).sum())
