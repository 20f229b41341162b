"""Writing files so that a crash or a kill at any moment leaves the old file or the new one, never half.

A file is written under a hidden temporary name beside its own, `.tmp-<hex>-<name>`, and renamed over it when
complete; a folder of several files is filled under such a name and renamed into place. An exception,
Ctrl-C included, removes the temporary. A process killed outright (SIGKILL, a power cut) cannot, and leaves
the hidden `.tmp-*` file or folder: nothing under the final name, and nothing ganforge reads (readers skip
hidden names). Later writes leave it alone, as they cannot tell it from another process's write in progress.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ganforge.errors import UserError


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces `path` only once the `with` block succeeds."""
    _make_parent(path)
    # A plain open() (not mkstemp) keeps the usual umask-derived permissions on the final file.
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):  # unwritable directory, disk full, target is a directory, ...
            raise UserError(f"cannot write '{path}': {e.strerror or e}") from e
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Replace the file at `path` with `text` (UTF-8) in one step."""
    path = Path(path)
    with atomic_write(path) as f:
        f.write(text.encode())
    return path


@contextlib.contextmanager
def atomic_folder(path: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a new empty folder to fill; once the `with` block succeeds it becomes `path`.

    A new `path` appears whole, in one rename. An existing one is, with `replace`, swapped for the new one
    whole (a kill between the two renames leaves no `path`, never a mix of old and new files); without it,
    it keeps its other files and gets the new ones each in one rename. On any failure nothing of the new
    folder stays."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write '{path}/': a file of that name is there")
    _make_parent(path)
    tmp = _temporary(path)
    try:
        tmp.mkdir()
    except OSError as e:
        raise UserError(f"cannot write '{path}/': {e.strerror or e}") from e
    try:
        yield tmp
        if not path.exists():
            os.rename(tmp, path)
        elif replace:
            _swap(tmp, path)
        else:
            for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
                target = path / src.relative_to(tmp)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
    except OSError as e:
        raise UserError(f"cannot write '{path}/': {e.strerror or e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when it was renamed into place


def _swap(new: Path, path: Path) -> None:
    """Put folder `new` in the place of folder `path`, then delete the old one."""
    old = _temporary(path)
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)  # the earlier folder back in its place
        raise
    shutil.rmtree(old, ignore_errors=True)


def _temporary(path: Path) -> Path:
    # Same directory so os.replace is an atomic rename; random part so concurrent writers do not collide;
    # the real name (and so the extension) at the end so tools that look at the suffix still work.
    return path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create directory '{path.parent}': {e.strerror or e}") from e
