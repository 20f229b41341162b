"""Video prediction metrics against values worked out by hand on tiny frames."""

import math

import pytest
import torch

from ganforge.metrics import video as vm
from ganforge.metrics.translation import ssim


def test_mse_sums_squared_error_over_the_frame():
    true = torch.zeros(1, 2, 4, 4)
    true[0, 0, 0, :3] = 0.5  # three pixels of 0.5 in frame 1: 3 x 0.25
    true[0, 1] = 1.0  # a white frame 2 against black: 16 pixels of error 1
    assert vm.frame_mse(torch.zeros_like(true), true).tolist() == [[0.75, 16.0]]


def test_sharpness_is_a_psnr_on_gradients():
    true = torch.zeros(1, 1, 3, 3)
    true[0, 0, 1, 1] = 1.0
    # |dx|+|dy| over pixels (1,1), (1,2), (2,1), (2,2): 1+1, 0+1, 1+0, 0+0 -> mean 1
    assert vm.gradient_magnitude(true)[0, 0].tolist() == [[2.0, 1.0], [1.0, 0.0]]
    assert vm.frame_sharpness(torch.zeros_like(true), true).item() == pytest.approx(0.0, abs=1e-6)
    # half as strong an edge: mean gradient difference 0.5 -> 10 log10(1 / 0.5)
    assert vm.frame_sharpness(0.5 * true, true).item() == pytest.approx(10 * math.log10(2), rel=1e-6)
    assert vm.frame_sharpness(true, true).item() == pytest.approx(vm.SHARPNESS_CAP)
    # a flat offset changes no gradient: the sharpness difference does not see it
    assert vm.frame_sharpness(true + 0.25, true).item() == pytest.approx(vm.SHARPNESS_CAP)


def test_ssim_per_frame_is_the_image_ssim_of_each_frame():
    g = torch.Generator().manual_seed(0)
    true = torch.rand(2, 3, 16, 16, generator=g)
    pred = (true + 0.1 * torch.randn(2, 3, 16, 16, generator=g)).clamp(0, 1)
    got = vm.frame_ssim(pred, true)
    assert got.shape == (2, 3)
    assert got[1, 2].item() == pytest.approx(ssim(pred[1:2, 2:3], true[1:2, 2:3]).item(), rel=1e-6)
    assert vm.frame_ssim(true, true).allclose(torch.ones(2, 3))
    assert (got < 1).all()


def test_measure_copy_last_and_summaries():
    clips = torch.zeros(2, 4, 16, 16, dtype=torch.uint8)  # 2 in, 2 out
    clips[:, 1, 0, 0] = 255  # the last input frame has one white pixel
    clips[0, 3, 0, 0] = 255  # clip 0 keeps it in its second predicted frame
    values = vm.measure(lambda past: vm.copy_last(past.float() / 255, 2), clips, n_in=2)
    # frame 1: both clips wrong by one pixel (1.0); frame 2: clip 0 right, clip 1 wrong -> mean 0.5
    assert values["mse_1"] == pytest.approx(1.0) and values["mse_2"] == pytest.approx(0.5)
    assert values["mse_mean"] == pytest.approx(0.75)
    assert {"ssim_1", "ssim_mean", "sharpness_2", "sharpness_mean"} <= set(values)
