import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.errors import UserError
from ganforge.metrics.frechet import feature_stats, fid_from_features, frechet_distance


def pytorch_fid_reference(mu1, sigma1, mu2, sigma2, eps=0.0):
    """The pytorch-fid formula in float64 numpy: sqrtm of the product, real part; eps * I added inside
    the square root only, as pytorch-fid does when sqrtm fails."""
    offset = np.eye(sigma1.shape[0]) * eps
    covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset)).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def stats_np(x):
    mu, sigma = feature_stats(x)
    return mu.numpy(), sigma.numpy()


def features(n, d, seed, shift=0.0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64) * scale + shift


def test_feature_stats_match_numpy_cov():
    x = features(40, 5, 0, shift=2.0).float()
    mu, sigma = feature_stats(x)
    assert mu.dtype == sigma.dtype == torch.float64
    xn = x.double().numpy()
    np.testing.assert_allclose(mu.numpy(), xn.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(xn, rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.5, 1.0), (-1.0, 3.0), (10.0, 0.1)])
def test_matches_pytorch_fid_on_well_conditioned_features(shift, scale):
    real, fake = features(500, 64, 1), features(500, 64, 2, shift=shift, scale=scale)
    expected = pytorch_fid_reference(*stats_np(real), *stats_np(fake))
    assert fid_from_features(real, fake) == pytest.approx(expected, rel=1e-6)


def test_hand_computed_one_dimensional_case():
    # x = {0, 2}: mean 1, variance 2; y = {1, 5}: mean 3, variance 8 (ddof=1)
    # FD = (1 - 3)^2 + 2 + 8 - 2 sqrt(2 * 8) = 4 + 10 - 8 = 6
    x = torch.tensor([[0.0], [2.0]])
    y = torch.tensor([[1.0], [5.0]])
    assert fid_from_features(x, y) == pytest.approx(6.0, abs=1e-12)


def test_hand_computed_singular_non_commuting_2d_case():
    # Degenerate Gaussians: unit variance along the x axis vs along the diagonal. S1 S2 = [[.5, .5], [0, 0]]
    # has eigenvalues 1/2 and 0, so FD = 1 + 1 - 2 sqrt(1/2) = 2 - sqrt(2) (= 2 - 2 cos 45 degrees).
    s1 = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    s2 = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    mu = torch.zeros(2)
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(2 - math.sqrt(2), abs=1e-12)
    shifted = mu + torch.tensor([3.0, 4.0])  # adds ||(3, 4)||^2 = 25
    assert frechet_distance(mu, s1, shifted, s2) == pytest.approx(27 - math.sqrt(2), abs=1e-12)


def test_diagonal_closed_form_with_singular_covariances():
    # Commuting covariances Q diag(a) Q^T and Q diag(b) Q^T: FD = ||mu diff||^2 + sum (sqrt a - sqrt b)^2,
    # here with many zero variances (rank 10 and 20 of 64).
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(64, generator=gen, dtype=torch.float64) * 4
    b = torch.rand(64, generator=gen, dtype=torch.float64) * 4
    a[10:], b[20:] = 0.0, 0.0
    q, _ = torch.linalg.qr(torch.randn(64, 64, generator=gen, dtype=torch.float64))
    mu1, mu2 = torch.randn(64, generator=gen, dtype=torch.float64), torch.zeros(64, dtype=torch.float64)
    expected = float(((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum())
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def nuclear_norm_reference(real, fake):
    """FD from the centred data matrices: with S = F^T F, F = centred x / sqrt(n - 1), the nonzero
    eigenvalues of S1 S2 are the squared singular values of F1 F2^T (n1 x n2), so tr((S1 S2)^{1/2}) is its
    nuclear norm. No square root of a singular matrix is taken, so this is accurate where sqrtm is not."""
    f1 = (real - real.mean(0)) / math.sqrt(len(real) - 1)
    f2 = (fake - fake.mean(0)) / math.sqrt(len(fake) - 1)
    diff = real.mean(0) - fake.mean(0)
    nuclear = np.linalg.svd((f1 @ f2.T).numpy(), compute_uv=False).sum()
    return float(diff @ diff + (f1 ** 2).sum() + (f2 ** 2).sum()) - 2 * nuclear


def low_rank_features(n, rank, d, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, rank, generator=gen, dtype=torch.float64)
    return z @ torch.randn(rank, d, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("real,fake", [
    (features(50, 64, 4), features(50, 64, 5, shift=0.1)),  # N < D: covariances of rank 49
    (low_rank_features(500, 8, 64, 6), low_rank_features(500, 8, 64, 7)),  # rank 8, different subspaces
], ids=["fewer-samples-than-dims", "low-rank"])
def test_nearly_singular_covariances(real, fake):
    fid = fid_from_features(real, fake)
    assert fid == pytest.approx(nuclear_norm_reference(real, fake), rel=1e-6)
    mu1, s1 = stats_np(real)
    mu2, s2 = stats_np(fake)
    d, eps = s1.shape[0], 1e-6
    # With eps * I added both sides compute the same well-posed quantity; frechet_distance also counts the
    # eps in the traces, 2 eps d, which pytorch-fid leaves out.
    reg = frechet_distance(torch.tensor(mu1), torch.tensor(s1 + eps * np.eye(d)),
                           torch.tensor(mu2), torch.tensor(s2 + eps * np.eye(d))) - 2 * eps * d
    assert reg == pytest.approx(pytorch_fid_reference(mu1, s1, mu2, s2, eps=eps), rel=1e-6)
    # and the unregularised value moves by at most sqrt(eps * largest eigenvalue) per dimension, twice
    bound = 2 * d * math.sqrt(eps * max(np.linalg.eigvalsh(s1)[-1], np.linalg.eigvalsh(s2)[-1]))
    assert abs(fid - pytorch_fid_reference(mu1, s1, mu2, s2, eps=eps)) < bound


def test_identical_sets_give_zero():
    x = features(300, 32, 8, shift=1.0, scale=2.0)
    assert abs(fid_from_features(x, x)) < 1e-6
    y = features(30, 64, 9)  # singular covariance
    assert abs(fid_from_features(y, y)) < 1e-6


def test_symmetric():
    real, fake = features(200, 16, 10), features(300, 16, 11, shift=0.3, scale=1.7)
    assert fid_from_features(real, fake) == pytest.approx(fid_from_features(fake, real), rel=1e-10)


def test_any_float_dtype():
    real, fake = features(200, 8, 12), features(200, 8, 13, shift=0.5)
    expected = fid_from_features(real, fake)
    assert fid_from_features(real.float(), fake.float()) == pytest.approx(expected, rel=1e-5)
    assert fid_from_features(real.half(), fake.half()) == pytest.approx(expected, rel=1e-2)


def test_bad_inputs_raise_user_errors():
    with pytest.raises(UserError, match="dimension"):
        fid_from_features(torch.randn(10, 3), torch.randn(10, 4))
    with pytest.raises(UserError, match="at least 2"):
        fid_from_features(torch.randn(1, 3), torch.randn(10, 3))
    with pytest.raises(UserError, match="N x D"):
        feature_stats(torch.randn(10))
    with pytest.raises(UserError, match="NaN"):
        feature_stats(torch.tensor([[0.0], [float("nan")]]))
    with pytest.raises(UserError, match="do not match"):
        frechet_distance(torch.zeros(2), torch.eye(2), torch.zeros(3), torch.eye(3))
