import math
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.metrics.nearest import (
    CAPTION_BAND,
    leave_one_out_distances,
    memorisation_score,
    nearest_neighbours,
    save_nearest_panel,
)


def line(*xs):
    """Points on a line as an N x 1 tensor."""
    return torch.tensor(xs, dtype=torch.float32).unsqueeze(1)


def cloud(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- nearest_neighbours


@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_nearest_matches_brute_force(chunk):
    queries, reference = cloud(23, 5, 0), cloud(31, 5, 1)
    dist, idx = nearest_neighbours(queries, reference, chunk=chunk)
    assert dist.dtype == torch.float32 and idx.dtype == torch.int64
    for i in range(len(queries)):
        brute = [math.dist(queries[i].tolist(), reference[j].tolist()) for j in range(len(reference))]
        best = min(range(len(brute)), key=brute.__getitem__)
        assert idx[i].item() == best
        assert dist[i].item() == pytest.approx(brute[best], rel=1e-4)


def test_nearest_hand_made_line():
    dist, idx = nearest_neighbours(line(0, 2.5, 9, -4), line(1, 3, 10))
    assert idx.tolist() == [0, 1, 2, 0]
    assert dist.tolist() == [1.0, 0.5, 1.0, 5.0]


def test_nearest_ties_pick_lowest_index():
    # 5 is at distance 1 from 4 and 6 (indices 2 and 1), 0 at distance 2 from -2 and 2 (indices 3 and 0)
    dist, idx = nearest_neighbours(line(5, 0), line(2, 6, 4, -2), chunk=1)
    assert idx.tolist() == [1, 0]
    assert dist.tolist() == [1.0, 2.0]


def test_nearest_accepts_uint8_and_gives_exact_zero_for_copies():
    train = torch.randint(0, 256, (20, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    dist, idx = nearest_neighbours(train[[7, 3]], train)
    assert idx.tolist() == [7, 3]
    assert dist.tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- leave_one_out_distances


def test_leave_one_out_hand_made():
    assert leave_one_out_distances(line(0, 1, 3, 7)).tolist() == [1, 1, 2, 4]
    assert leave_one_out_distances(line(0, 1, 3, 7), chunk=3).tolist() == [1, 1, 2, 4]


def test_leave_one_out_duplicate_is_zero():
    # excluded by index, so the duplicate (not the point itself) is the neighbour
    assert leave_one_out_distances(line(0, 5, 0, 9)).tolist() == [0, 4, 0, 4]


def test_leave_one_out_subsample_is_seeded_and_without_replacement():
    points = line(*range(1, 101)) ** 2  # x = k^2: LOO distance 2k - 1, except k = 1 (3, shared with k = 2)
    all_loo = leave_one_out_distances(points)
    assert all_loo[:4].tolist() == [3, 3, 5, 7]
    a = leave_one_out_distances(points, n=60, seed=3)
    assert len(a) == 60
    # without replacement: no value drawn more often than it occurs
    assert not Counter(a.tolist()) - Counter(all_loo.tolist())
    assert torch.equal(a, leave_one_out_distances(points, n=60, seed=3))
    assert not torch.equal(a, leave_one_out_distances(points, n=60, seed=4))
    assert torch.equal(leave_one_out_distances(points, n=500), all_loo)


# --------------------------------------------------------------------------- memorisation_score


def test_memorisation_exact_copies():
    train = cloud(200, 4, 0)
    fake = train[torch.arange(0, 200, 3)]
    score = memorisation_score(nearest_neighbours(fake, train)[0], leave_one_out_distances(train))
    assert score["nn_ratio"] == 0.0
    assert score["copy_rate"] == 1.0
    assert score["copy_threshold"] > 0
    assert score["copy_rate_expected"] == 0.05


def test_memorisation_fresh_samples_are_calibrated():
    train, fake = cloud(2000, 8, 0), cloud(2000, 8, 1)
    loo = leave_one_out_distances(train)
    score = memorisation_score(nearest_neighbours(fake, train)[0], loo)
    assert 0.9 < score["nn_ratio"] < 1.1
    assert 0.03 < score["copy_rate"] < 0.07
    assert score["copy_threshold"] == pytest.approx(torch.quantile(loo.double(), 0.05).item())


def test_memorisation_far_samples_have_large_ratio():
    train = cloud(500, 4, 0)
    fake = train[:100] + 3 * cloud(100, 4, 1)
    score = memorisation_score(nearest_neighbours(fake, train)[0], leave_one_out_distances(train))
    assert score["nn_ratio"] > 2
    assert score["copy_rate"] < 0.05


def test_memorisation_hand_made_values():
    # loo 1..5: median 3, 0.25 quantile 2; fake below 2 strictly: 0 and 1
    score = memorisation_score(torch.tensor([0.0, 1.0, 2.0, 6.0]), torch.tensor([1.0, 2, 3, 4, 5]), 0.25)
    assert score == {"nn_ratio": 0.5, "copy_rate": 0.5, "copy_threshold": 2.0, "copy_rate_expected": 0.25}


@pytest.mark.parametrize(
    "fake, loo, q, msg",
    [
        (torch.ones(3), torch.ones(3), 0.0, "quantile"),
        (torch.ones(3), torch.ones(3), 1.0, "quantile"),
        (torch.ones(0), torch.ones(3), 0.05, "fake_to_train is empty"),
        (torch.ones(3), torch.ones(0), 0.05, "train_loo is empty"),
        (torch.tensor([1.0, math.nan]), torch.ones(3), 0.05, "finite"),
        (torch.ones(3), torch.tensor([0.0, 0, 1]), 0.05, "median"),
    ],
)
def test_memorisation_bad_inputs(fake, loo, q, msg):
    with pytest.raises(ValueError, match=msg):
        memorisation_score(fake, loo, q)


def test_bad_inputs_for_neighbours():
    with pytest.raises(ValueError, match="non-empty"):
        nearest_neighbours(torch.ones(0, 2), torch.ones(3, 2))
    with pytest.raises(ValueError, match="dimensions differ"):
        nearest_neighbours(torch.ones(2, 2), torch.ones(3, 3))
    with pytest.raises(ValueError, match="chunk"):
        nearest_neighbours(torch.ones(2, 2), torch.ones(3, 2), chunk=0)
    with pytest.raises(ValueError, match="at least 2"):
        leave_one_out_distances(torch.ones(1, 2))


# --------------------------------------------------------------------------- save_nearest_panel


def images(n, c, h, w, seed):
    return torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def cell(panel, block, row, col, h, w, k):
    """The pixels of one cell; col 0 is the sample, 1 the pixel NN, 2 the feature NN."""
    block_w = k * (w + 2) + 6
    left = block * (block_w + 10) + 2 + col * (w + 2) + (4 if col else 0)
    top = CAPTION_BAND + 2 + row * (h + 2)
    return panel[top : top + h, left : left + w]


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("n, with_features", [(5, True), (5, False), (19, True)])
def test_panel_layout_and_content(tmp_path, c, n, with_features):
    h, w = 6, 5
    samples, train = images(n, c, h, w, 0), images(30, c, h, w, 1)
    pixel_idx = torch.arange(n) % 30
    feature_idx = (torch.arange(n) * 7 + 3) % 30 if with_features else None
    path = save_nearest_panel(samples, train, pixel_idx, feature_idx, tmp_path / "sub" / "nn.png")
    assert path == tmp_path / "sub" / "nn.png"
    assert [p.name for p in path.parent.iterdir()] == ["nn.png"]  # no temporary file left behind

    with Image.open(path) as im:
        assert im.mode == ("L" if c == 1 else "RGB")
        panel = np.asarray(im)
    shown = min(n, 16)
    k = 3 if with_features else 2
    blocks = math.ceil(shown / 8)
    assert panel.shape[:2] == (CAPTION_BAND + min(shown, 8) * (h + 2) + 2,
                               blocks * (k * (w + 2) + 6) + (blocks - 1) * 10)
    if c == 3:
        assert panel.shape[2] == 3

    def image(t):
        a = t.permute(1, 2, 0).numpy()
        return a[:, :, 0] if c == 1 else a

    for i in range(shown):
        block, row = divmod(i, 8)
        assert np.array_equal(cell(panel, block, row, 0, h, w, k), image(samples[i]))
        assert np.array_equal(cell(panel, block, row, 1, h, w, k), image(train[pixel_idx[i]]))
        if with_features:
            assert np.array_equal(cell(panel, block, row, 2, h, w, k), image(train[feature_idx[i]]))
    # the gap after the sample column is white, the one between the NN columns black
    assert (panel[CAPTION_BAND:, 2 + w : 8 + w] == 255).all()
    assert (panel[CAPTION_BAND + 2 : CAPTION_BAND + 2 + h, 8 + 2 * w : 10 + 2 * w] == 0).all()
    # the band above names every column of every block: ink there, and the band is otherwise white
    band = panel[:CAPTION_BAND] if c == 1 else panel[:CAPTION_BAND].min(axis=2)
    assert band.max() == 255 and (band < 128).sum() > 0


def test_panel_captions_sit_over_their_columns(tmp_path):
    """At the size `ganforge eval` draws 28x28 images (upscale 2), each caption's ink lies over its column."""
    h = w = 28
    samples, train = images(3, 1, h, w, 0), images(5, 1, h, w, 1)
    path = save_nearest_panel(samples, train, torch.tensor([0, 1, 2]), torch.tensor([2, 3, 4]),
                              tmp_path / "nn.png", upscale=2)
    band = np.asarray(Image.open(path))[:CAPTION_BAND]
    for col in range(3):
        left = 2 * (2 + col * (w + 2) + (4 if col else 0))
        centre = left + w  # the column's middle at upscale 2
        ink = np.nonzero((band < 128).any(axis=0))[0]
        near = ink[(ink > centre - w) & (ink < centre + w)]
        assert len(near) > 0 and abs((near.min() + near.max()) / 2 - centre) < 4  # centred over the column


def test_panel_rejects_bad_input(tmp_path):
    samples, train = images(3, 3, 4, 4, 0), images(5, 1, 4, 4, 1)
    with pytest.raises(ValueError, match="same C"):
        save_nearest_panel(samples, train, torch.zeros(3, dtype=torch.long), None, tmp_path / "a.png")
    with pytest.raises(ValueError, match=".png"):
        save_nearest_panel(samples, samples, torch.zeros(3, dtype=torch.long), None, tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="pixel_idx"):
        save_nearest_panel(samples, samples, torch.zeros(2, dtype=torch.long), None, tmp_path / "a.png")


def test_panel_upscale_enlarges_every_pixel(tmp_path):


    samples = torch.randint(0, 256, (3, 1, 5, 5), dtype=torch.uint8)
    train = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    idx = torch.tensor([0, 1, 2])
    small = np.asarray(Image.open(save_nearest_panel(samples, train, idx, None, tmp_path / "a.png")))
    big = np.asarray(Image.open(save_nearest_panel(samples, train, idx, None, tmp_path / "b.png", upscale=3)))
    assert big.shape == (3 * (small.shape[0] - CAPTION_BAND) + CAPTION_BAND, 3 * small.shape[1])
    assert np.array_equal(big[CAPTION_BAND::3, ::3], small[CAPTION_BAND:])
