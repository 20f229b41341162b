"""Image folders: labels from subfolders, mode conversion, resize and crop, bad files, path kinds."""

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.errors import UserError


def save(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def gray(value, size=(8, 8)):
    return Image.new("L", size, value)


def test_class_subfolders(tmp_path):
    save(tmp_path / "cats" / "1.png", gray(10))
    save(tmp_path / "cats" / "2.png", gray(20))
    save(tmp_path / "ants" / "1.png", gray(30))
    save(tmp_path / "dogs" / "deep" / "er" / "1.png", gray(40))  # nested: belongs to "dogs"
    ds = load_dataset(str(tmp_path))
    assert ds.kind == "image" and ds.name == f"folder:{tmp_path}"
    assert ds.class_names == ["ants", "cats", "dogs"]
    assert ds.x.shape == (4, 1, 8, 8) and ds.x.dtype == torch.uint8
    # Sorted by relative path: ants/1, cats/1, cats/2, dogs/deep/er/1.
    assert ds.x[:, 0, 0, 0].tolist() == [30, 10, 20, 40]
    assert ds.y.tolist() == [0, 1, 1, 2] and ds.y.dtype == torch.int64


def test_images_in_root_have_no_labels(tmp_path):
    save(tmp_path / "a.png", gray(1))
    save(tmp_path / "sub" / "b.png", gray(2))
    save(tmp_path / ".hidden" / "c.png", gray(3))  # hidden folders are ignored
    save(tmp_path / "._d.png", gray(4))  # as are hidden files (macOS metadata)
    ds = load_dataset(str(tmp_path))
    assert ds.y is None and ds.class_names is None
    assert ds.x[:, 0, 0, 0].tolist() == [1, 2]


def mixed_folder(tmp_path):
    save(tmp_path / "0-gray.png", gray(100))
    save(tmp_path / "1-rgb.png", Image.new("RGB", (8, 8), (255, 0, 0)))
    save(tmp_path / "2-rgba.png", Image.new("RGBA", (8, 8), (0, 0, 255, 0)))  # fully transparent
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    save(tmp_path / "3-palette.png", pal)
    save(tmp_path / "4-sixteen.png", Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)))
    save(tmp_path / "5-la.png", Image.new("LA", (8, 8), (50, 255)))
    save(tmp_path / "6-cmyk.tif", Image.new("CMYK", (8, 8), (0, 255, 0, 0)))
    return tmp_path


def test_mixed_modes_become_rgb(tmp_path):
    ds = load_dataset(str(mixed_folder(tmp_path)))
    assert ds.x.shape == (7, 3, 8, 8)
    pixels = [tuple(p) for p in ds.x[:, :, 4, 4].tolist()]
    assert pixels[0] == (100, 100, 100)
    assert pixels[1] == (255, 0, 0)
    assert pixels[2] == (255, 255, 255)  # transparency is composited onto white
    assert pixels[3] == (0, 200, 0)
    assert pixels[4] == (255, 255, 255)  # 16-bit full scale is scaled to 255, not clipped garbage
    assert pixels[5] == (50, 50, 50)
    assert pixels[6] == (255, 0, 255)  # magenta ink


def test_channels_one_converts_colour_to_gray(tmp_path):
    ds = load_dataset(str(mixed_folder(tmp_path)), channels=1)
    assert ds.x.shape == (7, 1, 8, 8)
    values = ds.x[:, 0, 4, 4].tolist()
    assert values[0] == 100
    assert values[1] == 76  # ITU-R 601 luma of pure red
    assert values[2] == 255


def test_gray_folder_stays_one_channel_unless_asked(tmp_path):
    save(tmp_path / "a.png", gray(7))
    assert load_dataset(str(tmp_path)).x.shape == (1, 1, 8, 8)
    x = load_dataset(str(tmp_path), channels=3).x
    assert x.shape == (1, 3, 8, 8) and x.unique().tolist() == [7]


def test_sixteen_bit_is_scaled(tmp_path):
    a = np.array([[0, 257, 32896, 65535]], dtype=np.uint16).repeat(4, 0)
    save(tmp_path / "a.png", Image.fromarray(a))
    x = load_dataset(str(tmp_path)).x
    assert x.shape == (1, 1, 4, 4)
    assert x[0, 0, 0].tolist() == [0, 1, 128, 255]


def white_centre(w, h, side):
    """A black w x h image with a white side x side square in its centre."""
    a = np.zeros((h, w), dtype=np.uint8)
    top, left = (h - side) // 2, (w - side) // 2
    a[top:top + side, left:left + side] = 255
    return Image.fromarray(a)


@pytest.mark.parametrize("size", [(80, 40), (40, 80)])
def test_center_crop_without_resize(tmp_path, size):
    save(tmp_path / "a.png", white_centre(*size, 40))
    x = load_dataset(str(tmp_path), resolution=40).x
    assert x.shape == (1, 1, 40, 40)
    assert x.min().item() == 255  # exactly the white centre; the black borders are cut off


@pytest.mark.parametrize("size", [(120, 60), (60, 120)])
def test_resize_short_side_then_center_crop(tmp_path, size):
    save(tmp_path / "a.png", white_centre(*size, 40))
    x = load_dataset(str(tmp_path), resolution=30).x[0, 0].float()
    assert x.shape == (30, 30)
    # The white square shrinks to 20 px in the middle of the crop, with a 5 px black frame.
    assert (x[8:22, 8:22] > 250).all()
    assert (x[:3] < 5).all() and (x[-3:] < 5).all() and (x[:, :3] < 5).all() and (x[:, -3:] < 5).all()


@pytest.mark.parametrize(("size", "resolution", "note"), [
    ((48, 32), 32, ("all 2 images are 48x32: each is centre-cropped to 32x32, 8 px cut from its left and 8 from its "
                    "right")),
    ((48, 32), 64, ("all 2 images are 48x32: each is resized to 96x64 and centre-cropped to 64x64, 16 px cut from "
                    "its left and 16 from its right")),
    ((33, 48), 32, ("all 2 images are 33x48: each is resized to 32x47 and centre-cropped to 32x32, 7 px cut from "
                    "its top and 8 from its bottom")),
])
def test_the_crop_note_says_what_the_crop_keeps(tmp_path, size, resolution, note):
    from ganforge.data.folder import describe_crop

    w, h = size
    ramp = np.tile(np.arange(w, dtype=np.uint8) * 5, (h, 1)) if w > h else np.tile(
        np.arange(h, dtype=np.uint8)[:, None] * 5, (1, w))  # each column (row) its own value
    save(tmp_path / "a.png", Image.fromarray(ramp))
    save(tmp_path / "b.png", Image.fromarray(ramp))
    data = load_dataset(str(tmp_path), resolution=resolution)
    assert data.image_sizes == {size: 2}
    assert describe_crop(data.image_sizes, resolution) == note + "; crop the files yourself to keep another part"
    # the pixels kept are those the note says: without a resize, the first column left is column 8
    if (w, h) == (48, 32) and resolution == 32:
        assert data.x[0, 0, 0, 0].item() == 8 * 5 and data.x[0, 0, 0, -1].item() == 39 * 5


def test_the_crop_note_counts_other_sizes_and_is_silent_for_squares():
    from ganforge.data.folder import describe_crop

    assert describe_crop({(8, 8): 3, (30, 30): 1}, 8) is None
    assert describe_crop({(48, 32): 5, (32, 40): 2, (50, 32): 1, (32, 32): 4}, 32) == (
        "5 images are 48x32: each is centre-cropped to 32x32, 8 px cut from its left and 8 from its right; 3 more "
        "of 2 other non-square sizes are cropped likewise; crop the files yourself to keep another part")
    assert describe_crop({(48, 32): 1}, 32).startswith("1 image is 48x32: each is")


def test_sizes_must_match_without_resolution(tmp_path):
    save(tmp_path / "a.png", gray(1, (8, 8)))
    save(tmp_path / "b.png", gray(1, (9, 9)))
    with pytest.raises(UserError, match="data.resolution") as info:
        load_dataset(str(tmp_path))
    assert str(tmp_path / "b.png") in str(info.value)
    assert load_dataset(str(tmp_path), resolution=4).x.shape == (2, 1, 4, 4)


def test_non_square_needs_resolution(tmp_path):
    save(tmp_path / "a.png", gray(1, (8, 6)))
    with pytest.raises(UserError, match="data.resolution"):
        load_dataset(str(tmp_path))


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((16, 16), dtype=np.uint8)
    a[:8, :8] = 255  # stored: white top-left quadrant
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    img.save(tmp_path / "a.png", exif=exif)
    x = load_dataset(str(tmp_path)).x[0, 0]
    assert x[0, -1].item() == 255 and x[0, 0].item() == 0  # shown: white top-right quadrant


def bad_folder(tmp_path):
    save(tmp_path / "good.png", gray(5))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("this is not an image\n")
    noise = np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)  # does not compress much
    save(tmp_path / "whole.png", Image.fromarray(noise))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "whole.png").unlink()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    return tmp_path


@pytest.mark.parametrize("name", ["empty.png", "text.png", "truncated.png"])
def test_bad_file_is_an_error_by_default(tmp_path, name):
    bad_folder(tmp_path)
    for other in {"empty.png", "text.png", "truncated.png"} - {name}:
        (tmp_path / other).unlink()
    with pytest.raises(UserError, match="data.on_bad_file=skip") as info:
        load_dataset(str(tmp_path))
    assert str(tmp_path / name) in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_files_skipped_and_counted(tmp_path):
    ds = load_dataset(str(bad_folder(tmp_path)), on_bad_file="skip")
    assert ds.x.shape == (1, 1, 8, 8) and ds.x.unique().tolist() == [5]
    assert ds.skipped == 3


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UserError, match="none of the 1 image files"):
        load_dataset(str(tmp_path), on_bad_file="skip")


def test_decompression_bomb_protection_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    save(tmp_path / "big.png", gray(0, (40, 40)))  # 1600 px: over the limit (Pillow only warns)
    with pytest.raises(UserError, match="too large") as info:
        load_dataset(str(tmp_path))
    assert str(tmp_path / "big.png") in str(info.value)
    save(tmp_path / "bigger.png", gray(0, (100, 100)))  # over twice the limit: Pillow refuses
    save(tmp_path / "small.png", gray(0, (8, 8)))
    assert load_dataset(str(tmp_path), on_bad_file="skip").skipped == 2


def test_empty_folder(tmp_path):
    with pytest.raises(UserError, match="no IDX files or images found") as info:
        load_dataset(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_path_kind_recognition(tmp_path):
    idx_dir, img_dir, other_dir = tmp_path / "idx", tmp_path / "img", tmp_path / "other"
    for d in (idx_dir, img_dir, other_dir):
        d.mkdir()
    a = np.full((3, 5, 5), 9, dtype=np.uint8)
    data = bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 5]) + a.tobytes()
    (idx_dir / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
    save(idx_dir / "preview.png", gray(1))  # IDX files take precedence over images
    save(img_dir / "x.jpg", Image.new("RGB", (6, 6), (1, 2, 3)))
    (other_dir / "notes.txt").write_text("hello")

    ds = load_dataset(str(idx_dir))  # a lone images file serves either split
    assert ds.name == f"idx:{idx_dir}" and ds.x.shape == (3, 1, 5, 5) and ds.y is None
    assert load_dataset(str(idx_dir / "t10k-images-idx3-ubyte.gz")).x.shape == (3, 1, 5, 5)
    assert load_dataset(str(img_dir)).x.shape == (1, 3, 6, 6)
    with pytest.raises(UserError, match="no IDX files or images found") as info:
        load_dataset(str(other_dir))
    assert str(other_dir) in str(info.value)
    with pytest.raises(UserError, match="not an IDX file"):
        load_dataset(str(other_dir / "notes.txt"))


def test_dataset_name_loads_again(tmp_path):
    save(tmp_path / "a.png", gray(3))
    ds = load_dataset(str(tmp_path))
    assert torch.equal(load_dataset(ds.name).x, ds.x)


def test_pad_centres_the_image_on_black_bands(tmp_path):
    save(tmp_path / "wide.png", gray(200, (8, 4)))  # 8 wide, 4 high: no resize into 8x8
    save(tmp_path / "tall.png", gray(100, (3, 8)))  # 3 wide: 2 px left of it, 3 right
    x = load_dataset(str(tmp_path), resolution=8, aspect="pad").x[:, 0]
    assert x.shape == (2, 8, 8)
    # sorted: tall, then wide
    assert x[0, :, :2].eq(0).all() and x[0, :, 2:5].eq(100).all() and x[0, :, 5:].eq(0).all()
    assert x[1, :2].eq(0).all() and x[1, 2:6].eq(200).all() and x[1, 6:].eq(0).all()
    # 16x8 fits 4x4 as 4x2 (a flat image stays flat under Lanczos): rows 0 and 3 black
    save(tmp_path / "wide.png", gray(200, (16, 8)))
    (tmp_path / "tall.png").unlink()
    assert load_dataset(str(tmp_path), resolution=4, aspect="pad").x[0, 0].tolist() == [
        [0, 0, 0, 0], [200, 200, 200, 200], [200, 200, 200, 200], [0, 0, 0, 0]]
    # without a resolution each image pads to a square of its long side
    assert load_dataset(str(tmp_path), aspect="pad").x.shape == (1, 1, 16, 16)


def test_keep_trains_on_the_first_images_aspect_and_crops_the_others_to_it(tmp_path):
    save(tmp_path / "a.png", gray(50, (16, 12)))  # 4:3 -> 32x24 at resolution 32
    save(tmp_path / "b.png", white_centre(24, 24, 12))  # square: covered (32x32), then 4 px cut above and below
    data = load_dataset(str(tmp_path), resolution=32, aspect="keep")
    assert data.x.shape == (2, 1, 24, 32) and data.x[0].unique().tolist() == [50]
    b = data.x[1, 0].float()
    # the white centre (6..18 of 24) grew to 8..24 of 32, then 4 rows went: rows 4..20, columns 8..24
    # (Lanczos rings a little at the edges)
    assert (b[4:20, 8:24] > 200).all() and (b[:4] < 30).all() and (b[20:] < 30).all() and (b[:, :7] < 30).all()
    from ganforge.data.fitting import describe_fit

    assert describe_fit(data.image_sizes, (32, 24), "keep") == (
        "1 image is 24x24: each is resized to 32x32 and centre-cropped to 32x24, 4 px cut from its top and 4 from "
        "its bottom; crop the files yourself to keep another part")
    with pytest.raises(UserError, match="all images must be the same size"):
        load_dataset(str(tmp_path), aspect="keep")  # 16x12 and 24x24 kept as they are


def stylegan_folder(root, labels, json_text=None):
    for i in range(len(labels)):
        save(root / "00000" / f"img{i:08d}.png", gray(10 * i))
    pairs = ", ".join(f'["00000/img{i:08d}.png", {k}]' for i, k in enumerate(labels))
    (root / "dataset.json").write_text(json_text or f'{{"labels": [{pairs}]}}')
    return root


def test_dataset_json_labels_a_folder_and_wins_over_its_subfolders(tmp_path):
    root = stylegan_folder(tmp_path / "faces", [1, 0, 1])
    save(root / "00001" / "img00000003.png", gray(30))
    (root / "dataset.json").write_text(
        '{"labels": [["00000/img00000000.png", 1], ["./00000/img00000001.png", 0], ["00000/img00000002.png", 1], '
        '["00001/img00000003.png", 4], ["not/here.png", 2]]}')
    data = load_dataset(str(root))
    assert data.y.tolist() == [1, 0, 1, 4] and data.class_names == ["0", "1", "2", "3", "4"]
    assert data.notes == [(f"{root / 'dataset.json'} labels the images (5 classes by index); the subfolders (00000, "
                           "00001) are not read as classes: delete dataset.json to label them by subfolder")]
    (root / "dataset.json").write_text('{"labels": null}')  # StyleGAN's unlabelled data: the subfolders label it
    data = load_dataset(str(root))
    assert data.class_names == ["00000", "00001"] and data.y.tolist() == [0, 0, 0, 1] and data.notes == []


@pytest.mark.parametrize(("text", "message"), [
    ('{"labels": [["00000/img00000000.png", 1]', "not valid JSON (line 1, column 41"),
    ('[["00000/img00000000.png", 1]]', 'has no "labels" key'),
    ('{"labels": [["00000/img00000000.png", [0.5, 1.0]]]}', "(label 1): [0.5, 1.0] is a vector; ganforge reads"),
    ('{"labels": [["00000/img00000000.png", true]]}', "must be a whole number from 0 to 99,999, got true"),
    ('{"labels": [["00000/img00000000.png", -1]]}', "got -1"),
    ('{"labels": [["00000/img00000000.png", 1], ["00000/img00000000.png", 1]]}', "labelled twice (labels 1 and 2)"),
    ('{"labels": [["00000/img00000000.png"]]}', "is not a [path, class] pair"),
    ('{"labels": [["00000/img00000000.png", 1]]}', "img00000001.png: no label for this image in"),
])
def test_dataset_json_mistakes_are_one_line_naming_the_file(tmp_path, text, message):
    root = stylegan_folder(tmp_path / "faces", [0, 0], text)
    with pytest.raises(UserError) as info:
        load_dataset(str(root))
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(root / ("00000/img00000001.png" if "no label" in message else "dataset.json")) in str(info.value)
