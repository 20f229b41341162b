"""One trainer per run folder: an advisory lock on RUN/.train.lock, held while a run trains.

The lock is the kernel's (flock), not the file's existence: it goes with the process however that ends
(SIGKILL, a crash, power loss), so a lock left behind by a killed run is free again and the next trainer
takes it without a manual step. The file itself stays and keeps the holder's pid, host and start time, for
the message that refuses a second trainer. Of a torchrun's ranks, rank 0 holds the run's one lock.
Where flock is unavailable (not POSIX) runs are not locked.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ganforge.errors import UserError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".train.lock"


class RunLock:
    """`check()` refuses a folder another process trains (before anything is validated or written);
    `acquire()` takes the lock (creating the folder) just before the first write; leaving the `with` block
    releases it."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.path = Path(run_dir) / LOCK_NAME
        self.enabled = enabled and fcntl is not None
        self.fd: int | None = None

    def __enter__(self) -> RunLock:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def check(self) -> None:
        if not self.enabled or self.fd is not None or not self.path.is_file():
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            self._lock_or_refuse(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def acquire(self) -> None:
        if not self.enabled or self.fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock_or_refuse(fd)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.write(fd, json.dumps(holder).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def _lock_or_refuse(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{self.path.parent} is being trained by {self.holder()}; wait for it to finish or stop "
                            f"it, then resume with: ganforge train --resume {self.path.parent}") from None

    def holder(self) -> str:
        """The process that holds the lock, in words."""
        try:
            info = json.loads(self.path.read_text())
            return f"process {info['pid']} on {info['host']} (since {info['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"
