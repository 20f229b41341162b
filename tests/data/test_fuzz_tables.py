"""Captions and attribute files of any bytes, fuzzed: quoting, line endings, blank rows, junk cells and
encodings. Whatever the bytes, the reader gives the table written or a UserError of one line naming the file
or its folder, never another exception."""

import csv
import io

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.captions import words_of
from ganforge.errors import UserError

from .test_fuzz_readers import FUZZ, fresh, gradient, refused

# -- captions ----------------------------------------------------------------------------------------------

IMAGE_NAMES = ["a.png", "sub/b.png"]
GOOD_CAPTIONS = [["a.png", "a red dress"], ["sub/b.png", "a blue coat, with buttons"]]
CELLS = st.one_of(
    st.sampled_from(["a.png", "./a.png", "sub\\b.png", " sub/b.png ", "missing.png", "", "file", "caption",
                     "a red dress", "!!!", "dress, red", 'a "quoted" word', "café au lait", "two\nlines",
                     "naïve 日本", "\ufeff", "\x00", "\r"]),
    st.text(max_size=8),
)
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]


def write_table(rows: list[list[str]], quoted: bool, newline: str, encoding: str) -> bytes:
    """rows as CSV text in `encoding` (characters it lacks replaced): quoted as the csv module does, or the
    cells joined with commas as a hand-written file has them."""
    if quoted:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=newline).writerows(rows)
        text = buf.getvalue()
    else:
        text = "".join(",".join(row) + newline for row in rows)
    return text.encode(encoding, errors="replace")


@FUZZ
@given(header=st.sampled_from([["file", "caption"], [" File ", "CAPTION"], ["caption", "file"], []]),
       good=st.booleans(), junk=st.lists(st.lists(CELLS, max_size=3), max_size=3), blank=st.booleans(),
       quoted=st.booleans(), newline=st.sampled_from(["\n", "\r\n", "\r"]), encoding=st.sampled_from(ENCODINGS),
       noise=st.none() | st.binary(max_size=40), beside=st.booleans())
def test_captions_of_any_bytes_are_read_or_refused(tmp_path, header, good, junk, blank, quoted, newline, encoding,
                                                   noise, beside):
    folder = fresh(tmp_path, "captioned")
    for i, name in enumerate(IMAGE_NAMES):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient(40 * i)).save(folder / name)
    rows = (GOOD_CAPTIONS if good else []) + ([[]] if blank else []) + junk
    if beside:  # a .txt beside each image: its caption (when good), then the junk's cells, one a line
        lines = [[cell] for row in junk for cell in row]
        for name, caption in GOOD_CAPTIONS:
            data = noise if noise is not None else write_table([[caption]] * good + lines, False, newline, encoding)
            (folder / name).with_suffix(".txt").write_bytes(data)
    else:
        data = noise if noise is not None else write_table([header, *rows], quoted, newline, encoding)
        (folder / "captions.csv").write_bytes(data)
    clean = (good and not junk and noise is None and encoding != "utf-16"  # the good captions are ASCII
             and (beside or header in (["file", "caption"], [" File ", "CAPTION"])))
    try:
        ds = load_dataset(str(folder))
    except UserError as e:
        refused(e, folder)
        assert not clean, str(e)
    else:
        assert ds.captions.dtype == torch.int64 and ds.captions.shape[0] == len(IMAGE_NAMES)
        assert ((ds.captions >= 0).sum(1) >= 1).all() and int(ds.captions.max()) < len(ds.caption_texts)
        assert all(words_of(text) for text in ds.caption_texts)
        if clean:
            assert ds.caption_texts == [text for _, text in GOOD_CAPTIONS]


# -- attribute files ---------------------------------------------------------------------------------------

ATTRIBUTE_NAMES = ["smiling", "lächelnd"]  # one name outside ASCII: an encoding is needed to read it
ATTRIBUTE_JUNK = st.one_of(
    st.sampled_from(["", "  ", '""', ",", ",,", "a.png,1,0", "a.png 1 -1", "b.png,2,0", "file,x,x", "3",
                     "\ufeff", "\x00", '"a.png,1', "b.png,1,0,1", "\\b.png,0,1"]),
    st.text(alphabet=",; -01\t\"ab.png\r\n\\ä", max_size=12),
)

HOLLOW = ['""', ",", ",,", '"",""', " , ", "", "\t"]  # not blank lines, yet only empty fields


@FUZZ
@given(values=st.lists(st.lists(st.sampled_from([0, 1]), min_size=2, max_size=2), min_size=2, max_size=2),
       celeba=st.booleans(), minus_one=st.booleans(), junk=st.lists(ATTRIBUTE_JUNK, max_size=3),
       junk_at=st.integers(0, 4), hollow=st.none() | st.lists(st.sampled_from(HOLLOW), min_size=1, max_size=3),
       encoding=st.sampled_from(ENCODINGS), noise=st.none() | st.binary(max_size=40),
       place=st.sampled_from(["attributes.csv", "list_attr_celeba.txt", "beside"]))
def test_attribute_files_of_any_bytes_are_read_or_refused(tmp_path, values, celeba, minus_one, junk, junk_at,
                                                          hollow, encoding, noise, place):
    folder = fresh(tmp_path, "faces")
    names = ["a.png", "b.png"]
    for i, name in enumerate(names):
        Image.fromarray(np.full((8, 8), 10 + 100 * i, np.uint8)).save(folder / name)
    spell = {0: "-1" if minus_one else "0", 1: "1"}
    if celeba:
        lines = [str(len(names)), " ".join(ATTRIBUTE_NAMES)]
        lines += [f"{name} " + "  ".join(spell[v] for v in row) for name, row in zip(names, values)]
    else:
        lines = [",".join(["file", *ATTRIBUTE_NAMES])]
        lines += [",".join([name, *(spell[v] for v in row)]) for name, row in zip(names, values)]
    lines[junk_at:junk_at] = junk
    if hollow is not None:  # no header or rows: lines that are not blank, yet hold only empty fields
        lines = hollow + junk
    data = noise if noise is not None else "\n".join(lines).encode(encoding, errors="replace")
    path = tmp_path / "faces.csv" if place == "beside" else folder / place
    (tmp_path / "faces.csv").unlink(missing_ok=True)
    path.write_bytes(data)
    clean = not junk and hollow is None and noise is None and encoding.startswith("utf-8")
    try:
        ds = load_dataset(str(folder))
    except UserError as e:
        refused(e, tmp_path)
        assert not clean, str(e)
    else:
        assert ds.attributes.dtype == torch.float32 and ds.attributes.shape == (2, len(ds.attr_names))
        assert set(ds.attributes.flatten().tolist()) <= {0.0, 1.0}
        if clean:
            assert ds.attr_names == ATTRIBUTE_NAMES and ds.attributes.tolist() == values
