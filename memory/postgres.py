"""One PostgreSQL database shared by every worker: a connection pool per process, versioned
migrations run on start, and leases that tell a live process from a gone one.

Migrations are the numbered files of ``memory/migrations`` (``0001_initial.sql``, …), applied in
order, each in its own transaction with its row in ``schema_migrations``. Whoever opens the database
first applies what is missing while holding an advisory lock, so workers starting together wait for
one another instead of racing; a database newer than this code is refused. To change the schema,
add the next file; never edit one that has shipped.

A lease is a row of ``leases`` (host, pid) and a session advisory lock on its id, held by one
dedicated connection for as long as the journal is open. PostgreSQL drops the lock when that
connection ends — the process closed it, or died and the server saw its socket close — which is how
another worker knows the work it owned may be adopted (:mod:`memory.backends`).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from memory.errors import InvalidInputError, StoreCorruptError, StoreUnavailableError

__all__ = [
    "MIGRATIONS",
    "MIGRATION_WAIT_S",
    "PgDatabase",
    "PgLease",
    "check_url",
    "migrate",
    "migration_lock",
    "schema_version",
]

T = TypeVar("T")
Cursor = psycopg.Cursor[Any]
MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = (0x484D, 1)
"""(class, key) of the advisory lock held while migrating."""
_LEASE_CLASS = 0x484E
"""Class of the advisory locks that hold leases (the key is the lease id)."""
_RETRIES = 5
MIGRATION_WAIT_S = 300.0
"""How long a process waits for another one to finish migrating the schema."""
_CONNECT = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30}


def check_url(url: str) -> str:
    """``url`` if it names a PostgreSQL database, else :class:`InvalidInputError`."""
    if not re.match(r"^postgres(ql)?://", url):
        raise InvalidInputError(
            f"HYPERMNESIA_DATABASE_URL must be a postgresql:// URL, got {_redacted(url)!r}"
        )
    return url


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, **_CONNECT)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(
            f"PostgreSQL at {_redacted(url)} does not answer: {exc}"
        ) from exc


def _migration_files() -> list[tuple[int, Path]]:
    files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [(int(p.name[:4]), p) for p in files]


def schema_version() -> int:
    """The schema version this code writes (the number of its newest migration)."""
    return _migration_files()[-1][0]


@contextmanager
def migration_lock(
    conn: psycopg.Connection[Any], timeout: float = MIGRATION_WAIT_S
) -> Iterator[None]:
    """Hold the migration advisory lock on ``conn`` (autocommit) for the block.

    Waiters poll with ``pg_try_advisory_lock`` between short sleeps instead of blocking in
    ``pg_advisory_lock``: a blocked statement is an open transaction, and the checkpointer's
    migrations (``CREATE INDEX CONCURRENTLY``) wait for every open transaction to end, so the
    holder would wait for its waiters for ever.
    """
    deadline = time.monotonic() + timeout
    while not _try_migration_lock(conn):
        if time.monotonic() > deadline:
            raise StoreUnavailableError(
                f"waited {timeout:g} s for another process to finish migrating the database"
            )
        time.sleep(0.05)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", _MIGRATION_LOCK)


def _try_migration_lock(conn: psycopg.Connection[Any]) -> bool:
    with conn.cursor(row_factory=tuple_row) as cur:  # whatever rows the connection makes
        found = cur.execute(
            "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", _MIGRATION_LOCK
        ).fetchone()
    return bool(found and found[0])


def migrate(url: str) -> list[int]:
    """Apply the migrations the database lacks; returns the versions applied (often none)."""
    applied: list[int] = []
    with _connect(url) as conn, migration_lock(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        if done and max(done) > schema_version():
            raise StoreCorruptError(
                f"the database at {_redacted(url)} has schema version {max(done)}, newer than "
                f"this code's {schema_version()}: upgrade Hypermnesia"
            )
        for version, path in _migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text(encoding="utf-8").encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, path.name),
                )
            applied.append(version)
    return applied


class PgDatabase:
    """A pool of connections to one database, shared by the stores of one process
    (:meth:`shared`), and its transactions."""

    _shared: ClassVar[dict[tuple[int, str], tuple[PgDatabase, int]]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str, pool_size: int) -> None:
        self.url = check_url(url)
        migrate(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=dict(_CONNECT),
            open=False,
            timeout=60.0,
        )
        try:
            self._pool.open(wait=True, timeout=30.0)
        except PoolTimeout as exc:
            raise StoreUnavailableError(f"PostgreSQL at {_redacted(url)} does not answer") from exc

    @classmethod
    def shared(cls, url: str, pool_size: int = 8) -> PgDatabase:
        """This process's pool for ``url`` (opened, and migrated, on first use); give it back
        with :meth:`release`."""
        key = (os.getpid(), url)
        with cls._shared_lock:
            db, users = cls._shared.get(key, (None, 0))
            if db is None:
                db = cls(url, pool_size)
            cls._shared[key] = (db, users + 1)
            return db

    def release(self) -> None:
        """One user less; the pool closes with the last."""
        key = (os.getpid(), self.url)
        with self._shared_lock:
            db, users = self._shared.get(key, (None, 0))
            if db is not self:
                return
            if users > 1:
                self._shared[key] = (self, users - 1)
                return
            del self._shared[key]
        self._pool.close()

    def tx(self, fn: Callable[[Cursor], T]) -> T:
        """``fn`` in one transaction: committed when it returns, rolled back when it raises, run
        again when PostgreSQL broke a deadlock or a serialization conflict by aborting it."""
        for attempt in range(_RETRIES):
            try:
                with self._pool.connection() as conn, conn.cursor() as cur:
                    return fn(cur)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise
            except (psycopg.OperationalError, PoolTimeout) as exc:
                raise StoreUnavailableError(
                    f"PostgreSQL at {_redacted(self.url)} failed: {exc}"
                ) from exc
        raise AssertionError("unreachable")

    def vacuum(self, tables: list[str]) -> None:
        """Rewrite ``tables`` whole (``VACUUM FULL``), so deleted rows leave their files."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            try:
                for table in tables:
                    conn.execute(f"VACUUM FULL {table}".encode())
            finally:
                conn.autocommit = False


class PgLease:
    """This journal's lease: its id (the owner of the work it records) and the lock that keeps
    it, on a connection of its own."""

    def __init__(self, url: str) -> None:
        self._conn: psycopg.Connection[Any] | None = _connect(url)
        row = self._conn.execute(
            "INSERT INTO leases (host, pid) VALUES (%s, %s) RETURNING lease_id",
            (socket.gethostname(), os.getpid()),
        ).fetchone()
        assert row is not None
        self.owner = int(row[0])
        self._conn.execute(
            "SELECT pg_advisory_lock(%s::int4, %s::int4)", (_LEASE_CLASS, self.owner % (1 << 31))
        )

    def check(self) -> None:
        """Refuse to record work while the lease may be lost (its connection broke): another
        worker could be adopting this one's work."""
        if self._conn is None or self._conn.broken or self._conn.closed:
            raise StoreUnavailableError("the journal's lease on PostgreSQL was lost; reopen it")

    @staticmethod
    def gone(cur: Cursor, owner: int | None) -> bool:
        """Whether ``owner``'s lease is no longer held (inside a transaction: a gone one stays
        locked by it until commit, so no other worker decides the same meanwhile)."""
        if owner is None:
            return True
        row = cur.execute(
            "SELECT pg_try_advisory_xact_lock(%s::int4, %s::int4)",
            (_LEASE_CLASS, owner % (1 << 31)),
        ).fetchone()
        if row is None or not row[0]:
            return False
        cur.execute("DELETE FROM leases WHERE lease_id = %s", (owner,))
        return True

    def release(self) -> None:
        """Give the lease up. Its row is only a record (the lock is what counts), so a server
        that is already gone costs nothing but that row."""
        if self._conn is not None:
            try:
                # the session, and the lock with it, may be gone already
                if not self._conn.broken:
                    with suppress(psycopg.Error):
                        self._conn.execute("DELETE FROM leases WHERE lease_id = %s", (self.owner,))
            finally:
                self._conn.close()  # the advisory lock goes with the session
                self._conn = None
