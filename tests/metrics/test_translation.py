"""Translation metrics against hand-computed cases."""

import math

import numpy as np
import pytest
import torch

from ganforge.metrics.translation import (
    PSNR_CAP,
    flip_rate,
    gaussian_window,
    l1,
    polarity,
    psnr,
    ssim,
    to_unit,
)


def test_to_unit_maps_bytes_and_sample_range_to_zero_one():
    assert to_unit(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [0.0, 1.0]
    assert to_unit(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.5, 1.0]


def test_l1_and_psnr_by_hand():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.zeros(2, 1, 2, 2)
    b[0, 0, 0, 0] = 0.4  # image 0: one pixel off by 0.4; image 1: a copy
    assert l1(a, b).tolist() == pytest.approx([0.1, 0.0])
    # MSE = 0.16 / 4 = 0.04 -> 10 log10(1 / 0.04) = 13.979 dB; a copy scores the cap
    assert psnr(a, b).tolist() == pytest.approx([10 * math.log10(25), PSNR_CAP], rel=1e-6)


def test_ssim_of_identical_images_is_one_and_of_constant_images_follows_the_formula():
    x = torch.rand(3, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x).tolist() == pytest.approx([1.0] * 3, abs=1e-6)
    # constant images c1 and c2: no variance, so SSIM = (2 c1 c2 + C1) / (c1^2 + c2^2 + C1), C1 = 0.01^2
    a, b = torch.full((1, 1, 12, 12), 0.2), torch.full((1, 1, 12, 12), 0.6)
    expected = (2 * 0.2 * 0.6 + 1e-4) / (0.04 + 0.36 + 1e-4)
    assert ssim(a, b).item() == pytest.approx(expected, rel=1e-5)


def test_ssim_of_one_window_matches_weighted_statistics_computed_by_hand():
    rng = np.random.default_rng(1)
    x, y = rng.random((11, 11)), rng.random((11, 11))
    w = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(w, w) / np.outer(w, w).sum()
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
    cxy = (w * (x - mx) * (y - my)).sum()
    c1, c2 = 0.01**2, 0.03**2
    expected = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    got = ssim(torch.tensor(x)[None, None].float(), torch.tensor(y)[None, None].float()).item()
    assert got == pytest.approx(expected, abs=1e-5)
    assert gaussian_window().sum().item() == pytest.approx(1.0)


def test_ssim_falls_with_noise_and_refuses_small_images():
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    noise = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    scores = [ssim(x, (x + s * noise).clamp(0, 1)).item() for s in (0.01, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError, match="at least 11"):
        ssim(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 7, 7))


def test_polarity_and_flip_rate():
    digit = torch.zeros(1, 1, 28, 28)
    digit[..., 10:18, 10:18] = 1.0  # a light square on a dark ground
    inverted = 1 - digit
    assert polarity(torch.cat([digit, inverted])).tolist() == [1, -1]
    outputs = torch.cat([digit, inverted, digit, digit])
    assert flip_rate(outputs, torch.cat([digit] * 4)) == 0.25
