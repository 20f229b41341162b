"""Mode coverage on toy Gaussian mixtures, the protocol of VEEGAN (Srivastava et al., 2017) and PacGAN
(Lin et al., 2018).

Each generated sample is assigned to its nearest mode centre and is "high quality" when it lies within
threshold standard deviations (3 by default) of that centre. A mode is captured when at least one
high-quality sample is assigned to it. The reverse KL compares how the high-quality samples spread over
the modes with the uniform spread of the true mixture, so it sees partial collapse (all modes hit, but
unevenly) that the mode count misses.
"""

from __future__ import annotations

import math

import torch

from ganforge.errors import UserError


def mode_metrics(samples: torch.Tensor, modes: torch.Tensor, sigma: float,
                 threshold: float = 3.0) -> dict[str, float]:
    """Mode-coverage statistics of samples (N x D) against mixture modes (M x D) of common std sigma.

    Returns modes_captured (int, 0..M), high_quality (fraction of all samples within threshold * sigma of
    their nearest mode; boundary included), reverse_kl = KL(q || uniform) = sum_m q_m log(M q_m) over the
    modes with q_m > 0, q being the high-quality samples' distribution over modes (inf when no sample is
    high quality), and n_samples (int).
    """
    for x, name in ((samples, "samples"), (modes, "modes")):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 1:
            raise UserError(f"{name} must be a non-empty 2-D tensor (rows are points), "
                            f"got shape {tuple(getattr(x, 'shape', ()))}")
    if samples.shape[1] != modes.shape[1]:
        raise UserError(f"samples and modes differ in dimension: {samples.shape[1]} vs {modes.shape[1]}")
    if not sigma > 0 or not threshold > 0:
        raise UserError(f"sigma and threshold must be positive, got sigma={sigma}, threshold={threshold}")
    if not torch.isfinite(samples).all():
        raise UserError("samples contain NaN or infinite values")
    x, centres = samples.to(torch.float64), modes.to(torch.float64).to(samples.device)
    # Direct differences rather than the matrix-product shortcut, so a sample exactly on the threshold
    # is not pushed across it by rounding.
    dist = torch.cdist(x, centres, compute_mode="donot_use_mm_for_euclid_dist")
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= threshold * sigma
    counts = torch.bincount(nearest[high_quality], minlength=modes.shape[0]).double()
    n_hq = float(counts.sum())
    if n_hq == 0:
        reverse_kl = math.inf
    else:
        q = counts[counts > 0] / n_hq
        reverse_kl = float((q * torch.log(q * modes.shape[0])).sum())
    return {"modes_captured": int((counts > 0).sum()), "high_quality": n_hq / samples.shape[0],
            "reverse_kl": reverse_kl, "n_samples": int(samples.shape[0])}
