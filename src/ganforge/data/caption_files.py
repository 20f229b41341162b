"""Users' own captions beside an image folder, for the text2image family.

Two layouts, looked for in this order:
- captions.csv in the folder: a header row `file,caption`, then one row per caption, `file` the image's path
  relative to the folder ("/" separators); an image may have several rows (several captions);
- a .txt file beside an image, with the image's name and the .txt suffix (photo.png -> photo.txt): one caption
  per line, blank lines skipped.
Every image kept for training needs at least one caption; a row for an image that is not in the folder is
ignored. A caption is read as lower-case words (data/captions.words_of): any language written in letters and
digits works, punctuation separates words.

The dataset keeps each distinct caption once (`caption_texts`, in order of first appearance) and, per image,
the indices of its captions (int64 N x K, K the most captions of one image, padded with -1), so that batches
carry them as a tensor and a run's folder carries the captions it can draw from.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from ganforge.data.attributes import image_key
from ganforge.data.captions import words_of
from ganforge.errors import UserError

CAPTIONS_CSV = "captions.csv"


def read_caption_files(root: Path, paths: list[Path]) -> tuple[Path | None, list[list[str] | None] | None]:
    """(the captions.csv read or None for .txt files, the captions of each path: None for an image without
    any); (None, None) when the folder has neither layout."""
    table = root / CAPTIONS_CSV
    if table.is_file():
        by_key = _read_csv(table)
        return table, [by_key.get(image_key(p.relative_to(root).as_posix())) for p in paths]
    beside = [p.with_suffix(".txt") for p in paths]
    if not any(t.is_file() for t in beside):
        return None, None
    captions = []
    for text_file in beside:
        if not text_file.is_file():
            captions.append(None)
            continue
        lines = [line.strip() for line in _read(text_file).splitlines() if line.strip()]
        for line in lines:
            _check_words(line, text_file)
        captions.append(lines or None)
    return None, captions


def caption_source(root: Path, paths: list[Path]) -> str | None:
    """Where the folder `root` (holding the images `paths`) keeps captions, as a note names it: "captions.csv",
    ".txt files beside the images", or None; nothing is read or checked."""
    if (root / CAPTIONS_CSV).is_file():
        return CAPTIONS_CSV
    return ".txt files beside the images" if any(p.with_suffix(".txt").is_file() for p in paths) else None


def missing_caption(path: Path, root: Path, table: Path | None) -> UserError:
    """The message for an image without a caption."""
    if table is not None:
        return UserError(f"{path}: no caption for this image in {table}; add a row "
                         f"{path.relative_to(root).as_posix()},<caption> or move the image out of the folder")
    return UserError(f"{path}: no caption for this image; write one in {path.with_suffix('.txt')} (one caption a "
                     "line), as beside the other images, or move the image out of the folder")


def index_captions(per_image: list[list[str]]) -> tuple[list[str], torch.Tensor]:
    """(distinct captions in order of first appearance, int64 N x K: each image's caption indices, -1 padded)."""
    position: dict[str, int] = {}
    for captions in per_image:
        for text in captions:
            position.setdefault(text, len(position))
    width = max(len(c) for c in per_image)
    rows = [[position[t] for t in captions] + [-1] * (width - len(captions)) for captions in per_image]
    return list(position), torch.tensor(rows, dtype=torch.int64).reshape(len(per_image), width)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: is not UTF-8 text; save it as UTF-8") from exc


def _check_words(text: str, where: Path, row: int | None = None) -> None:
    if not words_of(text):
        at = f" (row {row})" if row is not None else ""
        raise UserError(f"{where}{at}: the caption {text!r} has no words; write a caption or delete the line")


def _read_csv(path: Path) -> dict[str, list[str]]:
    # newline="": the csv module ends rows at \n, \r\n or a lone \r (old Mac files) and keeps quoted line breaks
    reader = csv.reader(io.StringIO(_read(path), newline=""))
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
