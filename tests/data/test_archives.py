"""Archives as data: a .zip or .tar(.gz) of images reads as the folder it holds, without unpacking it; names that
lead out of it, links, bombs and damage are refused in one line."""

import io
import json
import struct
import tarfile
import tempfile
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from ganforge.data import load_dataset
from ganforge.errors import UserError


def png(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def write_folder(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name), data)
    return path


def write_tar(path, files: dict[str, bytes], mode="w:gz", links: dict[str, str] | None = None):
    with tarfile.open(path, mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            t.addfile(info)
    return path


def labelled_images():
    """Seven 16x12 images in two class folders, gray and colour (a mixed set becomes RGB), each of its own noise."""
    rng = np.random.default_rng(0)
    files = {}
    for i in range(7):
        shape = (12, 16, 3) if i % 3 else (12, 16)
        files[f"{('cats', 'dogs')[i % 2]}/{i}.png"] = png(rng.integers(0, 256, shape, dtype=np.uint8))
    return files


def one_line(info) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


def test_a_zip_and_a_tar_gz_load_to_the_unpacked_folders_tensors(tmp_path):
    files = labelled_images()
    folder = write_folder(tmp_path / "pets", files)
    zipped = write_zip(tmp_path / "pets.zip", {f"pets/{n}": d for n, d in files.items()})  # `zip -r pets.zip pets`
    tarred = write_tar(tmp_path / "pets.tar.gz", {f"./{n}": d for n, d in reversed(files.items())})  # any order
    plain = write_tar(tmp_path / "pets.tar", files, mode="w")
    for resolution, aspect in ((None, "crop"), (8, "crop"), (8, "pad"), (16, "keep")):
        if resolution is None:  # the images' own size, kept
            aspect = "keep"
        want = load_dataset(str(folder), resolution=resolution, aspect=aspect)
        assert want.class_names == ["cats", "dogs"] and want.y.tolist() == [0, 0, 0, 0, 1, 1, 1]
        for archive in (zipped, tarred, plain):
            got = load_dataset(str(archive), resolution=resolution, aspect=aspect)
            assert got.x.dtype == torch.uint8 and torch.equal(got.x, want.x), (archive.name, resolution, aspect)
            assert torch.equal(got.y, want.y) and got.class_names == want.class_names
            assert got.image_sizes == {(16, 12): 7} and got.name == f"folder:{archive}"
    assert load_dataset(str(zipped), resolution=8).x.shape == (7, 3, 8, 8)
    assert load_dataset(str(tarred), resolution=16, aspect="keep").x.shape == (7, 3, 12, 16)


def test_dataset_json_labels_an_archive_over_its_subfolders(tmp_path):
    """StyleGAN's layout: images in subfolders of 1,000 that are no classes, and dataset.json at the top."""
    files = {f"00000/img{i:08d}.png": png(np.full((8, 8), 10 * i, np.uint8)) for i in range(4)}
    labels = [[f"00000/img{i:08d}.png", [2, 0, 2, 1][i]] for i in range(4)]
    files["dataset.json"] = json.dumps({"labels": labels}).encode()
    unpacked = load_dataset(str(write_folder(tmp_path / "faces", files)))
    assert unpacked.y.tolist() == [2, 0, 2, 1] and unpacked.class_names == ["0", "1", "2"]
    for archive in (write_zip(tmp_path / "faces.zip", files), write_tar(tmp_path / "faces.tgz", files)):
        data = load_dataset(str(archive))
        assert torch.equal(data.x, unpacked.x) and torch.equal(data.y, unpacked.y)
        assert data.class_names == unpacked.class_names
        assert data.x[:, 0, 0, 0].tolist() == [0, 10, 20, 30]
        assert data.notes == [(f"{archive}:dataset.json labels the images (3 classes by index); the subfolders "
                               "(00000) are not read as classes: delete dataset.json to label them by subfolder")]
    del files["00000/img00000003.png"]
    files["00000/extra.png"] = png(np.zeros((8, 8), np.uint8))
    with pytest.raises(UserError) as info:
        load_dataset(str(write_zip(tmp_path / "more.zip", files)))
    assert one_line(info).startswith(f"{tmp_path / 'more.zip'}:00000/extra.png: no label for this image in "
                                     f"{tmp_path / 'more.zip'}:dataset.json; add [\"00000/extra.png\", <class>]")


def test_attributes_and_captions_are_read_inside_an_archive(tmp_path):
    files = {"a.png": png(np.zeros((8, 8), np.uint8)), "b.png": png(np.full((8, 8), 9, np.uint8)),
             "attributes.csv": b"file,smiling\na.png,1\nb.png,-1\n", "a.txt": b"a dark square\n",
             "b.txt": b"a light square\n"}
    data = load_dataset(str(write_zip(tmp_path / "sq.zip", files)))
    assert data.attr_names == ["smiling"] and data.attributes.flatten().tolist() == [1.0, 0.0]
    assert data.caption_texts == ["a dark square", "a light square"] and data.captions.tolist() == [[0], [1]]
    (tmp_path / "side.csv").write_text("file,glasses\na.png,0\nb.png,1\n")  # beside the archive, as beside a folder
    del files["attributes.csv"], files["b.txt"]
    data = load_dataset(str(write_tar(tmp_path / "side.tar.gz", files)), captions=False)
    assert data.attr_names == ["glasses"] and data.captions is None
    with pytest.raises(UserError) as info:
        load_dataset(str(tmp_path / "side.tar.gz"))
    assert one_line(info).startswith(f"{tmp_path / 'side.tar.gz'}:b.png: no caption for this image; write one in "
                                     f"{tmp_path / 'side.tar.gz'}:b.txt")


def test_nothing_is_extracted_to_disk(tmp_path, monkeypatch):
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    monkeypatch.setenv("TMPDIR", str(spare))
    files = labelled_images()
    archives = [write_zip(tmp_path / "a.zip", files), write_tar(tmp_path / "a.tar.gz", files)]
    before = sorted(p for p in tmp_path.rglob("*"))
    for archive in archives:
        assert len(load_dataset(str(archive), resolution=8).x) == 7
    assert sorted(p for p in tmp_path.rglob("*")) == before and not any(spare.iterdir())


class Decoded:
    """Counts images Pillow decodes (ImageFile.load), by size."""

    def __init__(self, monkeypatch):
        self.sizes = []
        original = ImageFile.ImageFile.load

        def load(image):
            self.sizes.append(image.size)
            return original(image)

        monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize("name", ["../evil.png", "pics/../../evil.png", "/etc/evil.png", "C:/evil.png",
                                  "..\\evil.png", "../notes.txt"])
def test_a_name_that_leads_out_of_the_archive_refuses_it_before_any_decoding(tmp_path, monkeypatch, name):
    decoded = Decoded(monkeypatch)
    files = {"pics/a.png": png(np.zeros((8, 8), np.uint8)), name: png(np.zeros((8, 8), np.uint8))}
    for archive in (write_zip(tmp_path / "bad.zip", files), write_tar(tmp_path / "bad.tar.gz", files)):
        for skip in ("error", "skip"):
            with pytest.raises(UserError) as info:
                load_dataset(str(archive), on_bad_file=skip)
            assert one_line(info).startswith(f"{archive}:{name}: a member named outside the archive's folder")
    assert decoded.sizes == []


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with one byte of data: Pillow must refuse it unread."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
            + chunk(b"IEND", b""))


def test_a_decompression_bomb_inside_an_archive_is_refused_before_decoding(tmp_path, monkeypatch):
    decoded = Decoded(monkeypatch)
    files = {"big.png": bomb_png(40_000, 40_000), "small.png": png(np.full((8, 8), 7, np.uint8))}
    for archive in (write_zip(tmp_path / "bombs.zip", files), write_tar(tmp_path / "bombs.tar.gz", files)):
        with pytest.raises(UserError) as info:
            load_dataset(str(archive))
        assert one_line(info).startswith(f"{archive}:big.png: too large to decode safely")
        assert "data.on_bad_file=skip" in str(info.value)
        data = load_dataset(str(archive), on_bad_file="skip")
        assert data.x.unique().tolist() == [7] and data.skipped_files[0].startswith("big.png: too large")
    assert (40_000, 40_000) not in decoded.sizes and (8, 8) in decoded.sizes


def test_bad_members_and_links_are_bad_files(tmp_path):
    files = {"pics/good.png": png(np.full((8, 8), 5, np.uint8)), "pics/text.png": b"not an image"}
    archive = write_tar(tmp_path / "pics.tar", files, mode="w", links={"pics/link.png": "good.png"})
    with pytest.raises(UserError) as info:
        load_dataset(str(archive))
    assert one_line(info) == (f"{archive}:pics/text.png: not an image Pillow can read; fix it or take the image out of "
                              "the archive, or pass --set data.on_bad_file=skip to skip bad files")
    data = load_dataset(str(archive), on_bad_file="skip")
    assert len(data.x) == 1 and data.skipped_files == [
        ("link.png: cannot be decoded (a link (pics/link.png) inside the archive, not a file; links in an archive are "
         "not followed)"), "text.png: not an image Pillow can read"]


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz", ".tar"])
def test_a_damaged_archive_is_one_line(tmp_path, suffix):
    files = labelled_images()
    whole = tmp_path / f"whole{suffix}"
    if suffix == ".zip":
        write_zip(whole, files)
    else:
        write_tar(whole, files, mode="w:gz" if suffix == ".tar.gz" else "w")
    data = whole.read_bytes()
    for cut in (len(data) // 2, len(data) - 40, 1536):  # 1536: a tar cut between two members
        damaged = tmp_path / f"cut{suffix}"
        damaged.write_bytes(data[:cut])
        with pytest.raises(UserError) as info:
            load_dataset(str(damaged))
        assert one_line(info).startswith(f"{damaged}: a damaged {'zip' if suffix == '.zip' else 'tar'} archive (")
    (tmp_path / "empty.zip").write_bytes(b"")
    with pytest.raises(UserError, match="empty.zip: a damaged zip archive"):
        load_dataset(str(tmp_path / "empty.zip"))
    with pytest.raises(UserError, match="no images found in the archive"):
        load_dataset(str(write_zip(tmp_path / "notes.zip", {"readme.txt": b"hello"})))


def test_an_image_to_image_layout_in_an_archive_is_refused(tmp_path):
    files = {f"{side}/x.png": png(np.zeros((8, 8), np.uint8)) for side in ("A", "B")}
    with pytest.raises(UserError, match="holds A/ and B/, an image-to-image layout, which ganforge reads from a "
                                        "folder only"):
        load_dataset(str(write_zip(tmp_path / "pairs.zip", files)))
