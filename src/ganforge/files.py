"""Writing files so that a crash or a kill at any moment leaves the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ganforge.errors import UserError


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces `path` only once the `with` block succeeds."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create directory '{path.parent}': {e.strerror or e}") from e
    # Same directory so os.replace is an atomic rename; random part so concurrent writers do not collide;
    # the real name (and so the extension) at the end so tools that look at the suffix still work.
    # A plain open() (not mkstemp) keeps the usual umask-derived permissions on the final file.
    tmp = path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")
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
