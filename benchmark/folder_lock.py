"""One run at a time per results folder: ``OUT/.lock``, held while a run writes there.

Two runs appending to one folder would interleave their rows and each skip the other's
sessions half-written; the second run is refused with a message instead. The lock is an
``flock`` on the file (released by the system when the process ends, however it ends),
so a run killed with SIGKILL leaves no stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".lock"


class FolderInUse(ValueError):
    """Another run holds the results folder."""


@contextmanager
def folder_lock(folder: Path | str) -> Iterator[None]:
    """Hold ``folder``'s lock for the block.

    Raises:
        FolderInUse: another process holds it (names the folder and that process' pid).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise FolderInUse(f"{folder}: another run is writing to this results folder (pid {holder}); wait for it "
                              "to finish, or write to another --out folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
