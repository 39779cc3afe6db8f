"""Opening the project's SQLite files the same way everywhere: WAL, autocommit, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memory.errors import StoreCorruptError

__all__ = ["BUSY_TIMEOUT_S", "open_sqlite"]

BUSY_TIMEOUT_S = 30.0


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
