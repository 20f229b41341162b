"""Binary attributes per image ("glasses=1, male=0, smiling=1"), read from a file beside an image folder.

Where the file is looked for, in this order (see find_attribute_file):
- attributes.csv inside the folder;
- list_attr_celeba.txt inside the folder (CelebA's own file, as distributed);
- <folder name>.csv beside the folder (faces/ and faces.csv).

Two layouts (see read_attribute_file):
- CSV with a header row: the first column names the image by its path relative to the folder ("001.png",
  "sub/001.png"; its header can be anything), the other columns are attributes with values 0/1 or -1/1;
- CelebA's list_attr_celeba.txt: the number of images, a line of attribute names, then one whitespace
  separated line per image ("000001.jpg -1  1  1 -1 ...").
-1 means 0 (absent), as in CelebA. Values come out as floats 0.0 / 1.0.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path

from ganforge.errors import UserError

ATTRIBUTE_FILES = ("attributes.csv", "list_attr_celeba.txt")  # looked for inside the image folder
# Values as written in the files -> 0/1; anything else goes through float() (so "1.0" works too).
_VALUES = {"1": 1.0, "0": 0.0, "-1": 0.0, "+1": 1.0}
_FLOAT_VALUES = {1.0: 1.0, 0.0: 0.0, -1.0: 0.0}
NAMES_SHOWN = 12  # attribute names listed in an error message before "..."


def find_attribute_file(folder: Path) -> Path | None:
    """The attribute file of an image folder: attributes.csv or list_attr_celeba.txt inside it, else
    <folder name>.csv beside it; None if there is none."""
    folder = Path(folder)
    for name in ATTRIBUTE_FILES:
        if (folder / name).is_file():
            return folder / name
    # "." and the like have no name of their own: use the resolved folder's.
    named = folder if folder.name else folder.resolve()
    if named.name:
        beside = named.with_name(named.name + ".csv")
        if beside.is_file():
            return beside
    return None


def read_attribute_file(path: Path | str, data: bytes | None = None) -> tuple[list[str], dict[str, list[float]]]:
    """Attribute names, and a map from each image's path relative to the image folder (POSIX separators,
    "sub/001.png" or "001.png") to its values as 0.0/1.0 floats. The layout (CSV with a header, or
    CelebA's list_attr_celeba.txt) is detected from the first non-blank line. Raises UserError with one
    line naming the file and line for any problem. `data`: the file's bytes, already read (from an archive:
    `path` then only names it)."""
    text = _read_text(Path(path)) if data is None else _decode(path, data)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise UserError(f"{path}: the attribute file is empty; write a header row file,name1,name2,... and "
                        "one row per image (file name, then 0 or 1 per attribute), or delete it")
    tokens = first.split()
    if len(tokens) == 1 and _is_count(tokens[0]):
        return _read_celeba(path, lines)
    return _read_csv(path, text)


def select_attributes(names: list[str], wanted: list[str], path: Path) -> list[int]:
    """Column indices of the `wanted` attribute names, in the order of `wanted` (all columns when it is
    empty). An unknown or repeated name is a UserError naming the file and listing the names it has."""
    if not wanted:
        return list(range(len(names)))
    index = {name: i for i, name in enumerate(names)}
    seen: set[str] = set()
    picked = []
    for name in wanted:
        if name in seen:
            raise UserError(f"data.attributes names {name!r} twice; list each attribute once")
        seen.add(name)
        if name not in index:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(names[:NAMES_SHOWN])
            if len(names) > NAMES_SHOWN:
                shown += f", ... ({len(names)} in all)"
            raise UserError(f"data.attributes: {name!r} is not an attribute in {path}{hint}; it has: {shown}; "
                            "fix the name or leave data.attributes empty to use them all")
        picked.append(index[name])
    return picked


def image_key(relative: str) -> str:
    """How an attribute file names an image: the path relative to the folder with "/" separators
    (backslashes, as Windows tools write them, and a leading "./" are accepted)."""
    key = relative.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: the attribute file cannot be read ({exc.strerror or exc}); check that it is "
                        "a readable file") from exc
    return _decode(path, data)


def _decode(path: Path | str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a BOM, as spreadsheet programs write, is dropped
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: the attribute file is not UTF-8 text (byte {exc.start}); save "
                        "it as UTF-8 (plain text or CSV)") from exc


def _is_count(token: str) -> bool:
    return token.isascii() and token.isdigit()


def _value(field: str) -> float | None:
    """0.0 or 1.0 for a binary value (0, 1, -1 meaning 0), None for anything else."""
    v = _VALUES.get(field)
    if v is not None:
        return v
    try:
        return _FLOAT_VALUES.get(float(field))
    except ValueError:
        return None


def _looks_like_row(fields: list[str]) -> bool:
    """Whether a line meant as the attribute names is an image's row instead (all values binary)."""
    return len(fields) > 1 and all(_value(f) is not None for f in fields[1:])


def _bad_value(path: Path, line: int, field: str, name: str) -> UserError:
    shown = field if len(field) <= 40 else field[:37] + "..."
    return UserError(f"{path} line {line}: value {shown!r} for {name!r} is not 0, 1 or -1; use 0/1 "
                     "(or -1/1 as in CelebA)")


def _check_names(path: Path, line: int, names: list[str]) -> None:
    if not names:
        raise UserError(f"{path} line {line}: no attribute columns, only the file name; add one column per "
                        "attribute after it (file,name1,name2,... separated by commas)")
    for i, name in enumerate(names):
        if not name:
            raise UserError(f"{path} line {line}: attribute column {i + 2} has no name; name every column "
                            "of the header row")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"{path} line {line}: attribute {name!r} appears twice in the header; give each "
                            "attribute column a different name")
        seen.add(name)


def _add_row(path: Path, line: int, rows: dict[str, list[float]], first_line: dict[str, int], file: str,
             fields: list[str], names: list[str]) -> None:
    """Parse one image's row into rows[file]."""
    key = image_key(file)
    if not key:
        raise UserError(f"{path} line {line}: the file name (first column) is empty; give the image's path "
                        "relative to the image folder")
    if key in rows:
        raise UserError(f"{path} line {line}: {key!r} already has a row (line {first_line[key]}); keep one "
                        "row per image")
    get = _VALUES.get
    values = [get(f) for f in fields]  # the common spellings; the rest ("1.0", ...) through _value
    if None in values:
        values = [_value(f) for f in fields]
        if None in values:
            i = values.index(None)
            raise _bad_value(path, line, fields[i], names[i])
    rows[key] = values
    first_line[key] = line


def _read_csv(path: Path, text: str) -> tuple[list[str], dict[str, list[float]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    names: list[str] | None = None
    rows: dict[str, list[float]] = {}
    first_line: dict[str, int] = {}
    try:
        for record in reader:
            fields = [f.strip() for f in record]
            if not any(fields):
                continue  # a blank line
            line = reader.line_num
            if names is None:
                if _looks_like_row(fields):
                    raise UserError(f"{path} line {line}: the first row names an image ({fields[0]!r}), but "
                                    "it must be the header; add a header row file,name1,name2,... above it")
                if len(fields) == 1 and len(fields[0].split()) > 1:
                    raise UserError(f"{path} line {line}: the header has one column; separate the columns "
                                    "with commas (file,name1,name2,...)")
                names = fields[1:]
                _check_names(path, line, names)
                continue
            if len(fields) != len(names) + 1:
                raise UserError(f"{path} line {line}: {len(fields)} fields, but the header has "
                                f"{len(names) + 1} (the file name and {len(names)} attributes); give every "
                                "row a file name and one value per attribute")
            _add_row(path, line, rows, first_line, fields[0], fields[1:], names)
    except csv.Error as exc:
        raise UserError(f"{path} line {reader.line_num}: not valid CSV ({exc}); fix the row") from exc
    if names is None:  # non-blank lines, yet every field empty once parsed ('""' or ',,')
        raise UserError(f"{path}: the attribute file has no header row, only empty fields; write a header row "
                        "file,name1,name2,... and one row per image (file name, then 0 or 1 per attribute)")
    return names, rows


def _read_celeba(path: Path, lines: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    """CelebA's list_attr_celeba.txt: a count, a line of names, then "file v1 v2 ..." per image."""
    numbered = [(i + 1, line.split()) for i, line in enumerate(lines) if line.strip()]
    (count_line, (count_text,)), rest = numbered[0], numbered[1:]
    count = int(count_text)
    if not rest:
        raise UserError(f"{path} line {count_line}: the number of images is not followed by the line of "
                        "attribute names; write the names (separated by spaces) on the next line, as in "
                        "CelebA's list_attr_celeba.txt")
    names_line, names = rest[0]
    if _looks_like_row(names):
        raise UserError(f"{path} line {names_line}: expected the line of attribute names after the number of "
                        f"images, found an image row ({names[0]!r}); add the names line, as in CelebA's "
                        "list_attr_celeba.txt")
    _check_names(path, names_line, names)
    rows: dict[str, list[float]] = {}
    first_line: dict[str, int] = {}
    for line, fields in rest[1:]:
        if len(fields) != len(names) + 1:
            raise UserError(f"{path} line {line}: {len(fields)} fields, but line {names_line} names "
                            f"{len(names)} attributes; give every row a file name and one value (1 or -1) per "
                            "attribute, separated by spaces")
        _add_row(path, line, rows, first_line, fields[0], fields[1:], names)
    if len(rest) - 1 != count:
        raise UserError(f"{path} line {count_line}: says {count} images, but {len(rest) - 1} image rows "
                        "follow; fix the number, or get the file again if it was cut short")
    return names, rows
