"""Mode counting on Stacked MNIST (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN).

Each generated 3 x 28 x 28 image is read as three digits, one per channel, by the MNIST domain classifier;
the triple is one of 1,000 modes. Reported: how many modes appear at least once among the samples (26,000 in
the papers) and KL(q || uniform) = sum_m q_m log(1000 q_m) of the samples' mode histogram q.
"""

from __future__ import annotations

import torch

from ganforge import viz
from ganforge.errors import UserError

N_MODES = 1000


@torch.no_grad()
def stacked_modes(images: torch.Tensor, classifier: torch.nn.Module, batch_size: int = 1000) -> torch.Tensor:
    """The mode (100 r + 10 g + b) of each N x 3 x 28 x 28 image (uint8, or float in [-1, 1])."""
    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 28, 28):
        raise UserError(f"Stacked MNIST mode counting needs N x 3 x 28 x 28 images, got {tuple(images.shape)}")
    modes = []
    for part in viz.to_uint8(images).split(batch_size):
        x = part.float().div(127.5).sub(1.0).reshape(-1, 1, 28, 28)  # each channel is one digit
        digits = classifier(x).argmax(1).reshape(-1, 3)
        modes.append((digits * torch.tensor([100, 10, 1])).sum(1))
    return torch.cat(modes)


def mode_statistics(modes: torch.Tensor) -> dict[str, float]:
    """{"modes": distinct modes seen, "kl": KL(q || uniform over 1,000), "n_samples"}."""
    counts = torch.bincount(modes, minlength=N_MODES).double()
    q = counts[counts > 0] / counts.sum()
    kl = float((q * torch.log(q * N_MODES)).sum())
    return {"modes": int((counts > 0).sum()), "kl": kl, "n_samples": len(modes)}
