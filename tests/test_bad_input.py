"""Every bad input of the reliability issue through the command line: a one-line message that names the file
or key and says what to do, exit code 2, and nothing half-written in the run folder."""

import errno
import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

FAST = ["--steps", "2", "--quiet", "--set", "log.tensorboard=false", "--set", "family.g_width=8",
        "--set", "family.d_width=8", "--set", "train.batch_size=4"]


def error_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ganforge "), err  # one line, no traceback
    return err


def png(path, mode="L", size=(28, 28), value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (value,) * len(mode) if mode in ("RGB", "RGBA") else value).save(path)


def idx_images(path, n, magic=0x00000803, rows=28):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">IIII", magic, n, rows, rows) + bytes(n * rows * rows))


def idx_labels(path, n):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, n) + bytes(n))


def folder_with(tmp_path, name, content):
    for i in range(4):
        png(tmp_path / "data" / f"good{i}.png")
    (tmp_path / "data" / name).write_bytes(content)
    return tmp_path / "data"


def truncated_png():
    from io import BytesIO

    noise = np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)
    buf = BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()[:300]


@pytest.mark.parametrize(("name", "content"), [("cut.png", truncated_png()), ("zero.png", b""),
                                               ("notes.png", b"not an image\n")])
def test_bad_image_files_fail_naming_the_file_or_are_skipped_and_counted(tmp_path, capsys, name, content):
    data, run = folder_with(tmp_path, name, content), tmp_path / "run"
    err = error_line(capsys, ["train", "--data", str(data), "--out", str(run), *FAST])
    assert str(data / name) in err and "data.on_bad_file=skip" in err
    assert not run.exists()
    assert main(["train", "--data", str(data), "--out", str(run), *FAST, "--set", "data.on_bad_file=skip"]) == 0
    assert (run / "checkpoints").is_dir()


def test_mixed_modes_tiny_and_large_images_are_converted(tmp_path):
    for i, mode in enumerate(["L", "RGB", "RGBA", "P", "I;16", "1"]):
        png(tmp_path / "mixed" / f"{i}.png", mode=mode, size=(3, 3) if i == 0 else (600, 400))
    assert main(["train", "--data", str(tmp_path / "mixed"), "--out", str(tmp_path / "run"), *FAST]) == 0


def test_an_image_over_the_decompression_bomb_limit_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    png(tmp_path / "imgs" / "small.png", size=(28, 28))
    png(tmp_path / "imgs" / "bomb.png", size=(100, 100))
    err = error_line(capsys, ["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *FAST])
    assert str(tmp_path / "imgs" / "bomb.png") in err and "too large" in err
    assert not (tmp_path / "run").exists()


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = error_line(capsys, ["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), *FAST])
    assert str(tmp_path / "empty") in err and "no IDX files or images found" in err
    assert not (tmp_path / "run").exists()


def test_idx_with_a_wrong_magic_number_or_mismatched_counts(tmp_path, capsys):
    bad = tmp_path / "magic"
    bad.mkdir()
    idx_images(bad / "train-images-idx3-ubyte.gz", 8, magic=0x12345678)
    idx_labels(bad / "train-labels-idx1-ubyte.gz", 8)
    err = error_line(capsys, ["train", "--data", str(bad), "--out", str(tmp_path / "run"), *FAST])
    assert "train-images-idx3-ubyte.gz" in err
    counts = tmp_path / "counts"
    counts.mkdir()
    idx_images(counts / "train-images-idx3-ubyte.gz", 8)
    idx_labels(counts / "train-labels-idx1-ubyte.gz", 7)
    err = error_line(capsys, ["train", "--data", str(counts), "--out", str(tmp_path / "run"), *FAST])
    assert "8" in err and "7" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("setting", "words"), [
    ("train.bach_size=3", "did you mean 'train.batch_size'"),
    ("train.batch_size=many", "'train.batch_size' must be int"),
    ("optim.d.lr=-1", "'optim.d.lr' must be positive"),
    ("family.objective=magic", "'family.objective' must be one of"),
])
def test_config_keys_and_types(tmp_path, capsys, setting, words):
    err = error_line(capsys, ["train", "--out", str(tmp_path / "run"), *FAST, "--set", setting])
    assert words in err
    assert not (tmp_path / "run").exists()


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "keep.txt").write_text("mine")
    err = error_line(capsys, ["train", "--resume", str(tmp_path / "photos")])
    assert "not a ganforge run" in err
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["keep.txt"]


def test_a_full_disk_while_checkpointing_leaves_the_earlier_checkpoints(tmp_path, capsys, monkeypatch):
    from ganforge import checkpoint

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FAST, "--set", "log.checkpoint_every=1"]) == 0
    real_save, calls = checkpoint._save_tensors, []

    def fill_up(tensors, path):
        calls.append(path)
        if len(calls) == 2:  # the second file of the next checkpoint
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path)

    monkeypatch.setattr(checkpoint, "_save_tensors", fill_up)
    err = error_line(capsys, ["train", "--resume", str(run), "--steps", "4", "--quiet"])
    assert "cannot write checkpoint" in err and "No space left on device" in err and "--resume" in err
    saved = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert saved == ["best", "step_000001", "step_000002"]  # nothing half-written beside them
    assert all(checkpoint.checkpoint_problem(run / "checkpoints" / s) is None for s in saved)
