"""LangGraph checkpoints in PostgreSQL (``langgraph-checkpoint-postgres``), for workers that share
one database: a small pool of its own (the saver wants autocommit connections returning dicts),
its tables created by the saver's own migrations, run under the same advisory lock as Hypermnesia's
so workers starting together do not race."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from memory.postgres import check_url, migration_lock

__all__ = ["PostgresCheckpoints"]

_TABLES = ["checkpoint_writes", "checkpoint_blobs", "checkpoints"]


class PostgresCheckpoints:
    """A :class:`PostgresSaver` over a pool of ``pool_size`` connections to ``url``."""

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        check_url(url)
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
            open=True,
        )
        try:
            self._pool.wait(timeout=30.0)
            self.saver = PostgresSaver(self._pool)
            with self._pool.connection() as conn, migration_lock(conn):
                self.saver.setup()
        except BaseException:
            self._pool.close()
            raise

    def compact(self) -> None:
        """Rewrite the checkpoint tables (``VACUUM FULL``), so deleted threads leave them."""
        with self._pool.connection() as conn:
            for table in _TABLES:
                conn.execute(f"VACUUM FULL {table}".encode())

    def close(self) -> None:
        self._pool.close()
