import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

FAST = ["--quiet", "--set", "log.tensorboard=false"]
TINY_DCGAN = [*FAST, "--steps", "2", "--set", "model.g_width=8", "--set", "model.d_width=8",
              "--set", "train.batch_size=8"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), *TINY_DCGAN]) == 0
    return run


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "ring"
    assert main(["train", "--config", "toy-ring", "--steps", "5", "--out", str(run), *FAST,
                 "--set", "data.n_toy=1000"]) == 0
    return run


def test_train_prints_a_summary(tmp_path, capsys):
    assert main(["train", "--config", "toy-1d", "--steps", "2", "--out", str(tmp_path / "r"), *FAST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("done: step 2 in")  # --quiet: no header, only the summary
    assert "D(x)" in out and "D(G(z))" in out
    assert f"run folder: {tmp_path / 'r'}" in out


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
    assert main(["train", "--config", "toy-1d", "--steps", "3", "--out", str(run), *FAST,
                 "--set", "data.n_toy=500"]) == 0
    assert main(["sample", str(run), "--n", "200", "--out", str(tmp_path / "d.png")]) == 0
    assert Image.open(tmp_path / "d.png").size[0] > 200
    snapshots = json.loads((run / "samples" / "snapshots_1d.json").read_text())
    assert [s["step"] for s in snapshots] == [0, 3]
    assert all(0 <= d <= 1 for d in snapshots[-1]["d"])


def test_resume_extends_a_run(image_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(image_run, run)
    assert main(["train", "--resume", str(run), "--steps", "4", "--quiet"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4
    assert max(p.name for p in (run / "checkpoints").iterdir()) == "step_000004"


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_unknown_key_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    err = _error(capsys, ["train", "--out", str(out), "--set", "train.bach_size=3", *FAST])
    assert "unknown config key 'train.bach_size'; did you mean 'train.batch_size'?" in err
    assert not out.exists()


def test_missing_dataset_says_where_to_put_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "never"
    err = _error(capsys, ["train", "--data", "mnist", "--out", str(out), *FAST])
    assert "mnist" in err and "data.root" in err
    assert not out.exists()


def test_bad_paths_and_runs(tmp_path, capsys):
    err = _error(capsys, ["train", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r"), *FAST])
    assert str(tmp_path / "absent") in err
    err = _error(capsys, ["train", "--resume", str(tmp_path)])
    assert "not a ganforge run" in err
    err = _error(capsys, ["sample", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert "not a ganforge run" in err
    err = _error(capsys, ["train", "--config", "nope", "--out", str(tmp_path / "r")])
    assert "unknown preset 'nope'" in err
    assert not (tmp_path / "r").exists()


def test_existing_run_folder_is_not_overwritten(image_run, capsys):
    before = sorted(p.name for p in image_run.rglob("*"))
    err = _error(capsys, ["train", "--out", str(image_run), *TINY_DCGAN])
    assert "--resume" in err
    assert sorted(p.name for p in image_run.rglob("*")) == before


def test_sample_rejects_unknown_extension(image_run, tmp_path, capsys):
    err = _error(capsys, ["sample", str(image_run), "--out", str(tmp_path / "x.jpg")])
    assert ".png" in err and ".npz" in err
    assert not (tmp_path / "x.jpg").exists()


def test_presets_lists_every_preset_with_a_line(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "gan-mnist", "toy-ring", "toy-grid", "toy-1d", "dense-fashion"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    assert main(["presets", "--keys"]) == 0
    assert "train.d_steps" in capsys.readouterr().out


def test_console_script_and_module_entry_points():
    for argv in (["ganforge", "presets"], [sys.executable, "-m", "ganforge", "presets"]):
        result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "default" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "ganforge", "train", "--set", "train.steps=x"],
                         check=False, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["ganforge train: error: config key 'train.steps' must be int, got 'x'"]
