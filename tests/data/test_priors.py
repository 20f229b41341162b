"""Latent priors of the adversarial autoencoder: shapes, RNG discipline, and the geometry of each prior."""

import math

import pytest
import torch

from ganforge.data.priors import (
    MIXTURE_RADIUS,
    MIXTURE_STD_RADIAL,
    MIXTURE_STD_TANGENTIAL,
    PRIORS,
    SWISS_NOISE,
    component_log_density,
    component_of,
    mixture_centres,
    sample_prior,
    share_in_component,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", PRIORS)
def test_shape_dtype_device(name, device):
    dim = 5 if name == "gaussian" else 2
    x = sample_prior(name, 7, dim, gen(0, device))
    assert x.shape == (7, dim) and x.dtype == torch.float32 and x.device.type == device
    labels = torch.arange(7, device=device) % 3
    assert sample_prior(name, 7, dim, gen(0, device), labels=labels).shape == (7, dim)


@pytest.mark.parametrize("name", PRIORS)
def test_deterministic_and_leaves_the_global_rng_alone(name):
    state = torch.get_rng_state()
    a = sample_prior(name, 100, 2, gen(1))
    b = sample_prior(name, 100, 2, gen(1))
    c = sample_prior(name, 100, 2, gen(2))
    labels = torch.arange(100) % 10
    d = sample_prior(name, 100, 2, gen(1), labels=labels)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(d, sample_prior(name, 100, 2, gen(1), labels=labels))
    assert torch.equal(torch.get_rng_state(), state)


def test_gaussian_moments():
    x = sample_prior("gaussian", 200_000, 3, gen(3))
    assert x.mean(0).abs().max() < 0.01
    assert (x.std(0) - 1).abs().max() < 0.01
    assert torch.corrcoef(x.T).fill_diagonal_(0).abs().max() < 0.01


@pytest.mark.parametrize("name", ["mixture", "swiss_roll"])
def test_two_dimensional_priors_reject_other_dims(name):
    with pytest.raises(ValueError, match="2-dimensional"):
        sample_prior(name, 10, 3, gen())


def test_bad_name_and_labels_raise():
    with pytest.raises(ValueError, match="unknown prior"):
        sample_prior("uniform", 10, 2, gen())
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        sample_prior("mixture", 3, 2, gen(), labels=torch.tensor([0, 10, 1]))
    with pytest.raises(ValueError, match="shape"):
        sample_prior("mixture", 3, 2, gen(), labels=torch.tensor([0, 1]))


def test_mixture_centres():
    c = mixture_centres(4)
    torch.testing.assert_close(c, torch.tensor([[4.0, 0.0], [0.0, 4.0], [-4.0, 0.0], [0.0, -4.0]]))
    c10 = mixture_centres()
    assert c10.shape == (10, 2)
    torch.testing.assert_close(c10.norm(dim=1), torch.full((10,), MIXTURE_RADIUS))
    angle = 2 * math.pi * 3 / 10
    torch.testing.assert_close(c10[3], MIXTURE_RADIUS * torch.tensor([math.cos(angle), math.sin(angle)]))


def test_mixture_components_are_elongated_along_their_radius():
    # component 0 sits at (4, 0): its radius is the x axis, its tangent the y axis
    x = sample_prior("mixture", 50_000, 2, gen(4), labels=torch.zeros(50_000, dtype=torch.int64))
    torch.testing.assert_close(x.mean(0), torch.tensor([MIXTURE_RADIUS, 0.0]), atol=0.01, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([MIXTURE_STD_RADIAL, MIXTURE_STD_TANGENTIAL]),
                               atol=0.005, rtol=0)


def test_labelled_mixture_draws_fall_in_their_own_component():
    labels = torch.randint(10, (20_000,), generator=gen(5))
    x = sample_prior("mixture", 20_000, 2, gen(6), labels=labels)
    assert share_in_component(x, labels) > 0.99
    assert torch.equal(component_of(x), component_log_density(x).argmax(1))


def test_unlabelled_mixture_picks_components_uniformly():
    x = sample_prior("mixture", 50_000, 2, gen(7))
    share = torch.bincount(component_of(x), minlength=10).double() / 50_000
    assert (share - 0.1).abs().max() < 0.01


def test_responsibilities_by_hand():
    sr, st = MIXTURE_STD_RADIAL, MIXTURE_STD_TANGENTIAL
    norm = math.log(2 * math.pi * sr * st)
    step = 2 * math.pi / 10  # angle between neighbouring centres
    centres = MIXTURE_RADIUS * torch.tensor([[math.cos(k * step), math.sin(k * step)] for k in range(10)],
                                            dtype=torch.float64)
    # at centre 2: its own density is the peak value; the neighbour's is Gaussian in the rotated frame
    logd = component_log_density(centres[2:3])[0]
    assert logd[2].item() == pytest.approx(-norm, rel=1e-12)
    # centre 2 is at angle -step in centre 3's frame
    along, across = MIXTURE_RADIUS * math.cos(step) - MIXTURE_RADIUS, -MIXTURE_RADIUS * math.sin(step)
    assert logd[3].item() == pytest.approx(-0.5 * ((along / sr) ** 2 + (across / st) ** 2) - norm, rel=1e-12)
    assert torch.softmax(logd, 0)[2].item() == pytest.approx(1.0, abs=1e-12)
    # midway between centres 0 at (4, 0) and 1 at 36 degrees: in centre 0's frame the offset is half the chord
    mid = (centres[0] + centres[1]) / 2
    logd = component_log_density(mid[None])[0]
    along, across = (MIXTURE_RADIUS * math.cos(step) - MIXTURE_RADIUS) / 2, MIXTURE_RADIUS * math.sin(step) / 2
    expected = -0.5 * ((along / sr) ** 2 + (across / st) ** 2) - norm
    assert logd[0].item() == pytest.approx(expected, rel=1e-12)
    assert logd[1].item() == pytest.approx(expected, rel=1e-12)
    resp = torch.softmax(logd, 0)
    assert resp[0].item() == pytest.approx(0.5, abs=1e-9) and resp[1].item() == pytest.approx(0.5, abs=1e-9)
    # nudged towards centre 1, the point belongs to it
    assert component_of((mid + 0.01 * (centres[1] - centres[0]))[None]).item() == 1
    assert component_of((mid - 0.01 * (centres[1] - centres[0]))[None]).item() == 0


def test_swiss_roll_mean_radius():
    # radius = 4 sqrt(u), so E[radius] = 4 * 2/3 (the noise adds about SWISS_NOISE^2 / 4 on average)
    x = sample_prior("swiss_roll", 100_000, 2, gen(8))
    assert x.norm(dim=1).mean().item() == pytest.approx(8 / 3, abs=0.02)
    assert x.abs().max() < 4 + 6 * SWISS_NOISE


def test_swiss_roll_segments_are_ordered_along_the_roll():
    labels = torch.arange(20_000) % 10
    x = sample_prior("swiss_roll", 20_000, 2, gen(9), labels=labels)
    u = (x.norm(dim=1) / 4) ** 2  # position along the roll, recovered from the radius
    means = torch.stack([u[labels == k].mean() for k in range(10)])
    assert (means.diff() > 0).all()
    torch.testing.assert_close(means, (torch.arange(10) + 0.5) / 10, atol=0.02, rtol=0)
    # the outer segment lies on the spiral: angle = 1.5 turns * sqrt(u), i.e. 3 pi radius / 4
    outer = x[labels == 9]
    r, theta = outer.norm(dim=1), torch.atan2(outer[:, 1], outer[:, 0])
    gap = torch.remainder(theta - 3 * math.pi * r / 4 + math.pi, 2 * math.pi) - math.pi
    # radial noise moves the angle predicted from the radius by 3 pi / 4 per unit; tangential noise, by 1 / r
    assert gap.mean().abs() < 0.02
    assert gap.std().item() == pytest.approx(SWISS_NOISE * math.hypot(3 * math.pi / 4, 1 / 3.9), rel=0.05)
