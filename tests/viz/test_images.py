"""Tests for ganforge.viz.images: quantisation, grids, reconstructions, frame selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import viz
from ganforge.errors import UserError
from ganforge.viz.images import _even_indices

# --------------------------------------------------------------------------- to_uint8


def test_to_uint8_endpoints_and_midpoint():
    out = viz.to_uint8(torch.tensor([-1.0, 0.0, 1.0]))
    assert out.dtype == torch.uint8
    # 0 -> 127.5 exactly; both half-to-even and half-up give 128. It is the only exact half inside [-1, 1]
    # (x + 1 = (2k + 1) / 255 is not a binary fraction otherwise), so the convention only matters in theory.
    assert out.tolist() == [0, 128, 255]


def test_to_uint8_clamps_out_of_range_and_maps_nan_to_zero():
    x = torch.tensor([-5.0, -1.001, 1.001, 3.0, float("-inf"), float("inf"), float("nan")])
    assert viz.to_uint8(x).tolist() == [0, 0, 255, 255, 0, 255, 0]


def test_to_uint8_rounds_to_nearest_level():
    # values just either side of the half-way point between levels 0 and 1, and 254 and 255
    x = torch.tensor([0.49, 0.51, 254.49, 254.51], dtype=torch.float64) / 127.5 - 1
    assert viz.to_uint8(x).tolist() == [0, 1, 254, 255]


def test_to_uint8_matches_documented_formula():
    x = torch.empty(10_000).uniform_(-1.2, 1.2, generator=torch.Generator().manual_seed(0))
    ref = np.clip(np.round((x.numpy() + 1) * np.float32(127.5)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(viz.to_uint8(x).numpy(), ref)


def test_to_uint8_computes_in_float32_for_every_float_dtype():
    # -1 + k/255 maps to k/2: every other value sits on a half-way point, where float64 arithmetic would
    # round differently from float32 for some k. The bytes must not depend on the input dtype.
    x64 = torch.arange(511, dtype=torch.float64) / 255 - 1
    assert torch.equal(viz.to_uint8(x64), viz.to_uint8(x64.float()))
    x16 = x64.half()
    assert torch.equal(viz.to_uint8(x16), viz.to_uint8(x16.float()))
    assert torch.equal(viz.to_uint8(x64.bfloat16()), viz.to_uint8(x64.bfloat16().float()))


def test_to_uint8_keeps_shape_and_detaches():
    x = torch.zeros(2, 3, 4, 5, requires_grad=True)
    out = viz.to_uint8(x)
    assert out.shape == (2, 3, 4, 5) and not out.requires_grad


def test_to_uint8_passes_uint8_through_and_rejects_other_ints():
    u = torch.arange(256, dtype=torch.uint8)
    assert viz.to_uint8(u) is u
    with pytest.raises(TypeError):
        viz.to_uint8(torch.arange(3))


# --------------------------------------------------------------------------- make_grid


@pytest.mark.parametrize(
    "n, c, nrow, padding, expected",
    [
        (10, 1, 4, 2, (3 * 7 + 2, 4 * 7 + 2)),  # 3 rows of up to 4
        (10, 3, 4, 2, (3 * 7 + 2, 4 * 7 + 2, 3)),
        (10, 1, None, 2, (3 * 7 + 2, 4 * 7 + 2)),  # default ceil(sqrt(10)) = 4 per row
        (16, 1, None, 0, (4 * 5, 4 * 5)),
        (3, 1, 8, 1, (1 * 6 + 1, 3 * 6 + 1)),  # fewer images than nrow: no empty columns
        (1, 3, None, 2, (7 + 2, 7 + 2, 3)),
    ],
)
def test_make_grid_shape(n, c, nrow, padding, expected):
    grid = viz.make_grid(torch.zeros(n, c, 5, 5), nrow=nrow, padding=padding)
    assert grid.dtype == np.uint8
    assert grid.shape == expected


def test_make_grid_places_each_image_row_major():
    n, h, w, pad, nrow = 7, 4, 3, 2, 3
    images = torch.stack([torch.full((1, h, w), k * 30, dtype=torch.uint8) for k in range(n)])
    grid = viz.make_grid(images, nrow=nrow, padding=pad, pad_value=255)
    for k in range(n):
        top, left = pad + (k // nrow) * (h + pad), pad + (k % nrow) * (w + pad)
        assert (grid[top : top + h, left : left + w] == k * 30).all(), k
        # the padding around each image is pad_value
        assert (grid[top - pad : top, left : left + w] == 255).all()
        assert (grid[top : top + h, left - pad : left] == 255).all()
    # the two empty cells of the last row are filled with pad_value
    assert (grid[pad + 2 * (h + pad) :, pad + 1 * (w + pad) :] == 255).all()


def test_make_grid_colour_channels_and_float_input():
    images = torch.full((2, 3, 2, 2), -1.0)
    images[1, 0] = 1.0  # second image red
    images[1, 2] = 0.0  # ... with half blue
    grid = viz.make_grid(images, nrow=2, padding=1)
    assert grid.shape == (4, 7, 3)
    assert grid[1, 1].tolist() == [0, 0, 0]
    assert grid[1, 4].tolist() == [255, 0, 128]
    assert np.array_equal(grid, viz.make_grid(viz.to_uint8(images), nrow=2, padding=1))


def test_make_grid_rejects_bad_input():
    with pytest.raises(ValueError):
        viz.make_grid(torch.zeros(2, 4, 5, 5))  # 4 channels
    with pytest.raises(ValueError):
        viz.make_grid(torch.zeros(1, 5, 5))
    with pytest.raises(ValueError):
        viz.make_grid(torch.zeros(0, 1, 5, 5))
    with pytest.raises(UserError):
        viz.make_grid(torch.zeros(2, 1, 5, 5), nrow=0)


# --------------------------------------------------------------------------- save_grid


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("upscale", [1, 3])
def test_save_grid_roundtrip(tmp_path, channels, upscale):
    images = torch.rand(6, channels, 7, 5, generator=torch.Generator().manual_seed(1)) * 2.4 - 1.2
    path = viz.save_grid(images, tmp_path / "a" / "b" / "grid.png", nrow=3, padding=2, upscale=upscale)
    assert path == tmp_path / "a" / "b" / "grid.png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.mode == ("L" if channels == 1 else "RGB")
        assert im.size == ((3 * 7 + 2) * upscale, (2 * 9 + 2) * upscale)
        pixels = np.asarray(im)
    # undo the nearest-neighbour enlargement: every upscale x upscale block is one pixel
    small = pixels[::upscale, ::upscale]
    assert np.array_equal(np.repeat(np.repeat(small, upscale, 0), upscale, 1), pixels)
    # image 4 sits in row 1, column 1 and matches to_uint8 exactly
    expected = viz.to_uint8(images)[4].permute(1, 2, 0).numpy().squeeze(-1 if channels == 1 else ())
    assert np.array_equal(small[2 + 9 : 2 + 9 + 7, 2 + 7 : 2 + 7 + 5], expected)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]


def test_save_grid_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, no_temp_files):
    path = viz.save_grid(torch.zeros(1, 1, 4, 4), tmp_path / "grid.png")
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise KeyboardInterrupt  # as if the process were interrupted mid-write

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        viz.save_grid(torch.ones(1, 1, 4, 4), path)
    assert path.read_bytes() == before
    assert no_temp_files(tmp_path)


def test_save_grid_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"\.png"):
        viz.save_grid(torch.zeros(1, 1, 4, 4), tmp_path / "grid.jpg")
    with pytest.raises(UserError):
        viz.save_grid(torch.zeros(1, 1, 4, 4), tmp_path / "grid.png", upscale=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot"):
        viz.save_grid(torch.zeros(1, 1, 4, 4), tmp_path / "file" / "grid.png")


def test_save_reconstructions_puts_each_image_above_its_reconstruction(tmp_path):
    # 5 images in rows of 3: the last pair of rows holds 2 and a black cell, each image still above its own
    real = torch.stack([torch.full((1, 4, 4), 10 * k + 10, dtype=torch.uint8) for k in range(5)])
    recon = torch.stack([torch.full((1, 4, 4), 0.1 * k + 0.3) for k in range(5)])
    path = viz.save_reconstructions(real, recon, tmp_path / "recon.png", columns=3)
    with Image.open(path) as im:
        small = np.asarray(im)[::2, ::2]  # saved at upscale 2
    assert small.shape == (4 * 6 + 2, 3 * 6 + 2)
    cell = lambda row, col: small[2 + 6 * row : 6 + 6 * row, 2 + 6 * col : 6 + 6 * col]
    want_recon = viz.to_uint8(recon)[:, 0, 0, 0].tolist()
    for k in range(5):
        pair, col = divmod(k, 3)
        assert (cell(2 * pair, col) == 10 * k + 10).all(), k
        assert (cell(2 * pair + 1, col) == want_recon[k]).all(), k
    assert (cell(2, 2) == 0).all() and (cell(3, 2) == 0).all()


# --------------------------------------------------------------------------- frame selection


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12, 100, 101, 1000])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 100])
def test_even_indices(n, k):
    idx = _even_indices(n, k)
    assert len(idx) == min(n, k)
    assert idx == sorted(set(idx))  # distinct and increasing
    assert idx[-1] == n - 1
    if len(idx) > 1:
        assert idx[0] == 0
        gaps = np.diff(idx)
        assert gaps.max() - gaps.min() <= 1  # evenly spread
