"""Users' own captions beside an image folder: captions.csv (several per image) or a .txt per image, what a
dataset keeps of them, and the one-line messages for what is missing or malformed."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import runs
from ganforge.config import load_config
from ganforge.data.caption_files import index_captions
from ganforge.data.registry import load_dataset
from ganforge.data.spec import data_spec, describe_data, spec_from_description
from ganforge.errors import UserError
from ganforge.training.resident import make_resident


def images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 20 * i, np.uint8)).save(path)
    return folder


def test_index_captions_keeps_each_caption_once_in_order_of_appearance():
    texts, index = index_captions([["a red cup"], ["a blue cup", "a red cup"], ["a tall cup"]])
    assert texts == ["a red cup", "a blue cup", "a tall cup"]
    assert index.tolist() == [[0, -1], [1, 0], [2, -1]]


def test_captions_csv_with_several_captions_per_image(tmp_path):
    root = images(tmp_path / "cups", ["a.png", "b.png", "sub/c.png"])
    (root / "captions.csv").write_text('file,caption\na.png,a red cup\nsub/c.png,"a cup, tall and blue"\n'
                                       "b.png,a blue cup\n./a.png,a small red cup\nother.png,ignored\n\n")
    data = load_dataset(str(root))
    # files sorted by relative path (a.png, b.png, sub/c.png), each image's captions in the file's order
    assert data.caption_texts == ["a red cup", "a small red cup", "a blue cup", "a cup, tall and blue"]
    assert data.captions.tolist() == [[0, 1], [2, -1], [3, -1]]
    assert data.x[:, 0, 0, 0].tolist() == [0, 20, 40]
    spec = data_spec(data)
    assert spec.captions == tuple(data.caption_texts)
    assert spec_from_description(describe_data(data)).captions == spec.captions  # run.json keeps them


def test_txt_file_beside_each_image(tmp_path):
    root = images(tmp_path / "cups", ["a.png", "b.png"])
    (root / "a.txt").write_text("a red cup\n\n  a small red cup  \n")
    (root / "b.txt").write_text("a blue cup\n")
    data = load_dataset(str(root))
    assert data.caption_texts == ["a red cup", "a small red cup", "a blue cup"]
    assert data.captions.tolist() == [[0, 1], [2, -1]]


def test_a_folder_without_captions_has_none(tmp_path):
    data = load_dataset(str(images(tmp_path / "plain", ["a.png", "b.png"])))
    assert data.captions is None and data.caption_texts is None and data_spec(data).captions == ()
    assert "caption" not in make_resident(data, None, torch.device("cpu"), 0).next_batch(2)


@pytest.mark.parametrize(("files", "message"), [
    ({"captions.csv": "file,caption\na.png,a red cup\n"},
     r"b\.png: no caption for this image in .*captions\.csv; add a row b\.png,<caption>"),
    ({"a.txt": "a red cup\n"}, r"b\.png: no caption for this image; write one in .*b\.txt"),
    ({"a.txt": "a red cup\n", "b.txt": "\n\n"}, r"b\.png: no caption"),
    ({"captions.csv": "name,text\na.png,a red cup\n"}, "the first row must be the header file,caption"),
    ({"captions.csv": "file,caption\na.png,a red cup\nb.png,...\n"}, r"\(row 3\): the caption '...' has no words"),
    ({"captions.csv": "file,caption\na.png\n"}, r"\(row 2\): needs two columns"),
    ({"captions.csv": "file,caption\n"}, "holds no captions"),
])
def test_what_is_missing_or_malformed_is_named(tmp_path, files, message):
    root = images(tmp_path / "cups", ["a.png", "b.png"])
    for name, text in files.items():
        (root / name).write_text(text)
    with pytest.raises(UserError, match=message):
        load_dataset(str(root))


def test_captions_follow_their_images_through_subsets_and_batches(tmp_path):
    root = images(tmp_path / "cups", [f"{i}.png" for i in range(6)])
    (root / "captions.csv").write_text("file,caption\n" + "".join(f"{i}.png,cup number {i}\n" for i in range(6)))
    data = load_dataset(str(root))
    kept = runs.holdout(data, 2, keep="train")
    assert kept.captions.tolist() == [[0], [1], [2], [3]]
    batch = make_resident(kept, None, torch.device("cpu"), 0).next_batch(4)
    # each image's caption index travels with it: image i is filled with 20 i
    shade = ((batch.x[:, 0, 0, 0] + 1) * 127.5).round().long()
    assert (shade == 20 * batch.caption[:, 0]).all()


def test_text2image_refuses_a_folder_without_captions_and_a_single_caption(tmp_path):
    from ganforge.families import build_family

    plain = images(tmp_path / "plain", ["a.png", "b.png"])
    cfg = load_config("text2image-fashion", [f"data.name={plain}"])
    with pytest.raises(UserError, match="captions.csv"):
        build_family(cfg, data_spec(runs.load_data(cfg)))
    same = images(tmp_path / "same", ["a.png", "b.png"])
    (same / "captions.csv").write_text("file,caption\na.png,a cup\nb.png,a cup\n")
    cfg = load_config("text2image-fashion", [f"data.name={same}"])
    with pytest.raises(UserError, match="the same caption"):
        build_family(cfg, data_spec(runs.load_data(cfg)))


@pytest.mark.parametrize(("files", "source"), [
    ({"captions.csv": "file,caption\na.png,a red cup\n"}, "captions.csv"),
    ({"a.txt": "a red cup\n"}, ".txt files beside the images"),
    ({}, None),
])
def test_a_family_that_reads_no_captions_needs_none_and_the_note_names_where_they_are(tmp_path, files, source):
    from ganforge.data.archives import open_tree
    from ganforge.data.caption_files import caption_source

    root = images(tmp_path / "cups", ["a.png", "b.png"])
    for name, text in files.items():
        (root / name).write_text(text)
    assert caption_source(open_tree(root)) == source
    # b.png has no caption: only a family that reads captions refuses the folder for it
    data = load_dataset(str(root), captions=False)
    assert data.captions is None and data.caption_texts is None and len(data.x) == 2
    if source:
        with pytest.raises(UserError, match="b.png: no caption"):
            load_dataset(str(root))
