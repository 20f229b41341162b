"""Bad files into every reader that parses bytes, fuzzed: image folders, paired folders, captions.csv and
.txt captions, attribute files, and the clips `ganforge predict` reads. Whatever the bytes, a reader gives a
valid value or a UserError of one line naming the file (or its folder), never another exception; files that
are well formed always load; an image whose header declares a size past Pillow's decompression-bomb limit is
refused before any of it is decoded."""

import io
import shutil
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from ganforge.data import load_dataset
from ganforge.errors import UserError
from ganforge.predicting import read_frames

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def fresh(tmp_path, name):
    """An empty folder tmp_path/name (Hypothesis reuses tmp_path across the examples of one test)."""
    folder = tmp_path / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def refused(error: UserError, where) -> str:
    """The message of a refusal: one line, naming `where` (the file, or a folder holding it)."""
    message = str(error)
    assert "\n" not in message and "\r" not in message, message
    assert str(where) in message, message
    return message


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def gradient(value: int, size=(8, 8)) -> np.ndarray:
    """A uint8 H x W ramp offset by `value`: frames and images that differ from one another."""
    h, w = size
    return ((np.arange(h * w).reshape(h, w) * 3 + value) % 256).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR (valid CRC) declares width x height 8-bit gray, followed by a few bytes of pixel data:
    its header parses, decoding it would allocate width x height bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def gif_by_hand(screen: tuple[int, int], corners: list[tuple[int, int]]) -> bytes:
    """A GIF with the given logical screen and one 1x1 frame at each corner (x, y); a frame past the screen makes
    Pillow grow the canvas to hold it."""
    one_pixel = b"\x00\x02\x02\x44\x01\x00"  # no local palette; LZW code size 2; one pixel of colour 0
    frames = b"".join(b"," + struct.pack("<HHHH", x, y, 1, 1) + one_pixel for x, y in corners)
    return b"GIF89a" + struct.pack("<HH", *screen) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff" + frames + b";"


# Well-formed files of the kinds users bring, 8x8 unless named otherwise: (extension, bytes).
RAMP = Image.fromarray(gradient(5))
SAMPLES = {
    "png-gray": (".png", encode(RAMP, "PNG")),
    "png-rgba": (".png", encode(Image.merge("RGBA", [RAMP, RAMP, RAMP, Image.fromarray(gradient(90))]), "PNG")),
    "png-16bit": (".png", encode(Image.fromarray(gradient(7).astype(np.uint16) * 257), "PNG")),  # "I;16"
    "png-animated": (".png", encode(RAMP, "PNG", save_all=True,
                                    append_images=[Image.fromarray(gradient(50)), Image.fromarray(gradient(99))])),
    "png-wide": (".png", encode(Image.fromarray(gradient(3, (8, 12))), "PNG")),  # 12x8: not square
    "jpeg-rgb": (".jpg", encode(RAMP.convert("RGB"), "JPEG", quality=90)),
    "jpeg-cmyk": (".jpg", encode(Image.new("CMYK", (8, 8), (10, 200, 30, 40)), "JPEG")),
    "gif-animated": (".gif", encode(RAMP, "GIF", save_all=True, append_images=[Image.fromarray(gradient(60))])),
}
SQUARE = set(SAMPLES) - {"png-wide"}


@st.composite
def damaged(draw, data: bytes) -> tuple[bytes, bool]:
    """(bytes, intact): `data` kept, cut short (down to zero bytes), with one byte changed, or replaced by noise."""
    how = draw(st.sampled_from(["keep", "keep", "cut", "flip", "noise"]))
    if how == "cut":
        return data[:draw(st.integers(0, len(data) - 1))], False
    if how == "flip":
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:], False
    if how == "noise":
        return draw(st.binary(max_size=64)), False
    return data, True


@st.composite
def image_files(draw) -> tuple[str, str, bytes, bool]:
    """(kind, extension, bytes, intact) of one image file, maybe damaged."""
    kind = draw(st.sampled_from(sorted(SAMPLES)))
    ext, data = SAMPLES[kind]
    data, intact = draw(damaged(data))
    return kind, ext, data, intact


# -- image folders -----------------------------------------------------------------------------------------


@FUZZ
@given(files=st.lists(image_files(), max_size=5), skip=st.booleans(), resolution=st.sampled_from([None, 8]))
def test_an_image_folder_of_awkward_files_loads_or_is_refused(tmp_path, files, skip, resolution):
    folder = fresh(tmp_path, "images")
    for i, (_, ext, data, _) in enumerate(files):
        (folder / f"{i}{ext}").write_bytes(data)
    fits = resolution is not None or all(kind in SQUARE for kind, *_ in files)
    must_load = files and all(intact for *_, intact in files) and fits
    try:
        ds = load_dataset(str(folder), on_bad_file="skip" if skip else "error", resolution=resolution)
    except UserError as e:
        refused(e, folder)
        assert not must_load, str(e)
        assert not (skip and resolution and any(intact for *_, intact in files)), str(e)
    else:
        assert ds.x.dtype == torch.uint8 and ds.x.dim() == 4 and ds.x.shape[1] in (1, 3)
        assert len(ds.x) + ds.skipped == len(files) and len(ds.x) >= sum(intact for *_, intact in files)
        assert skip or ds.skipped == 0
        assert all("\n" not in line for line in ds.skipped_files)
        if resolution:
            assert ds.x.shape[-2:] == (8, 8)


def test_the_awkward_kinds_read_as_8_bit_gray_or_rgb(tmp_path):
    """The intact samples themselves: 16 bits scaled (not clipped), CMYK as RGB, an animation's first frame."""
    for kind in SQUARE:
        ext, data = SAMPLES[kind]
        folder = fresh(tmp_path, kind)
        (folder / f"one{ext}").write_bytes(data)
        x = load_dataset(str(folder)).x
        assert x.shape[-2:] == (8, 8) and x.shape[1] == (1 if kind.startswith("png-") and kind != "png-rgba" else 3), kind
        if kind in ("png-gray", "png-16bit", "png-animated"):
            assert np.array_equal(x[0, 0].numpy(), gradient(7 if kind == "png-16bit" else 5)), kind


# -- decompression bombs -----------------------------------------------------------------------------------


@pytest.fixture
def decoded(monkeypatch):
    """The (width, height) of every image Pillow decodes in the test; decoding one past the bomb limit raises
    (which a reader would report as a bad file) and is recorded, so the test can see that it happened."""
    sizes = []

    def guard(original):
        def load(self, *args, **kwargs):
            sizes.append(self.size)
            if self.size[0] * self.size[1] > Image.MAX_IMAGE_PIXELS:
                raise AssertionError(f"decoding a {self.size} image")
            return original(self, *args, **kwargs)

        return load

    monkeypatch.setattr(ImageFile.ImageFile, "load", guard(ImageFile.ImageFile.load))
    monkeypatch.setattr(Image.Image, "load", guard(Image.Image.load))
    return sizes


BOMBS = {
    "png 100000x100000": (".png", png_declaring(100_000, 100_000)),
    # between 1x and 2x the limit Pillow only warns; ganforge refuses these too
    "png 10000x10000": (".png", png_declaring(10_000, 10_000)),
    "gif screen 65535x65535": (".gif", gif_by_hand((65_535, 65_535), [(0, 0)])),
}


def refused_unread(call, where, decoded) -> str:
    """The message of `call`'s refusal, checked: one line naming `where`, 'too large', quick, nothing decoded."""
    start = time.perf_counter()
    with pytest.raises(UserError) as info:
        call()
    assert time.perf_counter() - start < 5  # decoding 10^10 pixels would take minutes, or all the memory
    assert decoded == []
    return refused(info.value, where)


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_bomb_in_an_image_folder_is_refused_before_it_is_decoded(tmp_path, decoded, bomb):
    ext, data = BOMBS[bomb]
    folder = fresh(tmp_path, "images")
    (folder / f"bomb{ext}").write_bytes(data)
    assert "too large to decode safely" in refused_unread(lambda: load_dataset(str(folder)), folder / f"bomb{ext}",
                                                          decoded)
    # skipped like any bad file, beside an image that loads
    (folder / "fine.png").write_bytes(SAMPLES["png-gray"][1])
    ds = load_dataset(str(folder), on_bad_file="skip")
    reason = f"too large to decode safely (over Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels); downscale it"
    assert len(ds.x) == 1 and ds.skipped_files == [f"bomb{ext}: {reason}"]
    assert decoded and all(size == (8, 8) for size in decoded)


def test_a_bomb_in_paired_folders_is_refused_before_it_is_decoded(tmp_path, decoded):
    root = fresh(tmp_path, "pairs")
    for side in ("A", "B"):
        (root / side).mkdir()
    (root / "A" / "x.png").write_bytes(BOMBS["png 100000x100000"][1])
    (root / "B" / "x.png").write_bytes(SAMPLES["png-gray"][1])
    assert "too large" in refused_unread(lambda: load_dataset(str(root)), root / "A" / "x.png", decoded)
    (root / "B" / "x.png").write_bytes(BOMBS["png 100000x100000"][1])  # side by side: decoded whole, then halved
    assert "too large" in refused_unread(lambda: load_dataset(str(root / "B"), layout="side_by_side"),
                                         root / "B" / "x.png", decoded)


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_bomb_given_to_predict_is_refused_before_it_is_decoded(tmp_path, decoded, bomb):
    ext, data = BOMBS[bomb]
    clip = tmp_path / f"clip{ext}"
    clip.write_bytes(data)
    message = refused_unread(lambda: read_frames(clip), clip, decoded)
    assert message == (f"--input {clip}: too large to decode safely (over Pillow's limit of "
                       f"{Image.MAX_IMAGE_PIXELS} pixels); downscale it")
    frames = fresh(tmp_path, "frames")  # a folder of frames with one bomb among them
    (frames / "0.png").write_bytes(SAMPLES["png-gray"][1])
    (frames / "1.png").write_bytes(png_declaring(100_000, 100_000))
    assert "too large" in refused(pytest.raises(UserError, read_frames, frames).value, frames / "1.png")
    assert all(w * h <= 64 for w, h in decoded)


def test_a_gif_frame_that_grows_the_canvas_past_the_limit_is_refused_before_it_is_decoded(tmp_path, decoded):
    clip = tmp_path / "clip.gif"
    clip.write_bytes(gif_by_hand((1, 1), [(0, 0), (60_000, 60_000)]))
    with pytest.raises(UserError, match="too large to decode safely") as info:
        read_frames(clip)
    refused(info.value, clip)
    assert decoded and all(w * h == 1 for w, h in decoded)  # the first frame, nothing past it


# -- paired folders ----------------------------------------------------------------------------------------

# x.pn.png sorts before x.png, x.jpg before x.pn.jpg: names alone must pair them, not their order
NAMES = ["x", "x.pn", "y", "sub/z"]


@st.composite
def sides(draw):
    """{relative path: (kind, bytes, intact)} of one side of a paired folder."""
    out = {}
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)):
        kind, ext, data, intact = draw(image_files())
        out[name + draw(st.sampled_from([ext, ext.upper()]))] = (kind, data, intact)
    return out


@FUZZ
@given(a=sides(), b=sides(), skip=st.booleans(), resolution=st.sampled_from([None, 8]), unpaired=st.booleans())
def test_paired_folders_of_awkward_files_load_or_are_refused(tmp_path, a, b, skip, resolution, unpaired):
    root = fresh(tmp_path, "pairs")
    for side, files in (("trainA" if unpaired else "A", a), ("trainB" if unpaired else "B", b)):
        for rel, (_, data, _) in files.items():
            (root / side / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / side / rel).write_bytes(data)
    keys = [{rel.rsplit(".", 1)[0] for rel in files} for files in (a, b)]
    everything = [*a.values(), *b.values()]
    fits = resolution is not None or all(kind in SQUARE for kind, _, _ in everything)
    # one name per image on each side, the same names on both (unpaired: any), every file intact and fitting
    must_load = (all(intact for _, _, intact in everything) and fits
                 and (unpaired or (keys[0] == keys[1] and all(len(k) == len(f) for k, f in zip(keys, (a, b))))))
    try:
        ds = load_dataset(str(root), on_bad_file="skip" if skip else "error", resolution=resolution)
    except UserError as e:
        refused(e, root)
        assert not must_load, str(e)
    else:
        assert ds.inputs.dtype == ds.x.dtype == torch.uint8 and ds.inputs.dim() == ds.x.dim() == 4
        assert ds.paired is not unpaired and len(ds.x) >= 1 and len(ds.inputs) >= 1
        if not unpaired:
            assert len(ds.x) == len(ds.inputs) and len(ds.x) <= len(keys[0] & keys[1])
        assert all("\n" not in line for line in ds.skipped_files)
        if must_load:
            assert ds.skipped == 0 and (len(ds.inputs), len(ds.x)) == (len(a), len(b))


def test_pairs_go_by_name_whatever_the_order_of_the_files(tmp_path):
    root = fresh(tmp_path, "pairs")
    for side, ext in (("A", ".png"), ("B", ".jpg")):  # x.pn.png < x.png, but x.jpg < x.pn.jpg
        (root / side).mkdir()
        for value, name in ((10, "x"), (200, "x.pn")):
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(root / side / f"{name}{ext}")
    ds = load_dataset(str(root))
    assert (ds.inputs.int() - ds.x.int()).abs().max() <= 2  # each A beside its own B (the JPEG within rounding)
    (root / "A" / "x.jpg").write_bytes((root / "B" / "x.jpg").read_bytes())
    with pytest.raises(UserError, match="x.jpg beside it has the same name but another extension") as info:
        load_dataset(str(root))
    refused(info.value, root / "A" / "x.png")


# -- clips for `ganforge predict` --------------------------------------------------------------------------


@FUZZ
@given(n=st.integers(1, 4), odd_size=st.booleans(), folder=st.booleans(), data=st.data())
def test_a_clip_of_any_bytes_is_read_or_refused(tmp_path, n, odd_size, folder, data):
    """A GIF (single frame or animated), or a folder of frame images, any of it damaged; frames of another size
    in a folder, or past the screen of a hand-made GIF (Pillow grows the canvas, so the frames differ)."""
    frames = [gradient(37 * t) for t in range(n)]
    sizes_differ = odd_size and n > 1
    if sizes_differ:
        frames[-1] = gradient(1, (6, 10))
    root = fresh(tmp_path, "clip")
    if folder:
        for t, frame in enumerate(frames):
            (root / f"{t:02d}.png").write_bytes(encode(Image.fromarray(frame), "PNG"))
        victim = root / f"{data.draw(st.integers(0, n - 1)):02d}.png"
        source = root
    elif sizes_differ:
        victim = source = root / "clip.gif"
        source.write_bytes(gif_by_hand((1, 1), [(0, 0)] * (n - 1) + [(1, 1)]))  # the last frame grows it to 2x2
    else:
        victim = source = root / "clip.gif"
        source.write_bytes(encode(Image.fromarray(frames[0]), "GIF", save_all=True,
                                  append_images=[Image.fromarray(f) for f in frames[1:]]))
    damaged_bytes, intact = data.draw(damaged(victim.read_bytes()))
    victim.write_bytes(damaged_bytes)
    try:
        clip = read_frames(source)
    except UserError as e:
        refused(e, source)
        assert not intact or sizes_differ, str(e)
        if intact:
            assert "frames differ in size" in str(e)
    else:
        assert clip.dtype == torch.uint8 and clip.dim() == 3 and len(clip) >= 1
        if intact:
            assert not sizes_differ
            assert len(clip) == n and np.array_equal(clip.numpy(), np.stack(frames))
