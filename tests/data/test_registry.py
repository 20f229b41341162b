"""Dataset names: the embedded split, MNIST / Fashion-MNIST from disk with md5 checks, errors."""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.data import DATASET_NAMES, load_dataset
from ganforge.errors import UserError

EMBEDDED = Path(__file__).resolve().parents[2] / "src" / "ganforge" / "data" / "embedded"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
# md5 of the .gz files, as published by the datasets' authors.
PUBLISHED_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}


def decode(path: Path, offset: int) -> np.ndarray:
    """An independent decoder: gunzip, skip the header."""
    return np.frombuffer(gzip.decompress(path.read_bytes()), dtype=np.uint8, offset=offset)


@pytest.fixture(scope="module")
def embedded():
    return load_dataset("fashion-mnist-10k")


def test_embedded_split(embedded):
    ds = embedded
    assert ds.kind == "image" and ds.source == "embedded"
    assert ds.x.shape == (10000, 1, 28, 28) and ds.x.dtype == torch.uint8
    assert ds.y.dtype == torch.int64 and torch.bincount(ds.y).tolist() == [1000] * 10
    assert len(ds.class_names) == 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    pixels = decode(EMBEDDED / "t10k-images-idx3-ubyte.gz", 16).reshape(10000, 28, 28)
    labels = decode(EMBEDDED / "t10k-labels-idx1-ubyte.gz", 8)
    assert ds.x[1234, 0, 14, 14].item() == pixels[1234, 14, 14]
    assert ds.y[1234].item() == labels[1234]
    np.testing.assert_array_equal(ds.x[:, 0].numpy(), pixels)
    np.testing.assert_array_equal(ds.y.numpy(), labels)


def test_embedded_ignores_split_and_root(embedded):
    ds = load_dataset("fashion-mnist-10k", split="test", root="/nonexistent")
    assert torch.equal(ds.x, embedded.x)


def test_resize_and_channels(embedded):
    ds = load_dataset("fashion-mnist-10k", resolution=32, channels=3)
    assert ds.x.shape == (10000, 3, 32, 32) and ds.x.dtype == torch.uint8
    assert torch.equal(ds.x[:, 0], ds.x[:, 2])
    # Antialiased resizing keeps the mean brightness.
    assert abs(ds.x.float().mean().item() - embedded.x.float().mean().item()) < 1.0
    small = load_dataset("fashion-mnist-10k", resolution=14).x
    assert small.shape == (10000, 1, 14, 14)
    # Downscaling by two averages 2x2 blocks (approximately, with the antialias filter).
    blocks = embedded.x[:50].float().reshape(50, 1, 14, 2, 14, 2).mean((3, 5))
    assert (small[:50].float() - blocks).abs().mean().item() < 8
    assert torch.equal(load_dataset("fashion-mnist-10k", resolution=28, channels=1).x, embedded.x)


def test_embedded_loads_fast():
    import time

    start = time.perf_counter()
    load_dataset("fashion-mnist-10k")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_data_and_md5(shared, name):
    folder = shared(name)
    for file, md5 in PUBLISHED_MD5[name].items():
        assert hashlib.md5((folder / file).read_bytes()).hexdigest() == md5
    train = load_dataset(name, root=str(folder))
    test = load_dataset(name, root=str(SHARED), split="test")  # root may also be the parent folder
    assert train.x.shape == (60000, 1, 28, 28) and train.y.shape == (60000,)
    assert test.x.shape == (10000, 1, 28, 28) and test.y.shape == (10000,)
    assert train.name == name and len(train.class_names) == 10
    assert train.y.min().item() == 0 and train.y.max().item() == 9
    pixels = decode(folder / "t10k-images-idx3-ubyte.gz", 16)
    assert test.x[77, 0, 10, 10].item() == pixels[77 * 784 + 10 * 28 + 10]


def test_repacked_and_unpacked_copies_load(shared, tmp_path):
    """Same data with another gzip header (as Debian ships it), or not compressed at all."""
    folder = shared("mnist")
    images = gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    repacked = gzip.compress(images, compresslevel=1, mtime=12345)
    assert hashlib.md5(repacked).hexdigest() != PUBLISHED_MD5["mnist"]["t10k-images-idx3-ubyte.gz"]
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(repacked)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels)
    ds = load_dataset("mnist", root=str(tmp_path), split="test")
    assert ds.x.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(ds.x.flatten().numpy(), np.frombuffer(images, np.uint8, offset=16))


def test_corrupt_copy_is_refused(shared, tmp_path):
    folder = shared("mnist")
    images = bytearray(gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes()))
    images[16 + 5000] ^= 0xFF  # one pixel
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(bytes(images))
    shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(UserError, match="corrupt or not the mnist") as info:
        load_dataset("mnist", root=str(tmp_path), split="test")
    assert str(tmp_path / "t10k-images-idx3-ubyte") in str(info.value)


def test_wrong_dataset_is_refused(shared):
    folder = shared("mnist")
    with pytest.raises(UserError, match="corrupt or not the fashion-mnist"):
        load_dataset("fashion-mnist", root=str(folder), split="test")


def test_missing_named_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "store"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(UserError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert str(tmp_path / "store" / "mnist") in message
    assert str(tmp_path / "home" / ".cache" / "ganforge" / "data" / "mnist") in message
    for file in PUBLISHED_MD5["mnist"]:
        assert file in message
    assert "--set data.root=PATH" in message and "\n" not in message
    with pytest.raises(UserError) as info:
        load_dataset("fashion-mnist", root=str(tmp_path / "mine"), split="test")
    assert f"{tmp_path / 'mine'}, {tmp_path / 'mine' / 'fashion-mnist'};" in str(info.value)


def test_ganforge_data_folder_is_searched(shared, tmp_path, monkeypatch):
    folder = shared("mnist")
    (tmp_path / "mnist").mkdir()
    for file in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / file).symlink_to(folder / file)
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    assert load_dataset("mnist", split="test").source == str(tmp_path / "mnist")


def test_unknown_names_and_paths(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="did you mean 'fashion-mnist'") as info:
        load_dataset("fashion-mnsit")
    for name in DATASET_NAMES:
        assert name in str(info.value)
    assert "path" in str(info.value)
    # a bare word may be a name or a folder here: both are said
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as info:
        load_dataset("nosuchdir")
    assert str(info.value) == (f"'nosuchdir' is not a dataset name, and there is no file or folder "
                               f"{tmp_path / 'nosuchdir'}; dataset names: {', '.join(DATASET_NAMES)}; or give the "
                               "path of an image folder, an IDX folder or an IDX images file")
    with pytest.raises(UserError, match="no such file or folder") as info:
        load_dataset(str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in str(info.value)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"split": "val"}, "data.split"),
        ({"channels": 2}, "data.channels"),
        ({"resolution": 0}, "data.resolution"),
        ({"on_bad_file": "ignore"}, "data.on_bad_file"),
    ],
)
def test_bad_options(options, words):
    with pytest.raises(UserError, match=words):
        load_dataset("fashion-mnist-10k", **options)


def test_dataset_names_are_described():
    assert set(DATASET_NAMES) == {"fashion-mnist-10k", "fashion-mnist", "mnist", "stacked-mnist",
                                  "toy-ring", "toy-grid", "toy-1d", "fashion-edges", "mnist-colour",
                                  "fashion-sr4", "fashion-sr2", "fashion-captions", "moving-mnist"}
    for text in DATASET_NAMES.values():
        assert text and "\n" not in text


def test_the_kind_of_data_is_told_before_it_is_read(tmp_path):
    from ganforge.data.registry import data_layout

    for sub in ("plain", "pairs/A", "pairs/B", "unpaired/trainA", "unpaired/trainB"):
        (tmp_path / sub).mkdir(parents=True)
    assert [data_layout(str(tmp_path / name)) for name in ("plain", "pairs", "unpaired", "missing")] == [
        "single", "paired", "unpaired", None]
    assert data_layout(f"folder:{tmp_path / 'unpaired'}", split="test") is None  # matching test names pair up
    assert data_layout(str(tmp_path / "plain"), layout="side_by_side") == "paired"
    assert data_layout(str(tmp_path / "plain"), domain_b=str(tmp_path / "pairs")) == "unpaired"
    assert [data_layout(name) for name in ("fashion-mnist-10k", "fashion-edges", "mnist-colour", "toy-ring")] == [
        "single", "paired", "unpaired", "single"]
    assert data_layout("mnist-colour", split="test") == "paired"
