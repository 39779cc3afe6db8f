"""A throwaway PostgreSQL server for tests: Debian's ``initdb`` and ``pg_ctl`` on 127.0.0.1, a free
port and a temp directory, stopped and removed afterwards; each test takes a fresh database.

``initdb`` refuses to run as root, so when the tests run as root (CI) the server runs as the
``postgres`` user the Debian package creates (``runuser``), in a directory handed to that user.
Use :func:`running_postgres` as a context manager, or the ``postgres_server`` fixture (session
scope) and ``pg_url`` (a new database per test) from ``tests.conftest``.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.chroma_server import free_port

__all__ = ["PostgresServer", "pg_bin", "running_postgres"]

STARTUP_TIMEOUT_S = 60
_SERVER_OPTIONS = [
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=300",
    # a test cluster need not survive a power cut
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
]


@dataclass
class PostgresServer:
    """A running cluster: its port and folder; :meth:`new_database` for each test."""

    port: int
    folder: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url``, disconnecting whoever still uses it."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def pg_bin() -> Path:
    """The bin folder of the newest PostgreSQL that Debian's packages installed."""
    versions = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versions.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `make test` "
            "installs Debian's postgresql package, or run `apt-get install postgresql`"
        )
    return Path(initdb).parent


def _as_server_user(args: list[str]) -> list[str]:
    """``args`` run as ``postgres`` when this process is root, else as this user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], log: Path) -> None:
    done = subprocess.run(_as_server_user(args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}{tail}")


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh cluster on a free port of 127.0.0.1 (trust authentication, user ``postgres``)."""
    folder = Path(tempfile.mkdtemp(prefix="hypermnesia-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, log, binary = folder / "data", folder / "server.log", pg_bin()
    port = free_port()
    started = False
    try:
        initdb = [str(binary / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], log)
        options = " ".join([f"-p {port}", f"-k {folder}", *_SERVER_OPTIONS])
        pg_ctl = [str(binary / "pg_ctl"), "-D", str(data), "-l", str(log)]
        _run([*pg_ctl, "-o", options, "-w", "-t", str(STARTUP_TIMEOUT_S), "start"], log)
        started = True
        yield PostgresServer(port, folder)
    finally:
        if started:
            _run([str(binary / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], log)
        shutil.rmtree(folder, ignore_errors=True)
