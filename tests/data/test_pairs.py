"""Image-to-image folders: A/ + B/ paired by file name, side-by-side A|B images, trainA/ + trainB/ unpaired;
what each reads, and the one-line errors for what does not pair."""

import json

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.data.registry import load_dataset
from ganforge.errors import UserError


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def pattern(i, size=8):
    return ((np.arange(size * size).reshape(size, size) * 3 + 17 * i) % 256).astype(np.uint8)


def test_paired_folders_match_by_name_and_split(tmp_path):
    for split, names in (("train", ["b", "a", "c"]), ("test", ["x"])):
        for i, name in enumerate(names):
            save(tmp_path / split / "A" / f"{name}.png", pattern(i))
            save(tmp_path / split / "B" / f"{name}.jpg" if name == "a" else tmp_path / split / "B" / f"{name}.png",
                 255 - pattern(i))
    train = load_dataset(str(tmp_path), split="train")
    assert train.paired and train.inputs.shape == train.x.shape == (3, 1, 8, 8)
    # sorted by name: a, b, c; each B is its own A inverted (the JPEG within its rounding)
    assert (train.x.int() + train.inputs.int() - 255).abs().max() <= 3
    test = load_dataset(str(tmp_path), split="test")
    assert len(test.x) == 1 and test.paired


def test_paired_folders_refuse_a_missing_counterpart_and_a_missing_test_split(tmp_path):
    save(tmp_path / "A" / "one.png", pattern(0))
    save(tmp_path / "A" / "two.png", pattern(1))
    save(tmp_path / "B" / "one.png", pattern(0))
    with pytest.raises(UserError, match=r"A/two: has no counterpart in .*B; paired folders need the same file names"):
        load_dataset(str(tmp_path))
    save(tmp_path / "B" / "two.png", pattern(1))
    assert len(load_dataset(str(tmp_path)).x) == 2
    with pytest.raises(UserError, match="no test/ folder"):
        load_dataset(str(tmp_path), split="test")


def test_a_bad_file_takes_its_pair_with_it_when_skipping(tmp_path):
    for i in range(3):
        save(tmp_path / "A" / f"{i}.png", pattern(i))
        save(tmp_path / "B" / f"{i}.png", pattern(i + 5))
    (tmp_path / "A" / "1.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"1.png: .*data.on_bad_file=skip"):
        load_dataset(str(tmp_path))
    data = load_dataset(str(tmp_path), on_bad_file="skip")
    assert len(data.x) == len(data.inputs) == 2 and data.skipped == 2
    assert np.array_equal(data.x[1, 0].numpy(), pattern(7))  # pair 2 kept, in step
    assert any("B/1: its counterpart was skipped" in line for line in data.skipped_files)


def test_side_by_side_images_split_into_left_a_and_right_b(tmp_path):
    left, right = pattern(0, 16), pattern(9, 16)
    save(tmp_path / "train" / "0.png", np.concatenate([left, right], 1))
    save(tmp_path / "train" / "1.png", np.concatenate([right, left], 1))
    data = load_dataset(str(tmp_path), layout="side_by_side")
    assert data.paired and data.inputs.shape == data.x.shape == (2, 1, 16, 16)
    assert np.array_equal(data.inputs[0, 0].numpy(), left) and np.array_equal(data.x[0, 0].numpy(), right)
    assert load_dataset(str(tmp_path), layout="side_by_side", resolution=8).x.shape == (2, 1, 8, 8)  # each half
    save(tmp_path / "train" / "2.png", np.zeros((16, 33), np.uint8))
    with pytest.raises(UserError, match="2.png: side-by-side images need an even width"):
        load_dataset(str(tmp_path), layout="side_by_side")
    with pytest.raises(UserError, match="data.layout must be one of auto, side_by_side"):
        load_dataset(str(tmp_path), layout="aligned")


def test_unpaired_folders_need_no_match_and_test_pairs_are_measured(tmp_path):
    for i in range(5):
        save(tmp_path / "trainA" / f"a{i}.png", pattern(i))
    for i in range(3):
        save(tmp_path / "trainB" / f"b{i}.png", np.stack([pattern(i)] * 3, -1))
        save(tmp_path / "testA" / f"{i}.png", pattern(i))
        save(tmp_path / "testB" / f"{i}.png", np.stack([pattern(i)] * 3, -1))
    train = load_dataset(str(tmp_path))
    assert not train.paired and train.inputs.shape == (5, 1, 8, 8) and train.x.shape == (3, 3, 8, 8)
    assert load_dataset(str(tmp_path), split="test").paired  # the same names: true counterparts
    (tmp_path / "testB" / "2.png").rename(tmp_path / "testB" / "other.png")
    assert not load_dataset(str(tmp_path), split="test").paired


def test_pix2pix_trains_on_a_paired_folder_and_is_measured_on_its_test_pairs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 4)):
        for i in range(n):
            a = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            save(tmp_path / "data" / split / "A" / f"{i}.png", a)
            save(tmp_path / "data" / split / "B" / f"{i}.png", 255 - a)
    run = tmp_path / "run"
    assert main(["train", "--config", "pix2pix-fashion-edges", "--data", str(tmp_path / "data"), "--steps", "3",
                 "--out", str(run), "--quiet", "--set", "family.g_width=8", "--set", "family.d_width=8",
                 "--set", "train.batch_size=4", "--set", "log.tensorboard=false"]) == 0
    assert json.loads((run / "run.json").read_text())["data"]["input_shape"] == [1, 16, 16]
    assert main(["eval", str(run)]) == 0
    assert "4 translated folder:" in capsys.readouterr().out
    assert {"l1", "psnr", "ssim"} <= json.loads((run / "eval.json").read_text())["values"].keys()


def test_cyclegan_trains_on_unpaired_folders_and_eval_asks_for_test_pairs(tmp_path, capsys):
    for i in range(6):
        save(tmp_path / "data" / "trainA" / f"a{i}.png", pattern(i))
        save(tmp_path / "data" / "trainB" / f"b{i}.png", 255 - pattern(i + 3))
        save(tmp_path / "data" / "testA" / f"{i}.png", pattern(i))
        save(tmp_path / "data" / "testB" / f"other{i}.png", 255 - pattern(i))
    run = tmp_path / "run"
    assert main(["train", "--config", "cyclegan-mnist-colour", "--data", str(tmp_path / "data"), "--steps", "2",
                 "--out", str(run), "--quiet", "--set", "family.g_width=4", "--set", "family.d_width=4",
                 "--set", "family.blocks=1", "--set", "train.batch_size=2", "--set", "log.tensorboard=false"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2  # testB's names do not match testA's: nothing to measure against
    assert "testA/ and testB/, with matching file names" in capsys.readouterr().err
    assert not (run / "eval.json").exists()


def test_two_folders_are_two_unpaired_domains_without_test_pairs(tmp_path):
    for i in range(4):
        save(tmp_path / "gray" / f"{i}.png", pattern(i))
    for i in range(2):
        save(tmp_path / "colour" / "sub" / f"c{i}.png", np.stack([pattern(i)] * 3, -1))
    data = load_dataset(str(tmp_path / "gray"), domain_b=str(tmp_path / "colour"))
    assert not data.paired and data.inputs.shape == (4, 1, 8, 8) and data.x.shape == (2, 3, 8, 8)
    with pytest.raises(UserError, match="hold no test pairs to measure against; lay the data out as trainA/"):
        load_dataset(str(tmp_path / "gray"), domain_b=str(tmp_path / "colour"), split="test")
    with pytest.raises(UserError, match="nowhere: no such folder"):
        load_dataset(str(tmp_path / "gray"), domain_b=str(tmp_path / "nowhere"))
