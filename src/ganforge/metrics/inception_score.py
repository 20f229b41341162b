"""Inception Score (Salimans et al. 2016) from any classifier's logits; with the domain classifiers of
ganforge it is the "classifier score" of MNIST / Fashion-MNIST samples.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed on each of `n_splits` equal parts of the samples and reported as mean and standard deviation over
the parts (the original code uses 10). It is high when each sample is classified confidently (sharp p(y|x))
and the samples spread over the classes (flat p(y)); it ranges from 1 to the number of classes. It does not
look at the real data, so it cannot see memorisation or samples that are sharp but unlike the data.

The FID Inception file has no logits (its output is the pool3 layer), so ganforge computes this score with the
domain classifiers only.
"""

from __future__ import annotations

import torch

from ganforge.errors import UserError


def inception_score(logits: torch.Tensor, n_splits: int = 10) -> dict[str, float]:
    """{"is_mean", "is_std"} of the Inception Score from N x K logits, over `n_splits` parts (std ddof 0)."""
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise UserError(f"the Inception Score needs N x K logits with K >= 2 classes, got {tuple(logits.shape)}")
    if not 1 <= n_splits <= len(logits):
        raise UserError(f"the Inception Score needs at least n_splits={n_splits} samples, got {len(logits)}")
    log_p = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for part in log_p.tensor_split(n_splits):
        log_marginal = torch.logsumexp(part, dim=0) - torch.log(torch.tensor(float(len(part)), dtype=torch.float64))
        kl = (part.exp() * (part - log_marginal)).sum(dim=1)  # KL(p(y|x) || p(y)) per sample
        scores.append(kl.mean().exp())
    scores_t = torch.stack(scores)
    return {"is_mean": float(scores_t.mean()), "is_std": float(scores_t.std(correction=0))}
