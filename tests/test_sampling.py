"""`ganforge sample`: grids, .npz files and scatter plots of a run's Generator, with --class and --attr on
conditional runs, end to end."""

import json
import math

import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge import viz
from ganforge.cli import main
from ganforge.viz.labels import MARGIN, label_font

QUIET = ["--quiet", "--set", "log.tensorboard=false"]
FAST = [*QUIET, "--steps", "2", "--set", "eval.every=0", "--set", "train.batch_size=8"]
TINY = [*FAST, "--set", "family.g_width=8", "--set", "family.d_width=8"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "ring"
    assert main(["train", "--config", "toy-ring", "--steps", "5", "--out", str(run), *QUIET,
                 "--set", "data.n_toy=1000"]) == 0
    return run


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cgan"
    assert main(["train", "--out", str(run), *TINY, "--set", "family.condition=cgan"]) == 0
    return run


@pytest.fixture(scope="module")
def attr_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    rows = ["file,glasses,smiling"]
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i:02d}.png")
        rows.append(f"{i:02d}.png,{i % 2},{int(i < 4)}")
    (folder / "attributes.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path_factory.mktemp("runs") / "attr"
    assert main(["train", "--data", str(folder), "--out", str(run), *FAST, "--set", "family.arch=mlp",
                 "--set", "family.g_hidden=[16]", "--set", "family.d_hidden=[16]",
                 "--set", "family.condition=acgan"]) == 0
    return run


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def labelled_rows(path, columns: int, rows: int, cell: int) -> np.ndarray:
    """The caption band left of a grid of rows x columns cells (2-pixel padding, upscaled 2x) at the picture's
    right edge; asserts the grid fills the picture's height and each row's caption has ink beside its row."""
    with Image.open(path) as image:
        picture = np.asarray(image.convert("L"))
    grid_w, grid_h = (columns * (cell + 2) + 2) * 2, (rows * (cell + 2) + 2) * 2
    assert picture.shape[0] == grid_h and picture.shape[1] > grid_w
    band = picture[:, : picture.shape[1] - grid_w]
    for r in range(rows):
        top = (2 + r * (cell + 2)) * 2
        assert (band[top : top + cell * 2] < 128).any(), f"row {r} has no caption"
    return band


def test_default_sample_of_a_conditional_run_is_one_row_per_class(cgan_run, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(cgan_run), "--out", str(out)]) == 0
    # 10 classes x 8 samples, 28-pixel tiles with 2-pixel padding, upscaled 2x, each row's class beside it
    band = labelled_rows(out, columns=8, rows=10, cell=28)
    classes = json.loads((cgan_run / "run.json").read_text())["data"]["class_names"]
    font = label_font()  # the band is as wide as the widest class name and its margins
    assert band.shape[1] == max(math.ceil(font.getlength(name)) for name in classes) + 2 * MARGIN


def test_sample_class_by_index_or_name(cgan_run, tmp_path):
    by_index, by_name = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["sample", str(cgan_run), "--class", "7", "--n", "5", "--out", str(by_index)]) == 0
    assert main(["sample", str(cgan_run), "--class", "Sneaker", "--n", "5", "--out", str(by_name)]) == 0
    a, b = np.load(by_index), np.load(by_name)
    assert a["x"].shape == (5, 1, 28, 28)
    assert (a["c"].argmax(1) == 7).all() and (a["c"].sum(1) == 1).all()
    assert np.array_equal(a["x"], b["x"])  # class 7 is the Sneaker
    other = tmp_path / "c.npz"
    assert main(["sample", str(cgan_run), "--class", "0", "--n", "5", "--out", str(other)]) == 0
    assert not np.array_equal(np.load(other)["x"], a["x"])  # same noise, another class: other images


def test_sample_condition_errors(cgan_run, tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert "classes: 0 (T-shirt/top)" in _error(capsys, ["sample", str(cgan_run), "--class", "12", "--out", out])
    assert "use --class" in _error(capsys, ["sample", str(cgan_run), "--attr", "glasses=1", "--out", out])
    assert "not both" in _error(capsys, ["sample", str(cgan_run), "--class", "1", "--attr", "a=1", "--out", out])
    plain = tmp_path / "plain"
    assert main(["train", "--out", str(plain), *TINY]) == 0
    assert "condition=none" in _error(capsys, ["sample", str(plain), "--class", "1", "--out", out])


def test_sample_attributes(attr_run, tmp_path, capsys):
    info = json.loads((attr_run / "run.json").read_text())["data"]
    assert info["attr_names"] == ["glasses", "smiling"]
    assert info["attr_means"] == [0.5, 0.25]
    out = tmp_path / "s.npz"
    assert main(["sample", str(attr_run), "--attr", "glasses=1", "--n", "40", "--out", str(out)]) == 0
    c = np.load(out)["c"]
    assert c.shape == (40, 2) and (c[:, 0] == 1).all()
    assert 0 < c[:, 1].sum() < 40  # smiling not asked for: drawn with its frequency in the data
    assert main(["sample", str(attr_run), "--attr", "glasses=0, smiling=1", "--n", "4", "--out", str(out),
                 "--force"]) == 0
    assert np.load(out)["c"].tolist() == [[0, 1]] * 4
    grid = tmp_path / "g.png"
    assert main(["sample", str(attr_run), "--out", str(grid)]) == 0  # rows: the 4 combinations
    labelled_rows(grid, columns=8, rows=4, cell=8)  # captions: none, glasses, smiling, glasses, smiling
    assert "unknown attribute 'hat'" in _error(capsys, ["sample", str(attr_run), "--attr", "hat=1", "--out", str(out)])
    assert "name=0 or name=1" in _error(capsys, ["sample", str(attr_run), "--attr", "glasses", "--out", str(out)])
    assert "--attr name=1" in _error(capsys, ["sample", str(attr_run), "--class", "1", "--out", str(out)])


def test_sample_png_grid_decodes_with_the_requested_count(image_run, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(image_run), "--n", "16", "--out", str(out)]) == 0
    image = Image.open(out)
    image.load()
    # 16 samples: 4 x 4 tiles of 28 pixels with 2-pixel padding, upscaled 2x
    assert image.size == ((4 * 28 + 5 * 2) * 2, (4 * 28 + 5 * 2) * 2)


def test_sample_npz_holds_uint8_images_and_is_reproducible(image_run, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["sample", str(image_run), "--n", "10", "--seed", "3", "--out", str(a)]) == 0
    assert main(["sample", str(image_run), "--n", "10", "--seed", "3", "--out", str(b)]) == 0
    x = np.load(a)["x"]
    assert x.shape == (10, 1, 28, 28) and x.dtype == np.uint8
    assert np.array_equal(x, np.load(b)["x"])
    assert int(np.load(a)["step"]) == 2


def test_sample_toy_run_gives_points_and_a_scatter_plot(toy_run, tmp_path):
    assert main(["sample", str(toy_run), "--n", "300", "--out", str(tmp_path / "s.npz")]) == 0
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert main(["sample", str(toy_run), "--out", str(tmp_path / "s.png")]) == 0
    Image.open(tmp_path / "s.png").load()


def test_toy_1d_sample_draws_the_three_curves(tmp_path):
    run = tmp_path / "oned"
    assert main(["train", "--config", "toy-1d", "--steps", "3", "--out", str(run), *QUIET,
                 "--set", "data.n_toy=500"]) == 0
    assert main(["sample", str(run), "--n", "200", "--out", str(tmp_path / "d.png")]) == 0
    assert Image.open(tmp_path / "d.png").size[0] > 200
    snapshots = json.loads((run / "samples" / "snapshots_1d.json").read_text())
    assert [s["step"] for s in snapshots] == [0, 3]
    assert all(0 <= d <= 1 for d in snapshots[-1]["d"])


def test_sample_rejects_unknown_extension(image_run, tmp_path, capsys):
    err = _error(capsys, ["sample", str(image_run), "--out", str(tmp_path / "x.jpg")])
    assert ".png" in err and ".npz" in err
    assert not (tmp_path / "x.jpg").exists()


def test_the_files_hold_the_generators_own_samples(image_run, cgan_run, tmp_path):
    for run in (image_run, cgan_run):
        out = tmp_path / f"{run.name}.npz"
        assert main(["sample", str(run), "--n", "12", "--seed", "5", "--out", str(out)]) == 0
        x = np.load(out)["x"]
        g = ganforge.load(run)
        assert np.array_equal(x, viz.to_uint8(g.sample(12, seed=5)).numpy()), run.name
        assert not np.array_equal(x, viz.to_uint8(g.sample(12, seed=6)).numpy())
    folder = tmp_path / "one-each"
    assert main(["sample", str(image_run), "--n", "3", "--seed", "5", "--out", f"{folder}/"]) == 0
    files = sorted(folder.iterdir())
    assert np.array_equal(np.stack([np.asarray(Image.open(f)) for f in files]),
                          viz.to_uint8(ganforge.load(image_run).sample(3, seed=5))[:, 0].numpy())
