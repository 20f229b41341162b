"""Parzen-window log-likelihood: against scipy, by hand, batching, and the sigma chosen on a known mixture."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from ganforge.metrics.parzen import DEFAULT_SIGMAS, choose_sigma, parzen_log_likelihood, parzen_score


def scipy_parzen(samples: np.ndarray, data: np.ndarray, sigma: float) -> np.ndarray:
    """The mixture density computed directly: one scipy Gaussian per sample, logsumexp over them."""
    cov = sigma ** 2 * np.eye(samples.shape[1])
    per_sample = np.stack([multivariate_normal(mean=s, cov=cov).logpdf(data) for s in samples])  # N x M
    return logsumexp(per_sample, axis=0) - math.log(len(samples))


@pytest.mark.parametrize("sigma", [0.2, 1.0, 3.0])
def test_matches_scipy(sigma):
    g = torch.Generator().manual_seed(0)
    samples, data = torch.randn(7, 3, generator=g), torch.randn(5, 3, generator=g)
    ll = parzen_log_likelihood(samples, data, sigma)
    assert ll.shape == (5,) and ll.dtype == torch.float64
    np.testing.assert_allclose(ll.numpy(), scipy_parzen(samples.double().numpy(), data.double().numpy(), sigma),
                               rtol=1e-10, atol=1e-10)


def test_accurate_far_from_the_origin():
    # the matmul identity subtracts numbers ~1e6 apart here; float64 keeps the distances right
    g = torch.Generator().manual_seed(1)
    samples = 1000 + torch.randn(6, 4, generator=g, dtype=torch.float64)
    data = 1000 + torch.randn(4, 4, generator=g, dtype=torch.float64)
    ll = parzen_log_likelihood(samples, data, 0.5)
    np.testing.assert_allclose(ll.numpy(), scipy_parzen(samples.numpy(), data.numpy(), 0.5), rtol=1e-8)


def test_one_sample_by_hand():
    # one Gaussian at the origin, x = (1, 2), sigma 0.5: -||x||^2 / (2 * 0.25) - (2/2) log(2 pi 0.25)
    ll = parzen_log_likelihood(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 2.0]]), 0.5)
    assert ll.item() == pytest.approx(-10 - math.log(math.pi / 2), rel=1e-12)
    # a point at the sample itself: just the normalising constant
    ll = parzen_log_likelihood(torch.tensor([[3.0, -1.0]]), torch.tensor([[3.0, -1.0]]), 0.5)
    assert ll.item() == pytest.approx(-math.log(math.pi / 2), rel=1e-12)


def test_far_point_is_finite_not_minus_infinity():
    # exp(-5e5) underflows to 0; logsumexp keeps the exact value
    ll = parzen_log_likelihood(torch.tensor([[0.0]]), torch.tensor([[100.0]]), 0.1)
    assert ll.item() == pytest.approx(-5e5 - 0.5 * math.log(2 * math.pi * 0.01), rel=1e-12)


def test_two_samples_by_hand():
    # samples at 0 and 2 in 1-D, x = 1, sigma 1: both terms exp(-1/2), so log p = -1/2 - log(2 pi)/2
    ll = parzen_log_likelihood(torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0]]), 1.0)
    assert ll.item() == pytest.approx(-0.5 - 0.5 * math.log(2 * math.pi), rel=1e-12)


def test_batching_does_not_change_the_result():
    g = torch.Generator().manual_seed(2)
    samples, data = torch.rand(50, 20, generator=g), torch.rand(37, 20, generator=g)
    full = parzen_log_likelihood(samples, data, 0.3)
    for batch in (1, 5, 36, 37, 1000):
        torch.testing.assert_close(parzen_log_likelihood(samples, data, 0.3, batch=batch), full,
                                   rtol=1e-12, atol=1e-12)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="dimensions"):
        parzen_log_likelihood(torch.zeros(3, 2), torch.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match="positive"):
        parzen_log_likelihood(torch.zeros(3, 2), torch.zeros(3, 2), 0.0)
    with pytest.raises(ValueError, match="N x D"):
        parzen_log_likelihood(torch.zeros(3), torch.zeros(3, 1), 1.0)


CENTRES = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])


def draw(n: int, g: torch.Generator, std: float = 0.3) -> torch.Tensor:
    return CENTRES[torch.randint(4, (n,), generator=g)] + std * torch.randn(n, 2, generator=g)


def test_default_grid_is_the_original_one():
    assert DEFAULT_SIGMAS == pytest.approx(np.logspace(-1, 0, 10).tolist())


def test_choose_sigma_recovers_the_true_std_when_samples_are_the_centres():
    # samples on the centres make the Parzen window the true mixture at sigma = 0.3; the likelihood peaks
    # there, so of the default grid the nearest point 0.278 wins (0.359 is next)
    g = torch.Generator().manual_seed(3)
    sigma, scores = choose_sigma(CENTRES.repeat(25, 1), draw(2000, g))
    assert sigma == pytest.approx(np.logspace(-1, 0, 10)[4])
    assert list(scores) == pytest.approx(DEFAULT_SIGMAS)
    assert scores[sigma] == max(scores.values())
    ordered = sorted(scores.values(), reverse=True)
    assert ordered[1] == pytest.approx(scores[DEFAULT_SIGMAS[5]])


def test_choose_sigma_on_noisy_samples_picks_the_data_scale():
    g = torch.Generator().manual_seed(4)
    samples, validation = draw(100, g), draw(2000, g)
    grid = [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0]
    sigma, scores = choose_sigma(samples, validation, grid)
    assert 0.1 <= sigma <= 0.5
    assert scores[0.01] < scores[sigma] - 1 and scores[3.0] < scores[sigma] - 1  # far-off sigmas score lower
    # each score is the mean of the per-point log-likelihoods
    assert scores[0.3] == pytest.approx(parzen_log_likelihood(samples, validation, 0.3).mean().item(), rel=1e-12)


def test_parzen_score():
    g = torch.Generator().manual_seed(5)
    samples, test, validation = draw(100, g), draw(300, g), draw(200, g)
    out = parzen_score(samples, test, validation, sigmas=[0.1, 0.2, 0.4], batch=64)
    sigma, _ = choose_sigma(samples, validation, [0.1, 0.2, 0.4])
    ll = scipy_parzen(samples.double().numpy(), test.double().numpy(), sigma)
    assert out["sigma"] == sigma
    assert out["parzen_ll"] == pytest.approx(ll.mean(), rel=1e-10)
    assert out["parzen_se"] == pytest.approx(ll.std() / math.sqrt(300), rel=1e-10)
    assert (out["n_samples"], out["n_test"], out["n_validation"]) == (100, 300, 200)
