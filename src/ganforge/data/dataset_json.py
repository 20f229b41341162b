"""StyleGAN's dataset.json: class labels at the top of an image folder or archive.

StyleGAN's dataset tool writes `{"labels": [["00000/img00000000.png", 6], ...]}` beside the images (each path
relative to the folder, "/" separators) or `{"labels": null}` for unlabelled data. A label is a class index (a
whole number, 0 or more); the classes are named by their index ("0", "1", ...). Vector labels (StyleGAN also
reads rows of floats) are refused: binary attributes per image go in attributes.csv (attributes.py).

Its labels win over class subfolders: StyleGAN's own layout puts the images in subfolders of 1,000 (00000/,
00001/, ...) that are not classes. The loader says so in a note where both are there.
"""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.data.attributes import image_key
from ganforge.errors import UserError

DATASET_JSON = "dataset.json"
MAX_CLASSES = 100_000  # class indices are one-hot encoded for conditioning: a typo of 10**9 must not be


def read_labels(where: Path | str, data: bytes) -> dict[str, int] | None:
    """Image path (as attributes.image_key writes it) -> class index, from dataset.json's bytes; None for
    `"labels": null`. Anything else than StyleGAN's layout is a UserError naming `where` and the entry."""
    layout = 'write {"labels": [["path/of/image.png", class index], ...]} (StyleGAN\'s layout)'
    try:
        tree = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: is not UTF-8 text; save it as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it, or "
                        "delete it to label the images by subfolder") from exc
    if not isinstance(tree, dict) or "labels" not in tree:
        raise UserError(f"{where}: has no \"labels\" key; {layout}")
    labels = tree["labels"]
    if labels is None:
        return None
    if not isinstance(labels, list):
        raise UserError(f"{where}: \"labels\" must be a list of [path, class] pairs or null; {layout}")
    found: dict[str, int] = {}
    first: dict[str, int] = {}
    for number, entry in enumerate(labels, 1):
        at = f"{where} (label {number})"
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise UserError(f"{at}: {_short(entry)} is not a [path, class] pair; {layout}")
        path, label = entry
        if isinstance(label, list):
            raise UserError(f"{at}: {_short(label)} is a vector; ganforge reads class indices from dataset.json: "
                            "put 0/1 attributes per image in attributes.csv instead")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < MAX_CLASSES:
            raise UserError(f"{at}: the class of {path!r} must be a whole number from 0 to {MAX_CLASSES - 1:,}, got "
                            f"{_short(label)}")
        key = image_key(path)
        if key in found:
            raise UserError(f"{at}: {key!r} is labelled twice (labels {first[key]} and {number}); keep one")
        found[key], first[key] = label, number
    return found


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
