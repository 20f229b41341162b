"""An image folder, or a .zip or .tar(.gz, .bz2, .xz) archive of one read in place: one tree of files by path.

Both read the same way (folder.py decodes what a tree lists): image files are found recursively and sorted by
relative path ("/" separators), hidden names (".x", macOS's "._x" and __MACOSX/) are skipped, and the small
files beside the images (captions, attribute files, dataset.json) are read by their relative path. An archive
reads as the folder it holds: when all its files sit in one top folder (`zip -r mine.zip mine`), that folder
is its root.

Nothing in an archive is unpacked to disk: each image is decoded from its member's stream, the small files
are read into memory. What a crafted archive could try is refused:
- a member named with an absolute path or with ".." refuses the whole archive (nothing is ever written from
  it, but no folder holds such a file);
- links are not followed: a link named like an image is a bad file (data.on_bad_file);
- Pillow opens each image from its stream, so its decompression-bomb check reads the header before anything
  is decoded, as for a file;
- a small file beside the images is read only up to SIDE_FILE_LIMIT bytes.
A damaged archive (cut short in a download, or not the format its name says) is one line naming it.
"""

from __future__ import annotations

import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Self

from ganforge.data.attributes import ATTRIBUTE_FILES, find_attribute_file
from ganforge.errors import UserError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SIDE_SUFFIXES = (".txt", ".csv", ".json")  # captions, attribute files, dataset.json: read from a tar as it streams by
SIDE_FILE_LIMIT = 256 * 2**20  # bytes: CelebA's attribute file is 26 MB
_DRIVE = re.compile(r"^[A-Za-z]:")


def find_images(root: Path) -> list[Path]:
    """Image files under root (recursive, hidden entries skipped), sorted by relative path."""
    found = []
    for p in root.rglob("*"):
        hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
        if p.suffix.lower() in IMAGE_EXTENSIONS and not hidden and p.is_file():
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def is_archive(path: Path) -> bool:
    """Whether `path` is a file named as an archive ganforge reads (.zip, .tar, .tar.gz, .tgz, ...)."""
    return path.name.lower().endswith(ZIP_SUFFIXES + TAR_SUFFIXES) and path.is_file()


def open_tree(path: Path) -> ImageTree:
    """The tree of an image folder or of an archive (close it, or use it in a with block)."""
    return ArchiveTree(path) if is_archive(path) else ImageTree(path)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > name.rfind("/") else ""


class ImageTree:
    """The image files under a folder by relative path (`names`, sorted), and the files beside them."""

    kind = "folder"
    remedy = "move the image out of the folder"  # what a message tells the user to do with one image

    def __init__(self, root: Path):
        self.root = root
        self.names = [p.relative_to(root).as_posix() for p in find_images(root)]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the archive (nothing to release for a folder)."""

    def where(self, name: str) -> Path | str:
        """How messages name the file at relative path `name`."""
        return self.root / name

    def relative(self) -> str:
        """What the names are relative to, in a message's words."""
        return f"its path relative to {self.root}"

    def order(self) -> list[int]:
        """Indices into `names` in the order they read fastest."""
        return list(range(len(self.names)))

    @contextmanager
    def image(self, i: int) -> Iterator[Path | IO[bytes]]:
        """Image i as Pillow opens it: a path or a binary stream."""
        yield self.root / self.names[i]

    def has(self, name: str) -> bool:
        """Whether a file (not an image) lies at relative path `name`."""
        return (self.root / name).is_file()

    def side(self, name: str) -> bytes | None:
        """The bytes of the file at relative path `name`, None where there is none."""
        path = self.root / name
        if not path.is_file():
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file") from exc

    def attribute_file(self) -> tuple[Path | str, bytes | None] | None:
        """(where, its bytes or None to read it from `where`) of the attribute file (attributes.py), or None."""
        found = find_attribute_file(self.root)
        return None if found is None else (found, None)


class ArchiveTree(ImageTree):
    """The image files of a zip or tar archive, read in place."""

    kind = "archive"
    remedy = "take the image out of the archive"

    def __init__(self, path: Path):
        self.root, self.top = path, ""
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._sides: dict[str, bytes | int] = {}  # relative name -> bytes, or the size of a file too large to read
        try:
            entries = self._list_zip() if path.name.lower().endswith(ZIP_SUFFIXES) else self._list_tar()
        except UserError:
            self.close()
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError,
                OSError, ValueError) as exc:
            self.close()
            raise _damaged(path, exc) from exc
        self._files = self._strip_top(entries)
        images = sorted((rel, at) for at, (rel, _, _, _) in enumerate(self._files) if _suffix(rel) in IMAGE_EXTENSIONS)
        self.names = [rel for rel, _ in images]
        self._at = [at for _, at in images]  # each name's place in the archive
        self._side_at = {rel: at for at, (rel, _, _, _) in enumerate(self._files) if _suffix(rel) not in IMAGE_EXTENSIONS}

    def _list_zip(self) -> list[tuple[str, object, bool, int]]:
        """(name as stored, member, is a link, size) of each file of the zip; file contents are read later."""
        self._zip = zipfile.ZipFile(self.root)
        found = []
        for info in self._zip.infolist():
            if info.is_dir():
                _check_name(self.root, info.filename)
                continue
            link = stat.S_ISLNK(info.external_attr >> 16)
            found.append((info.filename, info, link, info.file_size))
        return found

    def _list_tar(self) -> list[tuple[str, object, bool, int]]:
        """The same for a tar, whose small files are read as the stream passes them (going back is slow)."""
        self._tar = tarfile.open(self.root, "r:*")  # noqa: SIM115 - kept open for the images; close() closes it
        found = []
        for member in self._tar:
            if not (member.isfile() or member.issym() or member.islnk()):
                _check_name(self.root, member.name)
                continue
            found.append((member.name, member, not member.isfile(), member.size))
            if member.isfile() and _suffix(member.name) in SIDE_SUFFIXES and member.size <= SIDE_FILE_LIMIT:
                self._sides[member.name] = self._tar.extractfile(member).read()
        if self.root.name.lower().endswith(".tar") and self.root.stat().st_size < self._tar.offset + 2 * tarfile.BLOCKSIZE:
            raise EOFError("it ends without tar's end-of-archive blocks")  # cut short between two members
        return found

    def _strip_top(self, entries: list[tuple[str, object, bool, int]]) -> list[tuple[str, object, bool, int]]:
        """(relative name, member, link, size) of each file kept: names checked, "./" and hidden files dropped, and
        a top folder that holds every file taken off."""
        kept, seen = [], {}
        for stored, member, link, size in entries:
            _check_name(self.root, stored)
            parts = [p for p in stored.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
                continue
            rel = "/".join(parts)
            if rel in seen:
                raise UserError(f"{self.root}: holds two members named {rel} ({seen[rel]} and {stored}); pack the "
                                "archive again with one of them")
            seen[rel] = stored
            kept.append((rel, (stored, member), link, size))
        tops = {rel.split("/", 1)[0] if "/" in rel else None for rel, *_ in kept}
        if len(tops) == 1 and None not in tops:
            self.top = tops.pop()
            kept = [(rel[len(self.top) + 1:], *rest) for rel, *rest in kept]
        return kept

    def close(self) -> None:
        for handle in (self._zip, self._tar):
            if handle is not None:
                handle.close()

    def where(self, name: str) -> str:
        return f"{self.root}:{self.top + '/' if self.top else ''}{name}"

    def relative(self) -> str:
        return f"its path inside {self.root}" + (f", below {self.top}/" if self.top else "")

    def order(self) -> list[int]:
        return sorted(range(len(self.names)), key=self._at.__getitem__)

    @contextmanager
    def image(self, i: int) -> Iterator[IO[bytes]]:
        _, (stored, member), link, _ = self._files[self._at[i]]
        if link:
            raise ArchiveLink(f"a link ({stored}) inside the archive, not a file; links in an archive are not followed")
        with (self._zip.open(member) if self._zip is not None else self._tar.extractfile(member)) as stream:
            yield stream

    def has(self, name: str) -> bool:
        at = self._side_at.get(name)
        return at is not None and not self._files[at][2]

    def side(self, name: str) -> bytes | None:
        if not self.has(name):
            return None
        _, (stored, member), _, size = self._files[self._side_at[name]]
        if size > SIDE_FILE_LIMIT:
            raise UserError(f"{self.where(name)}: {size:,} bytes, more than the {SIDE_FILE_LIMIT:,} ganforge reads of "
                            "a file beside the images; shorten it or keep it outside the archive")
        if stored not in self._sides:
            if self._zip is None:  # a tar member not read as it passed: its name has another suffix
                self._sides[stored] = self._tar.extractfile(member).read()
            else:
                try:
                    self._sides[stored] = self._zip.read(member)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise _damaged(self.root, exc) from exc
        return self._sides[stored]

    def attribute_file(self) -> tuple[Path | str, bytes | None] | None:
        for name in ATTRIBUTE_FILES:
            if self.has(name):
                return self.where(name), self.side(name)
        stem = self.root.name[: -len(next(s for s in ZIP_SUFFIXES + TAR_SUFFIXES if self.root.name.lower().endswith(s)))]
        beside = self.root.with_name(stem + ".csv")  # faces.zip -> faces.csv, as faces/ -> faces.csv
        return (beside, None) if beside.is_file() else None


class ArchiveLink(ValueError):
    """A link in an archive, where an image was expected (a bad file)."""


def _check_name(archive: Path, stored: str) -> None:
    """Refuse a member whose name leads out of the archive's folder."""
    name = stored.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
        raise UserError(f"{archive}:{stored}: a member named outside the archive's folder (an absolute path or "
                        "..); ganforge reads no archive that holds one: pack the images again without it")


def _damaged(path: Path, exc: BaseException) -> UserError:
    if isinstance(exc, OSError) and exc.errno is not None:
        return UserError(f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file")
    kind = "zip" if path.name.lower().endswith(ZIP_SUFFIXES) else "tar"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return UserError(f"{path}: a damaged {kind} archive ({reason}); it may have been cut short: download or pack it "
                     "again")
