"""Tests for ganforge.metrics.swd: the Laplacian pyramid, patches, and the sliced Wasserstein distance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F

from ganforge.metrics.swd import (
    _patch_positions,
    laplacian_pyramid,
    level_names,
    patch_descriptors,
    pyr_down,
    pyr_up,
    pyramid_resolutions,
    random_directions,
    reconstruct_laplacian_pyramid,
    sliced_wasserstein,
    sliced_wasserstein_distance,
)
from ganforge.viz import to_uint8


def smooth_images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Random low-frequency images in [-1, 1]: a 4 x 4 noise field per channel, upsampled."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


def noisy_images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """White Gaussian noise images (std 0.5, clamped to [-1, 1]): a texture with detail at every scale."""
    g = torch.Generator().manual_seed(seed)
    return (0.5 * torch.randn(n, 3, size, size, generator=g)).clamp(-1, 1)


# --------------------------------------------------------------------------- pyramid


def test_pyramid_levels_sizes_and_names():
    assert pyramid_resolutions(32, 32) == [(32, 32), (16, 16)]
    assert pyramid_resolutions(28, 28) == [(28, 28)]
    assert pyramid_resolutions(128, 128) == [(128, 128), (64, 64), (32, 32), (16, 16)]
    assert pyramid_resolutions(8, 8) == []
    assert level_names(64, 64) == ["64", "32", "16"] and level_names(32, 64) == ["32x64", "16x32"]
    pyr = laplacian_pyramid(torch.rand(2, 3, 64, 64))
    assert [tuple(p.shape) for p in pyr] == [(2, 3, 64, 64), (2, 3, 32, 32), (2, 3, 16, 16)]


def test_constant_image_has_zero_detail_and_reconstructs():
    images = torch.full((2, 3, 32, 32), 0.3)
    images[1] = -0.7
    pyr = laplacian_pyramid(images)
    assert len(pyr) == 2
    assert pyr[0].abs().max() < 1e-6  # detail
    assert torch.allclose(pyr[-1], images[:, :, :16, :16], atol=1e-6)  # low-pass keeps the constant
    assert torch.allclose(reconstruct_laplacian_pyramid(pyr), images, rtol=0, atol=1e-5)


def test_random_image_reconstructs_including_odd_sizes():
    g = torch.Generator().manual_seed(0)
    for shape in [(2, 1, 64, 64), (1, 3, 35, 33)]:
        images = torch.rand(shape, generator=g) * 2 - 1
        pyr = laplacian_pyramid(images)
        assert len(pyr) > 1
        assert torch.allclose(reconstruct_laplacian_pyramid(pyr), images, rtol=0, atol=1e-5)


def test_pyr_down_and_up_match_the_reference_scipy_filters():
    """The reference code's pyr_down / pyr_up: scipy.ndimage.convolve with the 5 x 5 kernel, mode='mirror'."""
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float64)[None, None] / 256
    x = np.random.default_rng(0).random((2, 3, 16, 16))
    down = scipy.ndimage.convolve(x, kernel, mode="mirror")[:, :, ::2, ::2]
    assert np.allclose(pyr_down(torch.from_numpy(x)).numpy(), down, atol=1e-12)
    zeros = np.zeros((2, 3, 32, 32))
    zeros[:, :, ::2, ::2] = x
    up = scipy.ndimage.convolve(zeros, kernel * 4, mode="mirror")
    assert np.allclose(pyr_up(torch.from_numpy(x)).numpy(), up, atol=1e-12)


# --------------------------------------------------------------------------- patches


def test_patch_descriptors_shapes_and_standardisation():
    images = smooth_images(4, seed=0)
    desc = patch_descriptors(images, patches_per_image=16)
    assert [tuple(d.shape) for d in desc] == [(64, 147), (64, 147)]
    per_channel = desc[0].view(64, 3, 49)
    assert torch.allclose(per_channel.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per_channel.std(dim=(0, 2), correction=0), torch.ones(3), atol=1e-5)


def test_float_and_uint8_inputs_give_the_same_descriptors_and_batching_does_not_matter():
    images = smooth_images(5, seed=1)
    a = patch_descriptors(images, patches_per_image=8)
    b = patch_descriptors(to_uint8(images), patches_per_image=8, batch_size=2)
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(a, b, strict=True))


def reference_descriptors(images: torch.Tensor, patches_per_image: int, seed: int) -> list[np.ndarray]:
    """The reference protocol written out in NumPy / SciPy: uint8 -> float32 0..255, scipy 'mirror' binomial
    pyramid, patches at the positions swd draws, standardisation with NumPy's population std."""
    kernel = np.float32(np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256)[None, None]
    levels = [to_uint8(images).numpy().astype(np.float32)]
    sizes = pyramid_resolutions(*images.shape[-2:])
    for _ in sizes[1:]:
        low = scipy.ndimage.convolve(levels[-1], kernel, mode="mirror")[:, :, ::2, ::2]
        zeros = np.zeros_like(levels[-1])
        zeros[:, :, ::2, ::2] = low
        levels[-1] = levels[-1] - scipy.ndimage.convolve(zeros, 4 * kernel, mode="mirror")
        levels.append(low)
    out = []
    for level, (rows, cols) in zip(levels, _patch_positions(len(images), sizes, patches_per_image, 7, seed),
                                   strict=True):
        patches = np.stack([level[i, :, r : r + 7, c : c + 7] for i in range(len(images))
                            for r, c in zip(rows[i].tolist(), cols[i].tolist(), strict=True)])
        patches = patches - patches.mean(axis=(0, 2, 3), keepdims=True)
        out.append((patches / patches.std(axis=(0, 2, 3), keepdims=True)).reshape(len(patches), -1))
    return out


def test_descriptors_match_the_reference_protocol():
    images = noisy_images(3, seed=5, size=32) * 0.5 + smooth_images(3, seed=5, size=32) * 0.5
    ours = patch_descriptors(images, patches_per_image=8, seed=2)
    ref = reference_descriptors(images, patches_per_image=8, seed=2)
    assert len(ours) == len(ref) == 2
    for a, b in zip(ours, ref, strict=True):
        assert np.allclose(a.numpy(), b, atol=1e-4)


# --------------------------------------------------------------------------- distances


def test_one_direction_equals_scipy_wasserstein_distance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.exponential(size=200)
    one = torch.ones(1, 1, dtype=torch.float64)
    got = sliced_wasserstein_distance(torch.from_numpy(a)[:, None], torch.from_numpy(b)[:, None], one)
    assert got.shape == (1,)
    assert got.item() == pytest.approx(scipy.stats.wasserstein_distance(a, b), rel=1e-12)
    # and along an arbitrary unit direction in 3-D: the 1-D distance of the projections
    a3, b3 = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) * 2
    d = random_directions(3, 5, torch.Generator().manual_seed(0)).double()
    assert torch.allclose(d.norm(dim=0), torch.ones(5, dtype=torch.float64), atol=1e-6)
    got = sliced_wasserstein_distance(torch.from_numpy(a3), torch.from_numpy(b3), d)
    dn = d.numpy()
    expected = [scipy.stats.wasserstein_distance(a3 @ dn[:, k], b3 @ dn[:, k]) for k in range(5)]
    assert np.allclose(got.numpy(), expected, rtol=1e-10)


def test_swd_of_a_set_with_itself_is_zero():
    images = noisy_images(8, seed=0)
    result = sliced_wasserstein(images, images.clone(), patches_per_image=32)
    assert set(result) == {"swd_32", "swd_16", "swd_avg"}
    assert all(v == 0 for v in result.values())


def test_same_distribution_is_much_closer_than_a_different_texture():
    # 32 images x 128 patches: the distance between two samples of one distribution is sampling noise,
    # ~1/sqrt(4096 patches) x 1e3; the paper's 16384 images push that floor to ~1.
    real = noisy_images(32, seed=0)
    same = noisy_images(32, seed=1)
    other = smooth_images(32, seed=1)
    close = sliced_wasserstein(real, same)
    far = sliced_wasserstein(real, other)
    assert set(close) == set(far) == {"swd_32", "swd_16", "swd_avg"}
    assert all(v > 0 for v in close.values())
    # measured: close ~30 / 43 / 36, far ~161 / 125 / 143 (levels 32 / 16 / avg). The blurred low-pass level
    # has fewer independent values per patch, hence the higher floor and smaller ratio there.
    assert far["swd_32"] > 4 * close["swd_32"], (close, far)
    assert far["swd_16"] > 2 * close["swd_16"], (close, far)
    assert far["swd_avg"] > 3 * close["swd_avg"], (close, far)
    assert far["swd_avg"] == pytest.approx((far["swd_32"] + far["swd_16"]) / 2)


def test_swd_is_deterministic_given_the_seed():
    real, fake = smooth_images(8, seed=0), noisy_images(8, seed=2)
    a = sliced_wasserstein(real, fake, patches_per_image=16, seed=3)
    torch.manual_seed(123)  # the global RNG plays no part
    b = sliced_wasserstein(real, fake, patches_per_image=16, seed=3)
    c = sliced_wasserstein(real, fake, patches_per_image=16, seed=4)
    assert a == b
    assert a != c


def test_swd_rejects_sets_of_different_shapes():
    with pytest.raises(ValueError, match="same number"):
        sliced_wasserstein(smooth_images(4, 0), smooth_images(5, 0))
    with pytest.raises(ValueError, match="minimum resolution"):
        sliced_wasserstein(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))
