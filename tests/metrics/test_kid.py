import pytest
import torch

from ganforge.errors import UserError
from ganforge.metrics.kid import kernel_inception_distance, mmd2_unbiased, subset_plan


def kernel(a, b):
    return (sum(ai * bi for ai, bi in zip(a, b, strict=True)) / len(a) + 1) ** 3


def mmd2_by_loops(x, y):
    """The unbiased MMD^2 written out pair by pair (Python floats, no tensors)."""
    x, y = x.tolist(), y.tolist()
    m, n = len(x), len(y)
    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def draws(n, d, seed, shift=0.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen) + shift


def test_unbiased_estimate_equals_pairwise_loops():
    x, y = draws(5, 3, 0), draws(4, 3, 1, shift=0.5)
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_by_loops(x, y), rel=1e-6)


def test_hand_computed_one_dimensional_case():
    # d = 1, x = {0, 1}, y = {2, 3}: k(a, b) = (ab + 1)^3
    # xx: k(0, 1) = 1; yy: k(2, 3) = 343; xy: k(0, 2) = k(0, 3) = 1, k(1, 2) = 27, k(1, 3) = 64, mean 93/4
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [3.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(1 + 343 - 2 * 93 / 4, abs=1e-9)


def test_identical_sets_give_minus_two_over_m_minus_one_times_diagonal_excess():
    # With x = y (m rows, kernel matrix K) the cross term keeps the diagonal that the within terms drop:
    # MMD_u^2 = 2 (sum K - tr K) / (m (m - 1)) - 2 sum K / m^2 = -2 / (m - 1) * (mean diag K - mean K) <= 0.
    x = draws(60, 4, 2)
    k = (x.double() @ x.double().T / 4 + 1) ** 3
    expected = float(-2 / 59 * (k.diagonal().mean() - k.mean()))
    assert expected < 0
    assert mmd2_unbiased(x, x) == pytest.approx(expected, rel=1e-9)
    # subset_size >= len capped at 60: every subset pair is the whole set (permuted), so no spread
    kid = kernel_inception_distance(x, x, n_subsets=3, subset_size=1000)
    assert kid["kid_mean"] == pytest.approx(expected, rel=1e-9)
    assert kid["kid_std"] < 1e-12


def test_same_distribution_is_near_zero_and_a_shift_is_clearly_positive():
    real, fake = draws(300, 8, 3), draws(300, 8, 4)
    same = kernel_inception_distance(real, fake, n_subsets=10, subset_size=150)
    shifted = kernel_inception_distance(real, fake + 0.5, n_subsets=10, subset_size=150)
    assert abs(same["kid_mean"]) < 0.02
    assert shifted["kid_mean"] > 0.3
    assert shifted["kid_mean"] > 5 * shifted["kid_std"]


def test_subset_size_is_capped_at_the_smaller_set():
    real, fake = draws(40, 3, 5), draws(25, 3, 6)
    capped = kernel_inception_distance(real, fake, n_subsets=4, subset_size=1000)
    exact = kernel_inception_distance(real, fake, n_subsets=4, subset_size=25)
    assert capped == exact
    # with fake used whole, each subset differs only in which 25 real rows are drawn
    assert capped["kid_std"] > 0


def test_deterministic_for_a_seed():
    real, fake = draws(80, 5, 7), draws(80, 5, 8, shift=0.2)
    a = kernel_inception_distance(real, fake, n_subsets=5, subset_size=30, seed=3)
    assert a == kernel_inception_distance(real, fake, n_subsets=5, subset_size=30, seed=3)
    assert a != kernel_inception_distance(real, fake, n_subsets=5, subset_size=30, seed=4)
    assert set(a) == {"kid_mean", "kid_std"} and all(isinstance(v, float) for v in a.values())


def test_bad_inputs_raise_user_errors():
    x = draws(10, 3, 9)
    with pytest.raises(UserError, match="dimension"):
        kernel_inception_distance(x, draws(10, 4, 10))
    with pytest.raises(UserError, match="n_subsets"):
        kernel_inception_distance(x, x, n_subsets=0)
    with pytest.raises(UserError, match="subset_size"):
        kernel_inception_distance(x, x, subset_size=1)
    with pytest.raises(UserError, match="at least 2"):
        mmd2_unbiased(x[:1], x)


def test_subsets_are_the_papers_on_large_sets_and_half_the_smaller_set_below_2000():
    assert subset_plan(10_000, 10_000) == (1000, 100) and subset_plan(2000, 5000) == (1000, 100)
    assert subset_plan(300, 300) == (150, 100) and subset_plan(1999, 300) == (150, 100)
    assert subset_plan(4, 4) == (2, 100)
    with pytest.raises(UserError, match=r"kid needs at least 4 images in each set .*got 3 real and 300 fake"):
        subset_plan(3, 300)


def test_kid_at_300_images_varies_over_its_subsets():
    # subsets of min(1000, n) at n = 300 would all be the whole set: 100 equal estimates, std ~1e-16
    from ganforge.metrics.scoring import compare, feature_protocol

    real, fake = draws(300, 16, 11), draws(300, 16, 12)
    whole = kernel_inception_distance(real, fake, subset_size=300)
    assert whole["kid_std"] < 1e-12
    kid = compare(real, fake, ("kid",))
    assert kid == kernel_inception_distance(real, fake, n_subsets=100, subset_size=150)
    assert kid["kid_std"] > 1e-4 and abs(kid["kid_mean"]) < 0.05
    assert feature_protocol(("kid",), 300, 300)["kid"] == (
        "cubic polynomial kernel, mean and std over 100 random subset pairs of 150 images each, from 300 real and "
        "300 generated")
