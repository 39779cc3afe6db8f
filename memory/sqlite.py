"""Opening the project's SQLite files the same way everywhere: WAL, autocommit, clear errors;
and checkpointing a busy file's WAL off its writers' path (:class:`WalCheckpointer`)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from memory.errors import StoreCorruptError

__all__ = ["BUSY_TIMEOUT_S", "WalCheckpointer", "open_sqlite"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
CHECKPOINT_INTERVAL_S = 1.0
"""How often a :class:`WalCheckpointer` copies committed pages from the WAL into the database."""


def open_sqlite(path: Path | str, schema: str, what: str) -> sqlite3.Connection:
    """A connection in WAL mode (durable against a killed process) with ``schema`` applied.

    Explicit transactions are the caller's (``isolation_level=None``); the connection may be
    shared across threads behind the caller's lock, and other processes may open the same file
    (a writer waits up to ``BUSY_TIMEOUT_S`` for another's transaction). Deleted content is
    overwritten in place (``secure_delete``), so an erased row leaves no bytes behind once the WAL
    is checkpointed. A file that is not a database raises :class:`StoreCorruptError` naming
    ``what`` and the path.
    """
    try:
        db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{what} {path} cannot be opened: {exc}") from exc
    return db


class WalCheckpointer:
    """Checkpoints the WAL of ``db`` (opened on ``path``) from a thread of its own.

    By default SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that
    caller copies about 4 MB into the database and syncs it, 5-30 ms here, so every few dozen
    trace-writing recalls one paid for it. This turns ``db``'s automatic checkpoints off and runs
    a passive checkpoint every ``interval_s`` on a second connection, which does not block
    writers. Durability does not change: with ``synchronous=NORMAL`` a commit is durable against
    a killed process once it is in the WAL, checkpointed or not. Other connections to the file
    (other processes) keep their own settings. :meth:`close` stops the thread; close it before
    ``db``, so the last connection to go empties the WAL as usual.
    """

    def __init__(
        self, db: sqlite3.Connection, path: Path | str, interval_s: float = CHECKPOINT_INTERVAL_S
    ) -> None:
        self.path = str(path)
        self._interval_s = interval_s
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        db.execute("PRAGMA wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"hypermnesia-wal-{Path(path).name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.checkpoint()

    def checkpoint(self) -> tuple[int, int, int] | None:
        """One passive checkpoint: (1 if it could not finish, WAL frames, frames copied), or
        None when it failed (logged; the next tick tries again)."""
        try:
            with self._lock:
                row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("checkpoint of %s failed: %s", self.path, exc)
            return None
        return int(row[0]), int(row[1]), int(row[2])

    def close(self) -> None:
        """Stop the thread (after the checkpoint under way, if any) and close its connection."""
        self._stop.set()
        self._thread.join()
        with self._lock:
            self._conn.close()
