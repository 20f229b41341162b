"""Tests for ganforge.metrics.inception: finding and checking the weights, preprocessing, features.

Tests that run the network need the real weights file (87 MB, ~165 ms per image on a CPU) and use 3 images.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import UserError
from ganforge.metrics import inception
from ganforge.metrics.inception import (
    INCEPTION_FILE,
    InceptionExtractor,
    file_sha1,
    preprocess_for_inception,
    resolve_inception_path,
    verify_sha1,
)
from ganforge.viz import to_uint8

WEIGHTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fid-inception" / INCEPTION_FILE


@pytest.fixture(scope="module")
def extractor():
    if not WEIGHTS.is_file():
        pytest.skip(f"FID Inception weights not found at {WEIGHTS.resolve()}")
    return InceptionExtractor(WEIGHTS, batch_size=1)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No $GANFORGE_INCEPTION or $GANFORGE_DATA, an empty home and an empty temporary user cache."""
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def put(path: Path, data: bytes = b"weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- preprocessing (no weights)


def test_preprocess_gray_uint8_to_three_identical_channels_in_range():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8, generator=g)
    x = preprocess_for_inception(images)
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("k", [0, 1, 127, 128, 254, 255])
def test_preprocess_constant_image_maps_to_2k_over_255_minus_1(k):
    x = preprocess_for_inception(torch.full((1, 1, 28, 28), k, dtype=torch.uint8))
    expected = torch.tensor(2 * k / 255 - 1, dtype=torch.float32)
    assert torch.allclose(x, expected.expand_as(x), rtol=0, atol=1e-6)
    assert x.unique().numel() == 1


def test_preprocess_float_is_quantised_like_to_uint8():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 16, 16, generator=g) * 2.2 - 1.1  # a little outside [-1, 1] too
    assert torch.equal(preprocess_for_inception(images), preprocess_for_inception(to_uint8(images)))
    # moving every value by less than half a level keeps the bytes, so the network input stays the same
    levels = to_uint8(images).float()
    nudged = (levels + 0.3 * (torch.rand(levels.shape, generator=g) - 0.5)) / 127.5 - 1
    assert torch.equal(preprocess_for_inception(nudged), preprocess_for_inception(images))
    constant = torch.zeros(1, 1, 8, 8)  # 0.0 -> 127.5 -> round half to even -> 128
    assert torch.allclose(preprocess_for_inception(constant), torch.tensor(2 * 128 / 255 - 1), atol=1e-6)


def test_preprocess_resize_is_bilinear_without_align_corners():
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=g)
    expected = 2 * F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear",
                                 align_corners=False) - 1
    assert torch.allclose(preprocess_for_inception(images), expected, rtol=0, atol=1e-6)
    corners = F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear", align_corners=True)
    assert not torch.allclose(preprocess_for_inception(images), 2 * corners - 1, atol=1e-3)


def test_preprocess_299_is_only_rescaled():
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (1, 3, 299, 299), dtype=torch.uint8, generator=g)
    assert torch.allclose(preprocess_for_inception(images), images.float() / 255 * 2 - 1, atol=1e-6)


def test_preprocess_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="C in"):
        preprocess_for_inception(torch.zeros(1, 2, 8, 8))


# --------------------------------------------------------------------------- finding and checking the file


def test_resolve_order_explicit_then_env_then_data_root_then_cache(clean_env, monkeypatch):
    tmp = clean_env
    cached = put(tmp / "cache" / "ganforge" / "inception" / INCEPTION_FILE)
    assert resolve_inception_path() == cached
    # the data root of the datasets: ~/.cache/ganforge/data, and $GANFORGE_DATA before it
    home_data = put(tmp / "home" / ".cache" / "ganforge" / "data" / "fid-inception" / INCEPTION_FILE)
    assert resolve_inception_path() == home_data
    monkeypatch.setenv("GANFORGE_DATA", str(tmp / "data"))
    data = put(tmp / "data" / "fid-inception" / INCEPTION_FILE)
    assert resolve_inception_path() == data
    env_file = put(tmp / "env" / "weights.pt")
    monkeypatch.setenv("GANFORGE_INCEPTION", str(env_file))
    assert resolve_inception_path() == env_file
    explicit = put(tmp / "explicit" / "mine.pt")
    assert resolve_inception_path(str(explicit)) == explicit
    # a directory stands for the file of the standard name inside it
    assert resolve_inception_path(cached.parent) == cached


def test_the_data_root_is_the_one_datasets_are_read_from(clean_env, monkeypatch):
    from ganforge.data.registry import _search_folders, data_roots

    monkeypatch.setenv("GANFORGE_DATA", str(clean_env / "data"))
    assert [p.parent for p in _search_folders("mnist", None)] == data_roots()
    assert [p.parent.parent for p in inception.inception_places()[:-1]] == data_roots()


def test_cache_defaults_to_home_dot_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert inception.inception_cache_path() == tmp_path / ".cache" / "ganforge" / "inception" / INCEPTION_FILE


def test_missing_everywhere_says_every_place_it_looked_and_what_to_do(clean_env, monkeypatch):
    with pytest.raises(UserError) as e:
        resolve_inception_path()
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(
        f"FID Inception weights not found (--inception not given, GANFORGE_INCEPTION not set, no {INCEPTION_FILE} "
        f"in {clean_env}/home/.cache/ganforge/data/fid-inception, {clean_env}/cache/ganforge/inception "
        "($GANFORGE_DATA is not set)); fetch it by hand")
    assert "put it in $GANFORGE_DATA/fid-inception/" in msg and "--inception PATH" in msg
    monkeypatch.setenv("GANFORGE_DATA", str(clean_env / "data"))
    with pytest.raises(UserError, match=rf"no {INCEPTION_FILE} in {clean_env}/data/fid-inception, {clean_env}/home"):
        resolve_inception_path()


def test_a_file_found_in_the_data_root_is_checked_by_its_sha1(clean_env, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(clean_env / "data"))
    found = put(clean_env / "data" / "fid-inception" / INCEPTION_FILE, b"a truncated download")
    with pytest.raises(UserError, match=rf"'{found}' have sha1 {hashlib.sha1(b'a truncated download').hexdigest()}"):
        InceptionExtractor()


def test_missing_explicit_or_env_path_is_an_error_not_a_fall_through(clean_env, monkeypatch):
    put(clean_env / "cache" / "ganforge" / "inception" / INCEPTION_FILE)
    with pytest.raises(UserError, match=r"nowhere\.pt"):
        resolve_inception_path(clean_env / "nowhere.pt")
    monkeypatch.setenv("GANFORGE_INCEPTION", str(clean_env / "gone.pt"))
    with pytest.raises(UserError, match=r"GANFORGE_INCEPTION.*gone\.pt"):
        resolve_inception_path()


def test_file_sha1_streams_and_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 9000  # > 1 MiB, so more than one chunk
    f = put(tmp_path / "blob", data)
    assert file_sha1(f) == hashlib.sha1(data).hexdigest()


def test_sha1_mismatch_names_file_and_both_hashes(tmp_path):
    f = put(tmp_path / "fake.pt", b"not the inception weights")
    actual = hashlib.sha1(b"not the inception weights").hexdigest()
    assert verify_sha1(f, expected=actual) == actual
    wrong = "0" * 40
    with pytest.raises(UserError) as e:
        verify_sha1(f, expected=wrong)
    msg = str(e.value)
    assert str(f) in msg and wrong in msg and actual in msg and "\n" not in msg
    with pytest.raises(UserError, match=actual):  # the real file's hash by default
        verify_sha1(f)


def test_sha1_is_cached_per_path_size_and_mtime(tmp_path, monkeypatch):
    f = put(tmp_path / "w.pt", b"one")
    calls = []
    real = inception.file_sha1
    monkeypatch.setattr(inception, "file_sha1", lambda p: calls.append(p) or real(p))
    h1 = hashlib.sha1(b"one").hexdigest()
    verify_sha1(f, h1)
    verify_sha1(f, h1)
    assert len(calls) == 1
    put(f, b"two!")  # a different size: hashed again, and now it mismatches
    with pytest.raises(UserError):
        verify_sha1(f, h1)
    assert len(calls) == 2


def test_extractor_rejects_bad_batch_size():
    with pytest.raises(UserError, match="batch size"):
        InceptionExtractor(WEIGHTS, batch_size=0)


# --------------------------------------------------------------------------- the network (needs the weights)


def test_features_equal_a_direct_call_on_the_preprocessed_input(extractor):
    # Every network call here has batch size 1: TorchScript optimises per input shape on its first calls,
    # and each new shape costs seconds.
    g = torch.Generator().manual_seed(3)
    images = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    feats = extractor.features(images)  # batch_size=1: two batches
    assert feats.shape == (2, 2048) and feats.dtype == torch.float32 and feats.device.type == "cpu"
    assert torch.isfinite(feats).all() and feats.min() >= 0  # pool3 comes after a ReLU
    assert not torch.equal(feats[0], feats[1])
    with torch.no_grad():
        direct = torch.cat([extractor.model(preprocess_for_inception(images[i : i + 1])) for i in range(2)])
    assert torch.allclose(feats, direct, rtol=0, atol=1e-4)  # float32 summation order
    assert extractor.name == "inception-v3-fid" and extractor.sha1 == inception.INCEPTION_SHA1


def test_features_of_gray_uint8_batches_and_empty_input(extractor):
    g = torch.Generator().manual_seed(4)
    gray = torch.randint(0, 256, (1, 1, 28, 28), dtype=torch.uint8, generator=g)
    feats = extractor.features([gray])  # an iterable of batches works like one tensor
    assert feats.shape == (1, 2048)
    with torch.no_grad():
        direct = extractor.model(2 * F.interpolate(gray.float().expand(-1, 3, -1, -1) / 255, size=(299, 299),
                                                   mode="bilinear", align_corners=False) - 1)
    assert torch.allclose(feats, direct, rtol=0, atol=1e-4)  # float32 summation order
    assert extractor.features(torch.zeros(0, 3, 8, 8)).shape == (0, 2048)
