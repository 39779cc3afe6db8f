"""One process per embedded data folder: a lock file that names its holder.

Embedded Chroma keeps its index in the memory of the process that opened it, so two processes
writing one folder corrupt it. The store takes an exclusive ``flock`` on ``<folder>/.lock`` while
it uses embedded Chroma; a second process (or a second open in the same process) gets a clear
error naming the holder. The lock goes with the process, so a killed holder never leaves a stale
lock behind. With a Chroma server (``HYPERMNESIA_CHROMA_HOST``) no lock is taken: the SQLite files
are safe to share between processes.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from memory.errors import DataFolderInUseError

__all__ = ["FolderLock"]


class FolderLock:
    """An exclusive lock on a data folder, held until :meth:`release`."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"
        handle: IO[str] = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DataFolderInUseError(
                f"data folder {root} is in use by {holder}; its embedded Chroma allows one "
                "process at a time. Run several processes against a Chroma server "
                "(HYPERMNESIA_CHROMA_HOST) or share one engine through the REST service "
                "(app.py serve)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} ({' '.join(sys.argv)[:200]})")
        handle.flush()
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
