"""The PostgreSQL schema: versioned migrations applied once and recorded, a database newer than the
code refused, and several processes starting together on an empty database (Hypermnesia's
migrations and the checkpointer's, whose CREATE INDEX CONCURRENTLY waits for every open
transaction) all get through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from memory.errors import InvalidInputError, StoreCorruptError
from memory.postgres import check_url, migrate, schema_version
from memory.settings import Settings
from tests.conftest import deployment_env

ROOT = Path(__file__).parents[1]


def test_migrations_apply_once_and_are_recorded(pg_url: str) -> None:
    assert migrate(pg_url) == list(range(1, schema_version() + 1))
    assert migrate(pg_url) == []
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == list(range(1, schema_version() + 1))


def test_a_newer_database_is_refused(pg_url: str) -> None:
    migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, 'from the future')",
            (schema_version() + 1,),
        )
    with pytest.raises(StoreCorruptError, match="newer than this code"):
        migrate(pg_url)


def test_a_url_that_is_not_postgres_is_refused_without_its_password() -> None:
    with pytest.raises(InvalidInputError, match=r"mysql://sam:\*\*\*@db") as caught:
        check_url("mysql://sam:s3cret@db/memory")
    assert "s3cret" not in str(caught.value)


_OPEN = textwrap.dedent(
    """
    import sys
    from graphs.client import Hypermnesia
    from memory.embeddings import HashingEmbedder
    from memory.settings import Settings

    with Hypermnesia.open(sys.argv[1], settings=Settings(), embedder=HashingEmbedder()):
        print("open")
    """
)


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_processes_starting_together_on_an_empty_database_all_open(
    tmp_path: Path, deployment: Settings
) -> None:
    env = {**os.environ, **deployment_env(deployment)}
    env.pop("HYPERMNESIA_LLM_MODEL", None)
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, str(tmp_path / f"w{i}")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in starts:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0 and out.strip() == "open", err[-2000:]
