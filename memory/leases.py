"""Leases over a folder: a process holds one while its journal is open; a lease that nobody
holds any more marks its owner as gone, so its unfinished work may be adopted.

Each lease is a file ``<folder>/<owner>.lease`` under an exclusive ``flock``. The kernel drops
the lock with the process (a SIGKILL included), and ``flock`` locks belong to an open file, so two
journals in one process hold two distinct leases. See :mod:`memory.backends` for adopting.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["FileLease"]


class FileLease:
    """This journal's lease in ``folder``; :meth:`release` gives it up."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.owner = uuid.uuid4().hex
        handle: IO[str] = open(self._path(self.owner), "w", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)  # a fresh name: nobody else waits on it
        handle.write(f"process {os.getpid()}")
        handle.flush()
        self._handle: IO[str] | None = handle

    def _path(self, owner: str) -> Path:
        return self.folder / f"{owner}.lease"

    @contextmanager
    def gone(self, owner: str | None) -> Iterator[bool]:
        """Whether ``owner``'s lease is no longer held (None: written before leases existed).

        While the block runs, a gone lease stays locked by this process, so no other process can
        decide the same at the same time; when the block ends the lease file is removed (its work
        now has another owner).
        """
        if owner is None:
            yield True
            return
        if owner == self.owner:
            yield False
            return
        path = self._path(owner)
        try:
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            yield True  # removed by whoever adopted its work before
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
            path.unlink(missing_ok=True)

    def release(self) -> None:
        if self._handle is not None:
            self._path(self.owner).unlink(missing_ok=True)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
