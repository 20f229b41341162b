"""Users' own captions beside an image folder, for the text2image family.

Two layouts, looked for in this order:
- captions.csv in the folder: a header row `file,caption`, then one row per caption, `file` the image's path
  relative to the folder ("/" separators); an image may have several rows (several captions);
- a .txt file beside an image, with the image's name and the .txt suffix (photo.png -> photo.txt): one caption
  per line, blank lines skipped.
Every image kept for training needs at least one caption; a row for an image that is not in the folder is
ignored. A caption is read as lower-case words (data/captions.words_of): any language written in letters and
digits works, punctuation separates words. An archive of images (data/archives.py) holds its captions the same way.

The dataset keeps each distinct caption once (`caption_texts`, in order of first appearance) and, per image,
the indices of its captions (int64 N x K, K the most captions of one image, padded with -1), so that batches
carry them as a tensor and a run's folder carries the captions it can draw from.
"""

from __future__ import annotations

import csv
import io
import posixpath
from pathlib import Path

import torch

from ganforge.data.archives import ImageTree
from ganforge.data.attributes import image_key
from ganforge.data.captions import words_of
from ganforge.errors import UserError

CAPTIONS_CSV = "captions.csv"


def read_caption_files(tree: ImageTree) -> tuple[Path | str | None, list[list[str] | None] | None]:
    """(where the captions.csv read is, or None for .txt files; the captions of each of the tree's images, None
    for an image without any); (None, None) when the folder has neither layout. `tree`: the folder or archive."""
    data = tree.side(CAPTIONS_CSV)
    if data is not None:
        table = tree.where(CAPTIONS_CSV)
        by_key = _read_csv(table, data)
        return table, [by_key.get(image_key(name)) for name in tree.names]
    beside = [_txt(name) for name in tree.names]
    if not any(tree.has(t) for t in beside):
        return None, None
    captions = []
    for text_file in beside:
        data = tree.side(text_file)
        if data is None:
            captions.append(None)
            continue
        lines = [line.strip() for line in _text(tree.where(text_file), data).splitlines() if line.strip()]
        for line in lines:
            _check_words(line, tree.where(text_file))
        captions.append(lines or None)
    return None, captions


def caption_source(tree: ImageTree) -> str | None:
    """Where the folder or archive `tree` keeps captions, as a note names it: "captions.csv", ".txt files beside the
    images", or None; nothing is read or checked."""
    if tree.has(CAPTIONS_CSV):
        return CAPTIONS_CSV
    return ".txt files beside the images" if any(tree.has(_txt(name)) for name in tree.names) else None


def missing_caption(tree: ImageTree, name: str, table: Path | str | None) -> UserError:
    """The message for the image at `name` in `tree`, which has no caption."""
    if table is not None:
        return UserError(f"{tree.where(name)}: no caption for this image in {table}; add a row {name},<caption> or "
                         f"{tree.remedy}")
    return UserError(f"{tree.where(name)}: no caption for this image; write one in {tree.where(_txt(name))} (one "
                     f"caption a line), as beside the other images, or {tree.remedy}")


def _txt(name: str) -> str:
    """The .txt file beside the image at relative path `name` (photo.png -> photo.txt)."""
    return posixpath.splitext(name)[0] + ".txt"


def index_captions(per_image: list[list[str]]) -> tuple[list[str], torch.Tensor]:
    """(distinct captions in order of first appearance, int64 N x K: each image's caption indices, -1 padded)."""
    position: dict[str, int] = {}
    for captions in per_image:
        for text in captions:
            position.setdefault(text, len(position))
    width = max(len(c) for c in per_image)
    rows = [[position[t] for t in captions] + [-1] * (width - len(captions)) for captions in per_image]
    return list(position), torch.tensor(rows, dtype=torch.int64).reshape(len(per_image), width)


def _text(where: Path | str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: is not UTF-8 text; save it as UTF-8") from exc


def _check_words(text: str, where: Path, row: int | None = None) -> None:
    if not words_of(text):
        at = f" (row {row})" if row is not None else ""
        raise UserError(f"{where}{at}: the caption {text!r} has no words; write a caption or delete the line")


def _read_csv(path: Path | str, data: bytes) -> dict[str, list[str]]:
    # newline="": the csv module ends rows at \n, \r\n or a lone \r (old Mac files) and keeps quoted line breaks
    reader = csv.reader(io.StringIO(_text(path, data), newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a field over the csv module's size limit, a NUL in older Pythons
        raise UserError(f"{path} (row {reader.line_num}): not valid CSV ({exc}); fix the row") from exc
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if header[:2] != ["file", "caption"]:
        raise UserError(f"{path}: the first row must be the header file,caption (then one row per caption)")
    by_key: dict[str, list[str]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise UserError(f"{path} (row {number}): needs two columns, file,caption; quote a caption that "
                            "holds a comma")
        text = ",".join(row[1:]).strip()  # an unquoted comma inside the caption: the rest of the row
        _check_words(text, path, number)
        by_key.setdefault(image_key(row[0]), []).append(text)
    if not by_key:
        raise UserError(f"{path}: holds no captions; add rows file,caption")
    return by_key
