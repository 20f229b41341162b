"""Tests for ganforge.viz.animation: GIFs and strips of frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import viz
from ganforge.errors import UserError


def grey_frames(tmp_path, count, size=6):
    """`count` single-image grey PNGs with distinct, increasing brightness; returns their paths."""
    paths = []
    for i in range(count):
        img = torch.full((1, 1, size, size), -1 + 2 * i / max(count - 1, 1))
        paths.append(viz.save_grid(img, tmp_path / "frames" / f"step_{i:04d}.png", padding=0))
    return paths


# --------------------------------------------------------------------------- save_animation


@pytest.mark.parametrize("count, max_frames, expected", [(12, 100, 12), (12, 5, 5), (1, 100, 1)])
def test_save_animation_frames(tmp_path, count, max_frames, expected, no_temp_files):
    paths = grey_frames(tmp_path, count)
    gif = viz.save_animation(paths, tmp_path / "out" / "train.gif", duration_ms=100, max_frames=max_frames)
    with Image.open(gif) as im:
        assert im.format == "GIF"
        assert im.n_frames == expected
        assert im.size == (6, 6)
        with Image.open(paths[0]) as first:
            assert np.array_equal(np.asarray(im.convert("L")), np.asarray(first))
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        last = np.asarray(im.convert("L"))
    with Image.open(paths[-1]) as final:
        assert np.array_equal(last, np.asarray(final))  # the last input is always the last frame
    assert durations[:-1] == [100] * (expected - 1)
    assert durations[-1] >= 500  # the final result is held
    assert no_temp_files(tmp_path)


def test_save_animation_colour_and_mixed_sizes(tmp_path):
    paths = []
    for i in range(4):
        img = torch.full((1, 3, 8, 8), -1.0)
        img[0, i % 3] = 1.0  # red, green, blue, red
        paths.append(viz.save_grid(img, tmp_path / f"c{i}.png", padding=0, upscale=1 + (i == 2)))
    gif = viz.save_animation(paths, tmp_path / "c.gif")
    with Image.open(gif) as im:
        assert im.n_frames == 4 and im.size == (8, 8)
        im.seek(1)
        assert im.convert("RGB").getpixel((3, 3)) == (0, 255, 0)


def test_save_animation_user_errors(tmp_path):
    with pytest.raises(UserError):
        viz.save_animation([], tmp_path / "a.gif")
    with pytest.raises(UserError, match=r"\.gif"):
        viz.save_animation(grey_frames(tmp_path, 2), tmp_path / "a.mp4")
    with pytest.raises(UserError, match="cannot read"):
        viz.save_animation([tmp_path / "missing.png"], tmp_path / "a.gif")


# --------------------------------------------------------------------------- save_strip


def test_save_strip(tmp_path, no_temp_files):
    paths = grey_frames(tmp_path, 12, size=20)
    labels = [f"step {100 * i}" for i in range(12)]
    sizes = []
    for n in (2, 4, 8):
        strip = viz.save_strip(paths, tmp_path / f"strip{n}.png", n=n, labels=labels)
        with Image.open(strip) as im:
            assert im.format == "PNG"
            assert im.height > 20  # frame plus a label band
            sizes.append(im.size)
            pixels = np.asarray(im.convert("L"))
        # first frame (black) and last frame (white) are both in the strip, as whole 20 x 20 blocks
        col_min = pixels.min(axis=0)
        assert (col_min == 0).sum() >= 20 and (pixels == 255).any()
    # one row up to 5 frames; 8 frames wrap into 2 rows of 4: as wide as 4, twice as tall
    assert sizes[0][0] < sizes[1][0] == sizes[2][0]
    assert sizes[0][1] == sizes[1][1] and sizes[2][1] > 2 * 20
    assert no_temp_files(tmp_path)


def colour_frames(tmp_path, count, size=(120, 100)):
    """`count` RGB PNGs, each one solid distinct colour (frame k: red k*20, green 255 - k*20, blue 128)."""
    paths = []
    for k in range(count):
        paths.append(tmp_path / "frames" / f"step_{k:04d}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        Image.new("RGB", size, (k * 20, 255 - k * 20, 128)).save(paths[-1])
    return paths


@pytest.mark.parametrize("count, grid", [(1, (1, 1)), (5, (5, 1)), (6, (3, 2)), (8, (4, 2)), (10, (5, 2))])
def test_save_strip_wraps_frames_into_a_bounded_grid(tmp_path, count, grid):
    w, h, gap = 120, 100, 6
    paths = colour_frames(tmp_path, count, (w, h))
    strip = viz.save_strip(paths, tmp_path / "strip.png", n=count, label=False)
    with Image.open(strip) as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    columns, rows = grid
    # no label band: the picture is exactly the grid of frames with a 6-pixel white gap around each
    assert pixels.shape[:2] == (rows * (h + gap) + gap, columns * (w + gap) + gap)
    for k in range(count):  # frames in reading order, each a whole block
        top, left = gap + (k // columns) * (h + gap), gap + (k % columns) * (w + gap)
        block = pixels[top : top + h, left : left + w]
        assert (block == (k * 20, 255 - k * 20, 128)).all(), k
    taken = np.zeros(pixels.shape[:2], bool)
    for k in range(count):
        top, left = gap + (k // columns) * (h + gap), gap + (k % columns) * (w + gap)
        taken[top : top + h, left : left + w] = True
    assert (pixels[~taken] == 255).all()  # and nothing else: no text added over frames that have titles


def test_save_strip_of_toy_plots_is_a_readable_grid(tmp_path):
    # eight 500 x 500 frames, as a toy run's plots are: once a single row 4,054 pixels wide
    paths = colour_frames(tmp_path, 12, (500, 500))
    labels = [f"step {100 * i}" for i in range(12)]
    with Image.open(viz.save_strip(paths, tmp_path / "p.png", n=8, labels=labels)) as im:
        width, height = im.size
    assert width <= 5 * 506 + 6 and 1.5 <= width / height <= 3  # 2 rows of 4 frames, each full size
    assert width >= 4 * 500 and height >= 2 * 500


def test_save_strip_labels_must_match_frames(tmp_path):
    paths = grey_frames(tmp_path, 3)
    with pytest.raises(ValueError):
        viz.save_strip(paths, tmp_path / "s.png", labels=["a"])
    assert viz.save_strip(paths, tmp_path / "s.png").exists()  # no labels: file names are used
