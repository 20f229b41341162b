import math

import pytest
import torch

from ganforge.data import make_toy
from ganforge.errors import UserError
from ganforge.metrics.toy import mode_metrics

RING = make_toy("toy-ring", 10, 0)  # for its 8 modes on the unit circle and sigma 0.01


def at_modes(*counts):
    """counts[m] samples placed exactly on ring mode m."""
    return torch.cat([RING.modes[m].expand(c, 2) for m, c in enumerate(counts)])


def radial(mode, distance, n=1):
    """n samples `distance` further out from the centre than ring mode `mode` (still nearest to it)."""
    return (RING.modes[mode] * (1 + distance)).expand(n, 2)


def test_two_of_eight_modes_equally_split():
    result = mode_metrics(at_modes(5, 5), RING.modes, RING.sigma)
    assert result == {"modes_captured": 2, "high_quality": 1.0, "reverse_kl": pytest.approx(math.log(4)),
                      "n_samples": 10}


def test_all_modes_uniformly():
    result = mode_metrics(at_modes(*[3] * 8), RING.modes, RING.sigma)
    assert result == {"modes_captured": 8, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12),
                      "n_samples": 24}


def test_samples_four_sigma_away_are_low_quality_and_capture_nothing():
    # modes 0..5 get one sample each on the centre; modes 0 and 7 also get samples 4 sigma out
    samples = torch.cat([at_modes(1, 1, 1, 1, 1, 1), radial(0, 4 * RING.sigma, 3), radial(7, 4 * RING.sigma)])
    result = mode_metrics(samples, RING.modes, RING.sigma)
    assert result["n_samples"] == 10
    assert result["high_quality"] == 6 / 10
    assert result["modes_captured"] == 6  # mode 7 has only a low-quality sample
    assert result["reverse_kl"] == pytest.approx(math.log(8 / 6))  # uniform over 6 of 8 modes


def test_uneven_split_reverse_kl():
    # q = (3/4, 1/4, 0, ...): KL(q || uniform over 8) = 3/4 log(8 * 3/4) + 1/4 log(8 * 1/4)
    result = mode_metrics(at_modes(3, 1), RING.modes, RING.sigma)
    assert result["reverse_kl"] == pytest.approx(0.75 * math.log(6) + 0.25 * math.log(2))


def test_threshold_boundary_is_high_quality():
    modes = torch.tensor([[-2.0], [2.0]])  # sigma 0.5, threshold 3: radius 1.5 exactly
    result = mode_metrics(torch.tensor([[-0.5], [-0.4999], [0.1], [2.0]]), modes, 0.5)
    # -0.5 is exactly 1.5 from -2 (inside); -0.4999 is 1.5001 from -2; 0.1 is nearest 2 but 1.9 away
    assert result["high_quality"] == 2 / 4
    assert result["modes_captured"] == 2
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert mode_metrics(torch.tensor([[-0.5]]), modes, 0.5, threshold=2.9)["high_quality"] == 0.0


def test_no_high_quality_samples_gives_infinite_reverse_kl():
    result = mode_metrics(torch.tensor([[0.0, 0.0], [5.0, 5.0]]), RING.modes, RING.sigma)
    assert result == {"modes_captured": 0, "high_quality": 0.0, "reverse_kl": math.inf, "n_samples": 2}


@pytest.mark.parametrize("name,n_modes", [("toy-ring", 8), ("toy-grid", 25)])
def test_real_toy_data_covers_every_mode(name, n_modes):
    ds = make_toy(name, 2500, 0)
    result = mode_metrics(ds.x, ds.modes, ds.sigma)
    assert result["modes_captured"] == n_modes
    # a 2-D Gaussian sample lies within 3 sigma of its centre with probability 1 - exp(-9/2) = 0.9889
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0 <= result["reverse_kl"] < 0.02  # multinomial noise only: about (M - 1) / (2 n)


def test_bad_inputs_raise_user_errors():
    with pytest.raises(UserError, match="dimension"):
        mode_metrics(torch.zeros(3, 3), RING.modes, RING.sigma)
    with pytest.raises(UserError, match="sigma"):
        mode_metrics(torch.zeros(3, 2), RING.modes, 0.0)
    with pytest.raises(UserError, match="non-empty"):
        mode_metrics(torch.zeros(0, 2), RING.modes, RING.sigma)
    with pytest.raises(UserError, match="NaN"):
        mode_metrics(torch.full((1, 2), float("nan")), RING.modes, RING.sigma)
