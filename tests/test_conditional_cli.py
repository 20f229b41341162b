"""`ganforge sample --class/--attr` and `ganforge eval` on conditional runs, end to end."""

import json

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

FAST = ["--quiet", "--steps", "2", "--set", "log.tensorboard=false", "--set", "eval.every=0",
        "--set", "train.batch_size=8"]
TINY = [*FAST, "--set", "model.g_width=8", "--set", "model.d_width=8"]


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cgan"
    assert main(["train", "--out", str(run), *TINY, "--set", "model.condition=cgan"]) == 0
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
    assert main(["train", "--data", str(folder), "--out", str(run), *FAST, "--set", "model.arch=mlp",
                 "--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]",
                 "--set", "model.condition=acgan"]) == 0
    return run


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_default_sample_of_a_conditional_run_is_one_row_per_class(cgan_run, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(cgan_run), "--out", str(out)]) == 0
    image = Image.open(out)
    image.load()
    # 10 classes x 8 samples, 28-pixel tiles with 2-pixel padding, upscaled 2x
    assert image.size == ((8 * 30 + 2) * 2, (10 * 30 + 2) * 2)


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
    assert "model.condition=none" in _error(capsys, ["sample", str(plain), "--class", "1", "--out", out])


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
    assert Image.open(grid).size == ((8 * 10 + 2) * 2, (4 * 10 + 2) * 2)
    assert "unknown attribute 'hat'" in _error(capsys, ["sample", str(attr_run), "--attr", "hat=1", "--out", str(out)])
    assert "name=0 or name=1" in _error(capsys, ["sample", str(attr_run), "--attr", "glasses", "--out", str(out)])
    assert "--attr name=1" in _error(capsys, ["sample", str(attr_run), "--class", "1", "--out", str(out)])


def test_eval_of_a_conditional_run_reports_class_accuracy_and_intra_fid(cgan_run):
    assert main(["eval", str(cgan_run), "--n", "200"]) == 0
    result = json.loads((cgan_run / "eval.json").read_text())
    values = result["values"]
    assert {"fd_classifier", "class_accuracy", "class_coverage", "intra_fd_classifier"} <= set(values)
    assert 0 <= values["class_accuracy"] <= 1 and values["intra_fd_classifier"] > 0
    assert "conditional" in result["protocol"]


def test_eval_cas_trains_on_the_samples_and_tests_on_real_images(cgan_run, capsys, monkeypatch):
    # CAS trains as long as the real-data classifier did; as if that had seen 1,280 images: 30 steps
    monkeypatch.setattr("ganforge.metrics.evaluate.REAL_TRAIN_IMAGES", 1280)
    assert main(["eval", str(cgan_run), "--n", "200", "--metrics", "cas"]) == 0
    result = json.loads((cgan_run / "eval.json").read_text())
    assert 0 <= result["values"]["cas"] <= 1 and "Ravuri" in result["evaluations"][-1]["protocol"]["cas"]
    assert "cas" in capsys.readouterr().out


def test_eval_aug_needs_a_training_split_apart_from_the_reference(cgan_run, capsys):
    err = _error(capsys, ["eval", str(cgan_run), "--n", "200", "--metrics", "aug"])
    assert "no split apart from the reference images" in err and "drop aug" in err
