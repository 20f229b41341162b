"""Tests for ganforge.viz: quantisation, grids, animations, strips and plots."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import viz
from ganforge.errors import UserError


def no_temp_files(directory) -> bool:
    return not [p for p in directory.rglob("*") if p.name.startswith(".tmp-")]


def grey_frames(tmp_path, count, size=6):
    """`count` single-image grey PNGs with distinct, increasing brightness; returns their paths."""
    paths = []
    for i in range(count):
        img = torch.full((1, 1, size, size), -1 + 2 * i / max(count - 1, 1))
        paths.append(viz.save_grid(img, tmp_path / "frames" / f"step_{i:04d}.png", padding=0))
    return paths


def assert_nontrivial_png(path, min_size=(200, 200)):
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.width >= min_size[0] and im.height >= min_size[1]
        pixels = np.asarray(im.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # something was drawn, not a blank canvas


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


def test_save_grid_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
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


# --------------------------------------------------------------------------- frame selection


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12, 100, 101, 1000])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 100])
def test_even_indices(n, k):
    idx = viz._even_indices(n, k)
    assert len(idx) == min(n, k)
    assert idx == sorted(set(idx))  # distinct and increasing
    assert idx[-1] == n - 1
    if len(idx) > 1:
        assert idx[0] == 0
        gaps = np.diff(idx)
        assert gaps.max() - gaps.min() <= 1  # evenly spread


# --------------------------------------------------------------------------- save_animation


@pytest.mark.parametrize("count, max_frames, expected", [(12, 100, 12), (12, 5, 5), (1, 100, 1)])
def test_save_animation_frames(tmp_path, count, max_frames, expected):
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


def test_save_strip(tmp_path):
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


# --------------------------------------------------------------------------- plots


def test_plots_do_not_touch_pyplot_or_the_backend(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    viz.plot_samples_2d(np.random.default_rng(0).normal(size=(50, 2)), tmp_path / "p.png")
    assert matplotlib.get_backend() == backend
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_plot_samples_2d(tmp_path):
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    modes = 2 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    real = modes[rng.integers(0, 8, 500)] + 0.05 * rng.normal(size=(500, 2))
    samples = rng.normal(size=(300, 2))
    samples[0] = [50.0, 50.0]  # far outside the view
    samples[1] = [np.nan, 0.0]
    path = viz.plot_samples_2d(
        samples, tmp_path / "d" / "ring.png", modes=modes, sigma=0.05, real=real, title="ring"
    )
    assert_nontrivial_png(path)
    assert no_temp_files(tmp_path)
    # samples only
    assert_nontrivial_png(viz.plot_samples_2d(samples[2:], tmp_path / "plain.png"))
    with pytest.raises(ValueError):
        viz.plot_samples_2d(np.zeros((5, 3)), tmp_path / "bad.png")
    with pytest.raises(UserError):
        viz.plot_samples_2d(samples, tmp_path / "bad.xyz")


class RecordingSnapshot(dict):
    """A snapshot dict that logs its step when its D(x) curve is read, i.e. when its panel is drawn."""

    def __init__(self, log: list[int], **fields):
        super().__init__(**fields)
        self.log = log

    def __getitem__(self, key):
        if key == "d":
            self.log.append(dict.__getitem__(self, "step"))
        return dict.__getitem__(self, key)


def snapshots_1d(count, log: list[int] | None = None):
    rng = np.random.default_rng(0)
    x = np.linspace(-4, 6, 120)
    snaps = [
        {"step": 100 * i, "x": x, "d": 1 / (1 + np.exp(x - 1 - i / 3)), "fake": rng.normal(i / 3, 1, 400)}
        for i in range(count)
    ]
    return snaps if log is None else [RecordingSnapshot(log, **s) for s in snaps]


def test_plot_samples_1d_picks_first_and_last_of_many(tmp_path):
    real = np.random.default_rng(1).normal(2, 0.5, 1000)
    drawn: list[int] = []
    path = viz.plot_samples_1d(tmp_path / "gan1d.png", real, snapshots_1d(7, drawn), title="1-D")
    assert drawn == [0, 200, 300, 500, 600]  # 5 panels, evenly spaced, ends included
    assert_nontrivial_png(path)
    five = Image.open(path).size
    two = Image.open(viz.plot_samples_1d(tmp_path / "two.png", real, snapshots_1d(2))).size
    assert five[0] > 2 * two[0] and five[1] == two[1]  # one row of panels
    assert no_temp_files(tmp_path)


def test_plot_samples_1d_survives_collapse_and_nan(tmp_path):
    snap = snapshots_1d(1)[0]
    snap["fake"] = np.full(200, 1.5)  # mode collapse: zero variance
    nan_snap = dict(snap, step=100, fake=np.full(10, np.nan))
    path = viz.plot_samples_1d(
        tmp_path / "c.png", np.random.default_rng(2).normal(2, 0.5, 300), [snap, nan_snap]
    )
    assert_nontrivial_png(path)
    with pytest.raises(UserError):
        viz.plot_samples_1d(tmp_path / "none.png", np.zeros(3), [])


def test_plot_curves(tmp_path):
    rng = np.random.default_rng(0)
    records = [
        {
            "step": s,
            "loss_d": 1.3 + 0.3 * rng.normal(),
            "loss_g": 0.7 + 0.1 * rng.normal(),
            "d_real": 0.6,
            "d_fake": 0.4,
            **({"fid": 100 - s / 20} if s % 100 == 0 else {}),
        }
        for s in range(300)
    ]
    path = viz.plot_curves(
        records,
        tmp_path / "curves.png",
        ["loss_d", "loss_g", "d_real", "d_fake", "fid", "not_logged"],
        title="run",
    )
    assert_nontrivial_png(path)
    with Image.open(path) as im:
        wide = im.width
    # fewer groups, fewer panels
    with Image.open(viz.plot_curves(records, tmp_path / "loss.png", ["loss_d", "loss_g"])) as im:
        assert im.width < wide
    # nothing to plot is not an error: the figure says so
    with Image.open(viz.plot_curves([], tmp_path / "empty.png", ["loss_d"])) as im:
        assert im.format == "PNG"
    assert no_temp_files(tmp_path)


def spy_figures(monkeypatch) -> list[dict]:
    """Record, for each figure viz saves, its texts and lines and each point's pixel in the saved PNG."""
    seen: list[dict] = []
    save = viz._save_figure

    def spy(fig, path):
        fig.canvas.draw()
        height = fig.bbox.height
        lines = []
        for ax in fig.axes:
            for line in ax.lines:
                xy = np.column_stack(line.get_data()).astype(float)
                px = ax.transData.transform(xy) if len(xy) else xy
                # PNG rows count from the top, display y from the bottom
                lines.append({"label": line.get_label(), "marker": line.get_marker(),
                              "pixels": [(round(height - y), round(x)) for x, y in px]})
        texts = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text")) if t.get_text()]
        seen.append({"lines": lines, "texts": texts})
        return save(fig, path)

    monkeypatch.setattr(viz, "_save_figure", spy)
    return seen


def test_plot_curves_draws_a_series_of_one_point(tmp_path, monkeypatch):
    seen = spy_figures(monkeypatch)
    records = [{"step": s, "loss_d": 1.0 + 0.01 * s} for s in range(0, 500, 50)] + [{"step": 450, "eval_fid": 42.0}]
    path = viz.plot_curves(records, tmp_path / "curves.png", ["loss_d", "eval_fid"])
    (fid,) = [line for line in seen[0]["lines"] if line["label"] == "eval_fid"]
    assert fid["marker"] not in (None, "None", "", " ")
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    (row, col), = fid["pixels"]
    around = pixels[row - 2 : row + 3, col - 2 : col + 3]
    blue = np.array([0x1F, 0x77, 0xB4])  # C0, the first series' colour
    assert (np.abs(around - blue).sum(axis=-1) < 60).sum() >= 9  # a visible dot where the one value is


def test_plot_samples_1d_single_panel_says_its_title_once(tmp_path, monkeypatch):
    seen = spy_figures(monkeypatch)
    real = np.random.default_rng(1).normal(2, 0.5, 500)
    snap = snapshots_1d(4)[3]  # step 300
    viz.plot_samples_1d(tmp_path / "frame.png", real, [snap], title="toy-1d, step 300")
    viz.plot_samples_1d(tmp_path / "named.png", real, [snap], title="toy-1d")
    viz.plot_samples_1d(tmp_path / "bare.png", real, [snap])
    viz.plot_samples_1d(tmp_path / "many.png", real, snapshots_1d(4), title="toy-1d")
    titles = [[t for t in fig["texts"] if "step" in t or "toy" in t] for fig in seen]
    assert titles[:3] == [["toy-1d, step 300"], ["toy-1d, step 300"], ["step 300"]]
    assert sorted(titles[3]) == sorted(["toy-1d", "step 0", "step 100", "step 200", "step 300"])
