"""Tests for ganforge.viz.plots: toy samples, codes, curves and the truncation sweep, drawn without pyplot."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from ganforge import viz
from ganforge.errors import UserError
from ganforge.viz import plots


def assert_nontrivial_png(path, min_size=(200, 200)):
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.width >= min_size[0] and im.height >= min_size[1]
        pixels = np.asarray(im.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # something was drawn, not a blank canvas



# --------------------------------------------------------------------------- plots


def test_plots_do_not_touch_pyplot_or_the_backend(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    viz.plot_samples_2d(np.random.default_rng(0).normal(size=(50, 2)), tmp_path / "p.png")
    assert matplotlib.get_backend() == backend
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_plot_samples_2d(tmp_path, no_temp_files):
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


def test_plot_samples_1d_picks_first_and_last_of_many(tmp_path, no_temp_files):
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


def test_plot_curves(tmp_path, no_temp_files):
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
    """Record, for each figure viz saves, its texts and lines (their axes, data, and each point's pixel in the
    saved PNG)."""
    seen: list[dict] = []
    save = plots._save_figure

    def spy(fig, path):
        fig.canvas.draw()
        height = fig.bbox.height
        lines = []
        for k, ax in enumerate(fig.axes):
            for line in ax.lines:
                xy = np.column_stack(line.get_data()).astype(float)
                px = ax.transData.transform(xy) if len(xy) else xy
                # PNG rows count from the top, display y from the bottom
                lines.append({"label": line.get_label(), "marker": line.get_marker(), "axes": k,
                              "x_inverted": ax.xaxis_inverted(), "data": xy.tolist(),
                              "pixels": [(round(height - y), round(x)) for x, y in px]})
        texts = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text")) if t.get_text()]
        seen.append({"lines": lines, "texts": texts})
        return save(fig, path)

    monkeypatch.setattr(plots, "_save_figure", spy)
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


def test_plot_codes_colours_classes_and_counts_codes_outside_the_view(tmp_path, monkeypatch):
    seen = spy_figures(monkeypatch)
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 2))
    codes[:2] = [[9.0, 0.0], [0.0, -8.0]]  # beyond the fixed [-7, 7] view
    labels = np.arange(300) % 3
    path = viz.plot_codes(codes, labels, tmp_path / "codes.png", title="step 10", centres=np.zeros((1, 2)),
                          class_names=["shirt", "bag", "boot"])
    assert_nontrivial_png(path, min_size=(400, 400))
    texts = seen[0]["texts"]
    assert {"shirt", "bag", "boot", "step 10", "2 outside the view"} <= set(texts)
    viz.plot_codes(codes[2:], None, tmp_path / "plain.png")
    assert not [t for t in seen[1]["texts"] if "outside" in t]
    with pytest.raises(UserError):
        viz.plot_codes(codes, labels, tmp_path / "codes.gif")


def test_plot_truncation_draws_each_measure_against_psi(tmp_path, monkeypatch):
    seen = spy_figures(monkeypatch)
    rows = [{"psi": None, "precision": 0.6, "recall": 0.5, "fd": 9.0},
            {"psi": 1.0, "precision": 0.7, "recall": 0.4, "fd": 10.0},
            {"psi": 0.5, "precision": 0.9, "recall": 0.2, "fd": 14.0}]
    assert_nontrivial_png(viz.plot_truncation(rows, tmp_path / "t.png", "classifier"), min_size=(800, 300))
    lines = {(line["label"], line["axes"]): line for line in seen[0]["lines"] if not line["label"].startswith("_")}
    assert set(lines) == {("precision", 0), ("recall", 0)}  # no class accuracy in these rows
    assert lines["precision", 0]["data"] == [[1.0, 0.7], [0.5, 0.9]]
    assert lines["recall", 0]["data"] == [[1.0, 0.4], [0.5, 0.2]]
    unlabelled = [line for line in seen[0]["lines"] if line["label"].startswith("_")]
    fd = [line["data"] for line in unlabelled if line["axes"] == 1]
    assert [[1.0, 10.0], [0.5, 14.0]] in fd and any(y == 9.0 for _, y in fd[1])  # the curve and psi None dotted
    assert all(line["x_inverted"] for line in seen[0]["lines"])  # stronger truncation to the right
    assert "FD (classifier)" in seen[0]["texts"]
    with_accuracy = [dict(r, class_accuracy=a) for r, a in zip(rows, (0.8, 0.85, 0.95))]
    viz.plot_truncation(with_accuracy, tmp_path / "a.png", "classifier")
    assert [line["data"] for line in seen[1]["lines"] if line["label"] == "class_accuracy"] == [[[1.0, 0.85],
                                                                                                  [0.5, 0.95]]]
