import pytest
import torch

from ganforge.errors import UserError
from ganforge.metrics.prdc import density_coverage, knn_radii, precision_recall, size_warning


def line(*xs):
    """Points on a line as an N x 1 tensor."""
    return torch.tensor(xs, dtype=torch.float64).unsqueeze(1)


def cloud(n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen)


def test_radii_are_kth_neighbour_distances_excluding_self():
    assert knn_radii(line(0, 1, 2, 3, 10), 1).tolist() == [1, 1, 1, 1, 7]
    assert knn_radii(line(0, 1, 2, 3, 4), 3).tolist() == [3, 2, 2, 2, 3]
    # a duplicate is a neighbour at distance 0; only the point itself is left out
    assert knn_radii(line(0, 0, 5), 1).tolist() == [0, 0, 5]


def test_hand_counted_case_k1():
    # real radii (k=1): 0, 1, 2, 3 -> 1 and the outlier 10 -> 7
    # fake radii (k=1): 0.5 -> 1, 1.5 -> 1, 6 -> 4.5, 20 -> 1, 21 -> 1
    real = line(0, 1, 2, 3, 10)
    fake = line(0.5, 1.5, 6, 20, 21)
    # fakes in real balls: 0.5 (balls of 0 and 1), 1.5 (1 and 2), 6 (the outlier 10's wide ball); 20, 21 none
    # reals in fake balls: 0, 1, 2 near 0.5 / 1.5; 3 and 10 in the ball of the fake outlier 6 (radius 4.5)
    assert precision_recall(real, fake, k=1) == {"precision": 3 / 5, "recall": 1.0}
    # density: memberships 2 + 2 + 1 + 0 + 0 = 5 over k M = 5
    # coverage: the balls of 0, 1, 2 and 10 hold a fake, the ball of 3 does not
    assert density_coverage(real, fake, k=1) == {"density": 1.0, "coverage": 4 / 5}


def test_hand_counted_case_k3_with_boundary_points():
    # real 0..4 with k=3: radii 3, 2, 2, 2, 3
    real = line(0, 1, 2, 3, 4)
    fake = line(-3, 5.5, 6, 7.5)
    # -3 is exactly 3 from 0 (on the boundary: inside, since membership is distance <= radius);
    # 5.5 and 6 are within 3 of 4; 7.5 is 3.5 from 4 and 4.5 from 3: outside
    assert precision_recall(real, fake, k=3)["precision"] == 3 / 4
    # each of -3, 5.5, 6 is in exactly one ball: density 3 / (3 * 4); only the balls of 0 and 4 hold a fake
    assert density_coverage(real, fake, k=3) == {"density": 0.25, "coverage": 2 / 5}


def test_boundary_is_inside():
    real = line(0, 1, 2, 3)  # k=1 radii all 1
    assert precision_recall(real, line(4, 4), k=1)["precision"] == 1.0
    assert precision_recall(real, line(4.001, 4.001), k=1)["precision"] == 0.0


def test_two_dimensional_hand_case():
    # real: corners of the unit square, k=1 radius 1 each; fakes at the centre (distance 0.71 from every
    # corner: in all 4 balls), at (2, 0) (1 from corner (1, 0): in one ball) and at (3, 3) (in none)
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fake = torch.tensor([[0.5, 0.5], [2.0, 0.0], [3.0, 3.0]])
    assert precision_recall(real, fake, k=1)["precision"] == pytest.approx(2 / 3)
    assert density_coverage(real, fake, k=1) == pytest.approx({"density": 5 / 3, "coverage": 1.0})


def test_identical_sets():
    x = cloud(200, 2, 0)
    assert precision_recall(x, x, k=3) == {"precision": 1.0, "recall": 1.0}
    # each real ball holds its centre's copy and its k nearest neighbours: density (k + 1) / k
    result = density_coverage(x, x, k=5)
    assert result["coverage"] == 1.0
    assert result["density"] == pytest.approx(6 / 5, abs=1e-12)
    # the k-th neighbour sits exactly on its ball's boundary; chunking must not let rounding push it out
    assert density_coverage(x, x, k=5, chunk_size=64) == result


def test_independent_draws_of_one_distribution_have_density_near_one():
    result = density_coverage(cloud(1000, 2, 1), cloud(1000, 2, 2), k=5)
    assert result["density"] == pytest.approx(1.0, abs=0.1)
    assert result["coverage"] > 0.9


def test_far_away_fakes_score_zero():
    real = cloud(100, 4, 3)
    fake = cloud(100, 4, 4) + 100.0
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


def test_chunked_equals_unchunked():
    real, fake = cloud(150, 5, 5), cloud(130, 5, 6) * 1.3 + 0.2
    for k in (1, 5):  # chunks of 32 rows: the last is partial
        for metric in (precision_recall, density_coverage):
            assert metric(real, fake, k=k, chunk_size=32) == metric(real, fake, k=k, chunk_size=10_000)


def test_roles_swap():
    real, fake = cloud(120, 3, 7), cloud(90, 3, 8) + 0.5
    forward, backward = precision_recall(real, fake), precision_recall(fake, real)
    assert forward == {"precision": backward["recall"], "recall": backward["precision"]}


def test_bad_inputs_raise_user_errors():
    x = cloud(5, 2, 9)
    with pytest.raises(UserError, match="k must be"):
        precision_recall(x, x, k=5)
    with pytest.raises(UserError, match="k must be"):
        density_coverage(x, x, k=0)
    with pytest.raises(UserError, match="dimension"):
        precision_recall(x, cloud(5, 3, 10), k=1)
    with pytest.raises(UserError, match="chunk_size"):
        density_coverage(x, x, k=1, chunk_size=0)


def test_set_sizes_too_small_are_refused_and_small_ones_named():
    with pytest.raises(UserError, match=r"^dc needs more than k=5 images in each set .*got 5 real and 300 fake: use a "
                                        r"larger --n or drop dc from --metrics$"):
        size_warning(("fid", "dc"), 5, 300)
    with pytest.raises(UserError, match=r"^pr needs more than k=3"):
        size_warning(("pr",), 300, 3)
    assert size_warning(("pr",), 4, 4).startswith("pr (k=3) on 4 images per set")
    assert size_warning(("pr", "dc"), 300, 500) == (
        "pr (k=3) and dc (k=5) on 300 images per set, below the 1,000 where their estimates steady: read them as "
        "rough, and compare them only between evaluations of the same n")
    assert size_warning(("pr", "dc"), 1000, 1000) is None and size_warning(("fid", "kid"), 10, 10) is None

