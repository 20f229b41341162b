"""Hypothesis fuzzing of the input readers: whatever the input, a value or a UserError, never a crash."""

import io
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge.config import Config, _all_keys, from_dict, load_config, parse_set
from ganforge.data import load_dataset
from ganforge.errors import UserError

KEYS = _all_keys(Config)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=5))
def test_any_config_tree_is_a_config_or_a_user_error(flat):
    tree: dict = {}
    for key, value in flat.items():  # "train.steps" -> {"train": {"steps": ...}}
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[parts[-1]] = value
    try:
        cfg = from_dict(tree)
    except UserError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(cfg, Config)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_set_argument_is_parsed_or_refused(item):
    try:
        key, _ = parse_set(item)
        load_config(None, [item])
    except UserError as e:
        assert "\n" not in str(e)
    else:
        assert key in KEYS


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_yaml_file_is_a_config_or_a_user_error(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "fuzz.yaml"
    path.write_text(text)
    try:
        load_config(str(path))
    except UserError as e:
        assert "\n" not in str(e)


def _png_bytes(size: int, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size)).save(buf, format="PNG")
    return buf.getvalue()


files = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.builds(_png_bytes, st.integers(1, 40), st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16"])),
        # a real PNG cut short, or with bytes flipped
        st.builds(lambda b, n: b[:n], st.builds(_png_bytes, st.integers(4, 16), st.just("RGB")),
                  st.integers(0, 120)),
    ),
    min_size=0, max_size=5,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contents=files, skip=st.booleans(), resolution=st.sampled_from([None, 8]))
def test_any_image_folder_loads_or_is_refused(tmp_path, contents, skip, resolution):
    folder = tmp_path / "fuzz-images"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i, data in enumerate(contents):
        (folder / f"{i}.png").write_bytes(data)
    try:
        ds = load_dataset(str(folder), on_bad_file="skip" if skip else "error", resolution=resolution)
    except UserError as e:
        assert "\n" not in str(e)
    else:
        assert ds.x.dtype.is_floating_point is False and ds.x.dim() == 4 and len(ds.x) + ds.skipped == len(contents)


def test_a_yaml_config_cannot_run_code(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text('train: !!python/object/apply:os.system ["touch ' + str(tmp_path / "ran") + '"]\n')
    try:
        load_config(str(path))
    except UserError as e:
        assert "not valid YAML" in str(e)
    else:
        raise AssertionError("a Python tag was accepted")
    assert not (tmp_path / "ran").exists()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=40).map(lambda t: t.encode("utf-16")))
def test_any_bytes_as_a_yaml_file_are_a_config_or_a_user_error(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-bytes.yaml"
    path.write_bytes(data)
    try:
        load_config(str(path))
    except UserError as e:
        assert "\n" not in str(e) and str(path) in str(e)


def test_a_yaml_file_in_another_encoding_is_named_and_one_in_utf16_is_read(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("train:\n  steps: 7  # café\n".encode("latin-1"))
    try:
        load_config(str(path))
    except UserError as e:
        assert str(e) == f"config file {path} is not UTF-8 text (byte 24); save it as UTF-8"
    else:
        raise AssertionError("a Latin-1 file was read as UTF-8")
    path.write_bytes("train:\n  steps: 7\n".encode("utf-16"))  # with a BOM, as Windows editors save it
    assert load_config(str(path)).train.steps == 7
