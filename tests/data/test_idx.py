"""The IDX reader: hand-written files with known contents, every malformed case, random input."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from ganforge.data import load_dataset, read_idx
from ganforge.errors import UserError

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
              np.float64: 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    """The IDX encoding of a: magic, big-endian uint32 dims, big-endian values."""
    code = TYPE_CODES[a.dtype.type]
    header = bytes([0, 0, code, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, a: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(a)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_known_uint8_images(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    x = read_idx(write_idx(tmp_path / ("a.gz" if gz else "a"), a, gz))
    assert x.dtype == torch.uint8
    assert x.shape == (2, 3, 4)
    assert x[1, 2, 3].item() == 230
    assert torch.equal(x, torch.from_numpy(a))


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
def test_every_type_code(tmp_path, dtype):
    a = np.array([[-3, 0, 1], [7, 100, 127]]).astype(dtype)
    if dtype is np.uint8:
        a = np.array([[0, 1, 2], [128, 200, 255]], dtype=np.uint8)
    if dtype in (np.float32, np.float64):
        a = a * 0.5
    x = read_idx(write_idx(tmp_path / "v", a))
    assert x.numpy().dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.numpy(), a)


def test_multibyte_values_are_big_endian(tmp_path):
    path = tmp_path / "v"
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))
    assert read_idx(path).tolist() == [0x0102, -2]


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    a = np.ones((3, 2), dtype=np.uint8)
    assert torch.equal(read_idx(write_idx(tmp_path / "plain-name", a, gz=True)), torch.from_numpy(a))


def bad_file(tmp_path: Path, data: bytes, name: str = "bad-images-idx3-ubyte") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "data, name, words",
    [
        (b"", "f", "empty"),
        (b"\x08\x03\x00\x00" + GOOD[4:], "f", "magic"),  # byte order swapped
        (b"\x00\x00\x07\x03" + GOOD[4:], "f", "magic"),  # unknown type code
        (b"\x00\x00\x08", "f", "magic"),  # shorter than the magic
        (GOOD[:10], "f", "truncated"),  # inside the dims
        (GOOD[:-1], "f", "truncated"),
        (GOOD + b"\x00", "f", "extra bytes"),
        (b"\x1f\x8b\x08\x00garbage", "f.gz", "gzip"),
        (gzip.compress(GOOD)[:-12], "f.gz", "gzip"),  # cut-off download
        (GOOD, "f.gz", "not gzip"),
    ],
)
def test_malformed_files_name_the_file(tmp_path, data, name, words):
    path = bad_file(tmp_path, data, name)
    with pytest.raises(UserError, match=words) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="cannot read") as info:
        read_idx(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_image_and_label_counts_must_match(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(UserError, match="4 labels but train-images-idx3-ubyte has 5 images") as info:
        load_dataset(str(tmp_path))
    assert str(tmp_path / "train-labels-idx1-ubyte") in str(info.value)


def test_images_file_must_be_3d_bytes(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 4), dtype=np.uint8))
    with pytest.raises(UserError, match="N x H x W"):
        load_dataset(str(tmp_path))


@settings(max_examples=60, deadline=None)
@given(a=arrays(np.uint8, array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)), gz=st.booleans())
def test_uint8_round_trip(tmp_path_factory, a, gz):
    path = tmp_path_factory.mktemp("rt") / "a"
    x = read_idx(write_idx(path, a, gz))
    assert x.shape == a.shape
    np.testing.assert_array_equal(x.numpy(), a)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=64),
        # Valid-looking magic and dims followed by anything, to get past the first checks.
        st.tuples(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x42]), st.integers(0, 4),
                  st.binary(max_size=80)).map(lambda t: bytes([0, 0, t[0], t[1]]) + t[2]),
    ),
    gz=st.booleans(),
)
def test_random_bytes_raise_only_user_errors(tmp_path_factory, data, gz):
    path = tmp_path_factory.getbasetemp() / "random-idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        read_idx(path)
    except UserError as exc:
        assert str(path) in str(exc)
