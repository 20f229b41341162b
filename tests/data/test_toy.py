"""Toy mixtures: layout, determinism and the statistics of the drawn points."""

import math

import pytest
import torch

from ganforge.data import load_dataset, make_toy
from ganforge.errors import UserError

N = 100_000


@pytest.fixture(scope="module", params=["toy-ring", "toy-grid", "toy-1d"])
def toy(request):
    return make_toy(request.param, N, seed=0)


def test_shapes_and_types(toy):
    dim = 1 if toy.name == "toy-1d" else 2
    assert toy.kind == "toy" and toy.source == "generated"
    assert toy.x.shape == (N, dim) and toy.x.dtype == torch.float32
    assert toy.y.shape == (N,) and toy.y.dtype == torch.int64
    assert toy.modes.dtype == torch.float32 and toy.modes.shape[1] == dim
    assert isinstance(toy.sigma, float)


def test_ring_layout():
    ds = make_toy("toy-ring", 10)
    k = torch.arange(8, dtype=torch.float64)
    expected = torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], 1).float()
    torch.testing.assert_close(ds.modes, expected)
    assert ds.sigma == 0.01


def test_grid_layout():
    ds = make_toy("toy-grid", 10)
    coords = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert sorted(map(tuple, ds.modes.tolist())) == [(a, b) for a in coords for b in coords]
    assert ds.sigma == 0.05


def test_1d_layout():
    ds = make_toy("toy-1d", 10)
    assert ds.modes.tolist() == [[-2.0], [2.0]]
    assert ds.sigma == 0.5


def test_deterministic_for_a_seed():
    a, b = make_toy("toy-grid", 1000, seed=7), make_toy("toy-grid", 1000, seed=7)
    c = make_toy("toy-grid", 1000, seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert torch.equal(load_dataset("toy-grid", n_toy=1000, seed=7).x, a.x)


def test_points_lie_around_their_mode(toy):
    dist = (toy.x - toy.modes[toy.y]).norm(dim=1)
    within = (dist < 3 * toy.sigma).float().mean().item()
    if toy.x.shape[1] == 2:
        expected = 1 - math.exp(-4.5)  # chi with 2 degrees of freedom: P(r < 3 sigma) ~ 0.9889
    else:
        expected = math.erf(3 / math.sqrt(2))  # ~ 0.9973
    assert abs(within - expected) < 0.002  # binomial sd is ~ 0.0003
    # Per-axis spread is sigma, and the nearest mode is the one drawn from (modes are far apart).
    torch.testing.assert_close((toy.x - toy.modes[toy.y]).std(0), torch.full((toy.x.shape[1],), toy.sigma),
                               rtol=0.02, atol=0)
    nearest = torch.cdist(toy.x, toy.modes).argmin(1)
    assert (nearest == toy.y).float().mean().item() > 0.99


def test_modes_equally_likely(toy):
    m = len(toy.modes)
    share = torch.bincount(toy.y, minlength=m).float() / N
    sd = math.sqrt((1 / m) * (1 - 1 / m) / N)
    assert (share - 1 / m).abs().max().item() < 5 * sd


def test_bad_sizes_and_names():
    with pytest.raises(UserError, match="n_toy"):
        load_dataset("toy-ring", n_toy=0)
    with pytest.raises(UserError, match="toy-ring"):
        make_toy("toy-rings")
