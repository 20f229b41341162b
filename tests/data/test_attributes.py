"""Binary attributes per image: attribute files (CSV, CelebA's list), where they are found, selection,
alignment with the decoded images, and the errors a user can cause."""

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.attributes import find_attribute_file, read_attribute_file, select_attributes
from ganforge.data.folder import load_image_folder
from ganforge.errors import UserError


def save(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def gray(value, size=(8, 8)):
    return Image.new("L", size, value)


# Each image's pixel value and its attributes (glasses, male, smiling): alignment is checked through them.
IMAGES = {"001.png": (10, [1, 0, 1]), "002.png": (20, [0, 0, 0]), "sub/003.png": (30, [1, 1, 0]),
          "sub/004.png": (40, [0, 1, 1])}
PIXEL_TO_ROW = {pixel: row for pixel, row in IMAGES.values()}


def faces(folder):
    for name, (pixel, _) in IMAGES.items():
        save(folder / name, gray(pixel))
    return folder


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_aligned(x, attributes, rows=PIXEL_TO_ROW):
    """Row i of attributes is the row written for the image whose pixels are x[i]."""
    assert attributes.dtype == torch.float32 and attributes.shape[0] == len(x)
    for image, attrs in zip(x, attributes):
        assert attrs.tolist() == rows[image[0, 0, 0].item()]


def test_csv_zero_one_minus_one_whitespace_and_blank_lines(tmp_path):
    path = write(tmp_path / "a.csv",
                 "\n image_id , glasses,male ,  smiling\n"
                 "001.png, 1 ,0, 1\n"
                 "\n"
                 "   \n"
                 "sub/003.png,1,-1,-1\n"  # -1 means 0, as in CelebA
                 "002.png,0,0,0\n")
    names, rows = read_attribute_file(path)
    assert names == ["glasses", "male", "smiling"]
    assert rows == {"001.png": [1.0, 0.0, 1.0], "sub/003.png": [1.0, 0.0, 0.0], "002.png": [0.0, 0.0, 0.0]}
    assert all(isinstance(v, float) for row in rows.values() for v in row)


def test_csv_with_bom_crlf_and_windows_separators(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbffile,smiling\r\nsub\\003.png,1\r\n./001.png,0\r\n")
    names, rows = read_attribute_file(path)
    assert names == ["smiling"] and rows == {"sub/003.png": [1.0], "001.png": [0.0]}


def test_celeba_layout(tmp_path):
    path = write(tmp_path / "list_attr_celeba.txt",
                 "3\n"
                 "5_o_Clock_Shadow Arched_Eyebrows Eyeglasses Smiling \n"
                 "000001.jpg -1  1  1 -1\n"
                 "000002.jpg -1 -1 -1  1\n"
                 "000003.jpg  1 -1  1  1\n")
    names, rows = read_attribute_file(path)
    assert names == ["5_o_Clock_Shadow", "Arched_Eyebrows", "Eyeglasses", "Smiling"]
    assert rows == {"000001.jpg": [0.0, 1.0, 1.0, 0.0], "000002.jpg": [0.0, 0.0, 0.0, 1.0],
                    "000003.jpg": [1.0, 0.0, 1.0, 1.0]}


@pytest.mark.parametrize("count", [2, 4])
def test_celeba_count_mismatch(tmp_path, count):
    path = write(tmp_path / "list_attr_celeba.txt",
                 f"{count}\nA B\n1.jpg 1 -1\n2.jpg -1 1\n3.jpg 1 1\n")
    with pytest.raises(UserError, match=f"line 1: says {count} images, but 3 image rows") as info:
        read_attribute_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_folder_with_attribute_file_is_aligned(tmp_path):
    faces(tmp_path)
    text = "file,glasses,male,smiling\n" + "".join(
        f"{name},{','.join(map(str, row))}\n" for name, (_, row) in reversed(IMAGES.items()))
    write(tmp_path / "attributes.csv", text)  # rows in another order than the images
    got = load_image_folder(tmp_path)
    assert got.x[:, 0, 0, 0].tolist() == [10, 20, 30, 40]  # sorted by relative path
    assert got.attr_names == ["glasses", "male", "smiling"]
    assert got.attributes.shape == (4, 3)
    check_aligned(got.x, got.attributes)
    assert got.attr_file == tmp_path / "attributes.csv"
    assert got.y is None and got.skipped == 0


def test_folder_without_attribute_file(tmp_path):
    faces(tmp_path)
    got = load_image_folder(tmp_path)
    assert got.attributes is None and got.attr_names is None and got.attr_file is None
    with pytest.raises(UserError, match="data.attributes is set but .* has no attribute file") as info:
        load_image_folder(tmp_path, attributes=["smiling"])
    assert str(tmp_path) in str(info.value)


def test_class_labels_keep_working_with_attributes(tmp_path):
    save(tmp_path / "cats" / "1.png", gray(10))
    save(tmp_path / "ants" / "1.png", gray(20))
    write(tmp_path / "attributes.csv", "file,fluffy\ncats/1.png,1\nants/1.png,0\n")
    got = load_image_folder(tmp_path)
    assert got.class_names == ["ants", "cats"] and got.y.tolist() == [0, 1]
    assert got.x[:, 0, 0, 0].tolist() == [20, 10] and got.attributes.tolist() == [[0.0], [1.0]]


def test_celeba_file_in_folder(tmp_path):
    for i, pixel in enumerate((5, 6, 7), start=1):
        save(tmp_path / f"00000{i}.jpg", gray(pixel))
    write(tmp_path / "list_attr_celeba.txt",
          "4\nEyeglasses Male Smiling\n"
          "000001.jpg -1  1  1\n000002.jpg  1 -1  1\n000003.jpg -1 -1 -1\n"
          "000004.jpg  1  1  1\n")  # an image the user did not copy: ignored
    got = load_image_folder(tmp_path, attributes=["Smiling", "Eyeglasses"])
    assert got.attr_names == ["Smiling", "Eyeglasses"]
    assert got.attributes.tolist() == [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]


def test_lookup_order_and_file_beside_folder(tmp_path):
    folder = tmp_path / "faces"
    faces(folder)
    assert find_attribute_file(folder) is None
    beside = write(tmp_path / "faces.csv", "file,smiling\n" + "".join(
        f"{name},{row[2]}\n" for name, (_, row) in IMAGES.items()))
    assert find_attribute_file(folder) == beside
    got = load_image_folder(folder)
    assert got.attr_names == ["smiling"] and got.attributes[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    celeba = write(folder / "list_attr_celeba.txt", "0\nA\n")
    assert find_attribute_file(folder) == celeba  # inside the folder wins over beside it
    csv_file = write(folder / "attributes.csv", "file,A\n")
    assert find_attribute_file(folder) == csv_file  # and attributes.csv wins over CelebA's name


def test_beside_folder_given_as_dot(tmp_path, monkeypatch):
    folder = tmp_path / "faces"
    faces(folder)
    beside = write(tmp_path / "faces.csv", "file,a\n")
    monkeypatch.chdir(folder)
    assert find_attribute_file(Path(".")).resolve() == beside


def test_select_attributes():
    names = ["glasses", "male", "smiling"]
    assert select_attributes(names, [], "f.csv") == [0, 1, 2]
    assert select_attributes(names, ["smiling", "glasses"], "f.csv") == [2, 0]
    with pytest.raises(UserError, match="'smilng' is not an attribute in f.csv") as info:
        select_attributes(names, ["smilng"], "f.csv")
    message = str(info.value)
    assert "did you mean 'smiling'" in message and "glasses, male, smiling" in message and "\n" not in message
    with pytest.raises(UserError, match="twice"):
        select_attributes(names, ["male", "male"], "f.csv")


def test_unknown_name_lists_a_truncated_list():
    names = [f"attr{i:02d}" for i in range(40)]
    with pytest.raises(UserError) as info:
        select_attributes(names, ["nope"], "list_attr_celeba.txt")
    message = str(info.value)
    assert "attr00, attr01" in message and "attr11, ... (40 in all)" in message and "attr12" not in message
    assert "list_attr_celeba.txt" in message


def test_selection_through_load_image_folder(tmp_path):
    faces(tmp_path)
    write(tmp_path / "attributes.csv", "file,glasses,male,smiling\n" + "".join(
        f"{name},{','.join(map(str, row))}\n" for name, (_, row) in IMAGES.items()))
    got = load_image_folder(tmp_path, attributes=["smiling", "glasses"])
    assert got.attr_names == ["smiling", "glasses"]
    check_aligned(got.x, got.attributes, {p: [r[2], r[0]] for p, r in PIXEL_TO_ROW.items()})
    with pytest.raises(UserError, match="'beard' is not an attribute in") as info:
        load_image_folder(tmp_path, attributes=["beard"])
    assert str(tmp_path / "attributes.csv") in str(info.value)


BAD_FILES = {
    "wrong field count": ("file,a,b\n1.png,1,0\n2.png,1\n", "line 3: 2 fields, but the header has 3"),
    "non-binary value": ("file,a,smiling\n\n1.png,1,yes\n",
                         "line 3: value 'yes' for 'smiling' is not 0, 1 or -1; use 0/1"),
    "two": ("file,a\n1.png,2\n", "line 2: value '2' for 'a' is not 0, 1 or -1"),
    "nan": ("file,a\n1.png,nan\n", "line 2: value 'nan'"),
    "duplicate names": ("file,a,b,a\n1.png,1,0,1\n", "line 1: attribute 'a' appears twice"),
    "duplicate files": ("file,a\n1.png,1\nsub/2.png,0\n1.png,0\n",
                        "line 4: '1.png' already has a row \\(line 2\\)"),
    "no attribute columns": ("file\n1.png\n", "line 1: no attribute columns"),
    "space separated csv": ("file a b\n1.png 1 0\n", "line 1: the header has one column; separate"),
    "empty name": ("file,a,,b\n1.png,1,0,1\n", "line 1: attribute column 3 has no name"),
    "no header": ("1.png,1,0\n2.png,0,1\n", "line 1: the first row names an image"),
    "empty file name": ("file,a\n ,1\n", "line 2: the file name"),
    "empty": ("", "is empty"),
    "blank": ("\n  \n\n", "is empty"),
    "celeba no names": ("2\n", "line 1: the number of images is not followed"),
    "celeba names missing": ("1\n1.jpg 1 -1\n", "line 2: expected the line of attribute names"),
    "celeba wrong field count": ("2\nA B\n1.jpg 1 -1\n2.jpg 1\n", "line 4: 2 fields, but line 2 names 2"),
    "celeba bad value": ("1\nA B\n1.jpg 1 0.5\n", "line 3: value '0.5' for 'B'"),
    "celeba duplicate names": ("1\nA A\n1.jpg 1 1\n", "line 2: attribute 'A' appears twice"),
    "celeba duplicate files": ("2\nA\n1.jpg 1\n1.jpg 1\n", "line 4: '1.jpg' already has a row"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_attribute_files(tmp_path, case):
    text, pattern = BAD_FILES[case]
    path = write(tmp_path / "attributes.csv", text)
    with pytest.raises(UserError, match=pattern) as info:
        read_attribute_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_undecodable_and_unreadable_files(tmp_path):
    path = tmp_path / "attributes.csv"
    path.write_bytes(b"file,a\n1.png,1\n\xff\xfe2.png,0\n")
    with pytest.raises(UserError, match="line 3: the attribute file is not UTF-8") as info:
        read_attribute_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(UserError, match="cannot be read") as info:
        read_attribute_file(folder)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UserError, match="cannot be read"):
        read_attribute_file(tmp_path / "missing.csv")


lines = st.lists(st.one_of(
    st.sampled_from(["file,a,b", "3", "A B", "1.png,1,0", "1.jpg 1 -1", "2.png,-1,1", "", "  ", "x,,y"]),
    st.text(alphabet=",; -01\t\"xa.png\r\\", max_size=12)), max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=lines.map("\n".join), junk=st.binary(max_size=8))
def test_any_attribute_file_is_read_or_refused(tmp_path, text, junk):
    path = tmp_path / "attributes.csv"
    path.write_bytes(text.encode() + junk)
    try:
        names, rows = read_attribute_file(path)
    except UserError as e:
        assert str(path) in str(e) and "\n" not in str(e)
    else:
        assert names and len(set(names)) == len(names)
        assert all(len(r) == len(names) and set(r) <= {0.0, 1.0} for r in rows.values())


def test_bad_file_in_folder_fails_before_decoding(tmp_path):
    faces(tmp_path)
    write(tmp_path / "attributes.csv", "file,a\n001.png,maybe\n")
    with pytest.raises(UserError, match="line 2: value 'maybe'"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("on_bad_file", ["error", "skip"])
def test_image_without_row_is_an_error(tmp_path, on_bad_file):
    faces(tmp_path)
    write(tmp_path / "attributes.csv", "file,a\n001.png,1\n002.png,0\nsub/004.png,1\n")
    with pytest.raises(UserError, match="no row for this image") as info:
        load_image_folder(tmp_path, on_bad_file=on_bad_file)
    message = str(info.value)
    assert str(tmp_path / "sub" / "003.png") in message and str(tmp_path / "attributes.csv") in message
    assert "sub/003.png,..." in message and "\n" not in message


def test_rows_without_images_are_ignored(tmp_path):
    faces(tmp_path)
    write(tmp_path / "attributes.csv", "file,a,b\n" + "".join(
        f"{name},{row[0]},{row[2]}\n" for name, (_, row) in IMAGES.items())
        + "gone.png,1,1\nsub/gone.jpg,0,0\n003.png,1,1\n")  # 003.png is sub/003.png, not this one
    got = load_image_folder(tmp_path)
    assert got.attributes.shape == (4, 2)
    check_aligned(got.x, got.attributes, {p: [r[0], r[2]] for p, r in PIXEL_TO_ROW.items()})


def test_skipped_bad_files_keep_attributes_aligned(tmp_path):
    faces(tmp_path)
    (tmp_path / "0-empty.png").write_bytes(b"")  # sorted first: a skipped file before the good ones
    (tmp_path / "sub" / "0035-text.png").write_text("not an image")  # and one in the middle
    # The bad files need no row: only images kept need one.
    write(tmp_path / "attributes.csv", "file,glasses,male,smiling\n0-empty.png,1,1,1\n" + "".join(
        f"{name},{','.join(map(str, row))}\n" for name, (_, row) in IMAGES.items()))
    got = load_image_folder(tmp_path, on_bad_file="skip")
    assert got.skipped == 2 and got.x[:, 0, 0, 0].tolist() == [10, 20, 30, 40]
    check_aligned(got.x, got.attributes)
    with pytest.raises(UserError, match="data.on_bad_file=skip"):
        load_image_folder(tmp_path)


def test_load_dataset_with_attributes(tmp_path):
    faces(tmp_path)
    write(tmp_path / "attributes.csv", "file,glasses,male,smiling\n" + "".join(
        f"{name},{','.join(map(str, row))}\n" for name, (_, row) in IMAGES.items()))
    ds = load_dataset(str(tmp_path), resolution=4, channels=3)
    assert ds.x.shape == (4, 3, 4, 4)
    assert ds.attributes.dtype == torch.float32 and ds.attributes.shape == (4, 3)
    assert ds.attr_names == ["glasses", "male", "smiling"]
    check_aligned(ds.x, ds.attributes)
    assert set(ds.attributes.unique().tolist()) == {0.0, 1.0}
    picked = load_dataset(str(tmp_path), attributes=["male"])
    assert picked.attr_names == ["male"] and picked.attributes[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert load_dataset(str(tmp_path), attributes=[]).attributes.shape == (4, 3)


def test_load_dataset_attributes_without_file(tmp_path):
    faces(tmp_path)
    ds = load_dataset(str(tmp_path))
    assert ds.attributes is None and ds.attr_names is None
    with pytest.raises(UserError, match="data.attributes is set but .* has no attribute file; put "
                                        "attributes.csv") as info:
        load_dataset(str(tmp_path), attributes=["x"])
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UserError, match="data.attributes is set but toy-ring has no attribute file"):
        load_dataset("toy-ring", attributes=["x"])
    toy = load_dataset("toy-ring", n_toy=10)
    assert toy.attributes is None and toy.attr_names is None
