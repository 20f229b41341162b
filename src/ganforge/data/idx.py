"""The IDX format of MNIST and Fashion-MNIST: reading single files and finding them in a folder.

An IDX file is a 4-byte magic number (0x00 0x00 <dtype> <ndim>), then ndim big-endian uint32
dimensions, then the values in big-endian order. Files may be gzip-compressed (recognised from the
gzip magic bytes, so the name does not matter).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import UserError

# IDX type byte -> big-endian numpy dtype of the stored values.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path: str | Path) -> bytes:
    """The IDX payload of `path`: the file's bytes, decompressed when it is gzip."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror or exc}); check the path") from exc
    if not raw:
        raise UserError(f"{path}: the file is empty; download it again")
    if raw[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path}: unreadable gzip data ({exc}); the download is probably "
                            "incomplete, download it again") from exc
    if path.suffix == ".gz":
        raise UserError(f"{path}: named .gz but is not gzip data; download it again or rename it")
    return raw


def parse_idx(data: bytes, path: str | Path = "<bytes>") -> torch.Tensor:
    """Decode an IDX payload into a tensor of its stored type; `path` is only used in error messages."""
    if not data:
        raise UserError(f"{path}: the file is empty; download it again")
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise UserError(f"{path}: not an IDX file (wrong magic number {data[:4].hex(' ')}); "
                        "expected an MNIST-style idx-ubyte file")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise UserError(f"{path}: IDX header declares 0 dimensions; expected an MNIST-style idx-ubyte file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{path}: truncated IDX header; download the file again")
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    # Compare sizes with Python ints before allocating anything, so a corrupt header cannot ask for
    # terabytes.
    expected = math.prod(shape) * dtype.itemsize + header
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has extra bytes"
        raise UserError(f"{path}: {what} ({len(data)} bytes, the header {tuple(shape)} says {expected}); "
                        "download the file again")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # astype makes a writable copy in native byte order, which torch needs.
    return torch.from_numpy(values.astype(dtype.newbyteorder("="), copy=True))


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file (.gz or raw) into a tensor of its stored type; a bad file is a UserError."""
    return parse_idx(read_idx_bytes(path), path)


# Names an images file may have: train-images-idx3-ubyte (the publishers'), train-images.idx3-ubyte
# (some unpacked copies), each optionally .gz.
IMAGE_SUFFIXES = ("-images-idx3-ubyte", "-images.idx3-ubyte")


def is_idx_images_name(name: str) -> bool:
    """Whether a file name looks like an IDX images file."""
    return name.removesuffix(".gz").endswith(IMAGE_SUFFIXES)


def labels_file_for(images: Path) -> Path | None:
    """The labels file next to an images file (train-images-idx3-ubyte -> train-labels-idx1-ubyte,
    .gz or raw), or None if there is none."""
    stem = images.name.removesuffix(".gz")
    label_stem = stem.replace("-images", "-labels").replace("idx3", "idx1")
    for name in (label_stem + ".gz", label_stem):
        if (images.parent / name).is_file():
            return images.parent / name
    return None


def find_images_file(folder: Path, split: str) -> Path:
    """The IDX images file for `split` in `folder`: train* for "train", t10k*/test* for "test"; a folder
    holding a single images file uses it for either split."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and is_idx_images_name(p.name))
    prefixes = ("train",) if split == "train" else ("t10k", "test")
    matching = [p for p in found if p.name.startswith(prefixes)]
    # A file present both gzipped and unpacked counts once.
    if len({p.name.removesuffix(".gz") for p in matching}) == 1:
        return matching[0]
    if not matching and len({p.name.removesuffix(".gz") for p in found}) == 1:
        return found[0]
    names = ", ".join(p.name for p in found)
    raise UserError(f"{folder}: cannot tell which IDX images file is the {split} split among {names}; "
                    "name it train-images-idx3-ubyte or t10k-images-idx3-ubyte, or pass the file's path")


def load_idx_pair(
    images: Path, labels: Path | None, payloads: tuple[bytes, bytes | None] | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images as N x 1 x H x W uint8 and labels as int64 (N,) (or None) from an IDX pair. `payloads`
    passes already-read file contents (after an md5 check) to avoid reading twice."""
    if payloads is None:
        payloads = (read_idx_bytes(images), read_idx_bytes(labels) if labels is not None else None)
    x = parse_idx(payloads[0], images)
    if x.dtype != torch.uint8 or x.dim() != 3:
        raise UserError(f"{images}: expected N x H x W unsigned bytes (IDX type 0x08, 3 dimensions), "
                        f"found {x.dtype} of shape {tuple(x.shape)}; pass an images file")
    y = None
    if labels is not None:
        y = parse_idx(payloads[1], labels)
        if y.dim() != 1 or y.dtype.is_floating_point:
            raise UserError(f"{labels}: expected a 1-dimensional integer labels file, found {y.dtype} "
                            f"of shape {tuple(y.shape)}; check the file")
        if len(y) != len(x):
            raise UserError(f"{labels}: {len(y)} labels but {images.name} has {len(x)} images; "
                            "use the labels file that belongs to the images")
        y = y.long()
    return x.unsqueeze(1), y
