"""The WAL of the trace store, the journal, the hypergraph and the checkpoints is checkpointed
off the writers' path."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from memory.hypergraph import HypergraphStore
from memory.journal import Journal
from memory.sqlite import WalCheckpointer, open_sqlite
from memory.traces import TraceStore

_SCHEMA = "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);"
_PAGE = 4096


def _write(db: sqlite3.Connection, count: int, size: int = 8000) -> None:
    for _ in range(count):
        db.execute("INSERT INTO rows (payload) VALUES (?)", ("x" * size,))


def _rows_in_main_file(path: Path, tmp: Path) -> int:
    """Rows readable from the database file alone (what checkpoints have copied there)."""
    copy = tmp / "main-only.sqlite3"
    shutil.copyfile(path, copy)
    db = sqlite3.connect(copy)
    try:
        return int(db.execute("SELECT count(*) FROM rows").fetchone()[0])
    except sqlite3.OperationalError:  # not even the table has been copied yet
        return 0
    finally:
        db.close()


def test_commits_leave_checkpointing_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    db = open_sqlite(path, _SCHEMA, "test file")
    checkpointer = WalCheckpointer(db, path, interval_s=3600.0)  # the thread never ticks here
    try:
        checkpointer.checkpoint()  # the table itself
        _write(db, 1000)  # ~8 MB: past the 1,000-page automatic checkpoint twice over
        wal_pages = Path(f"{path}-wal").stat().st_size // _PAGE
        assert wal_pages > 1500, "a commit checkpointed the WAL itself"
        assert _rows_in_main_file(path, tmp_path) == 0
        busy, frames, copied = checkpointer.checkpoint() or (1, 0, -1)
        assert busy == 0 and frames == copied and frames > 1500
        assert _rows_in_main_file(path, tmp_path) == 1000
    finally:
        checkpointer.close()
        db.close()
    assert not Path(f"{path}-wal").exists()  # the last connection still empties the WAL


def test_the_thread_checkpoints_while_writers_go_on(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    db = open_sqlite(path, _SCHEMA, "test file")
    checkpointer = WalCheckpointer(db, path, interval_s=0.05)
    try:
        _write(db, 50)
        deadline = time.monotonic() + 10.0
        while _rows_in_main_file(path, tmp_path) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_main_file(path, tmp_path) == 50
        _write(db, 50)  # writing goes on after a checkpoint (the WAL restarts from its start)
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 100
    finally:
        checkpointer.close()
        db.close()
    assert not checkpointer._thread.is_alive()


def test_a_failed_checkpoint_is_reported_and_the_writer_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    db = open_sqlite(path, _SCHEMA, "test file")
    checkpointer = WalCheckpointer(db, path, interval_s=3600.0)
    checkpointer._conn.close()  # its own connection is gone: every checkpoint now fails
    try:
        assert checkpointer.checkpoint() is None
        _write(db, 3)
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 3
    finally:
        checkpointer.close()
        db.close()


def test_the_stores_turn_automatic_checkpoints_off(tmp_path: Path) -> None:
    traces = TraceStore(tmp_path / "traces.sqlite3")
    journal = Journal(tmp_path / "journal.sqlite3")
    graph = HypergraphStore(tmp_path / "hypergraph.sqlite3")
    try:
        for db in (traces._db, journal._db, graph._conn):
            assert db is not None
            assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    finally:
        traces.close()
        journal.close()
        graph.close()
    for name in ("traces", "journal", "hypergraph"):
        assert not (tmp_path / f"{name}.sqlite3-wal").exists()


def test_an_engine_leaves_no_wal_behind_and_its_threads_stop(tmp_path: Path) -> None:
    from graphs.client import Hypermnesia
    from memory.embeddings import HashingEmbedder
    from memory.model import Namespace, Turn

    ns = Namespace(user_id="wal")
    before = set(threading.enumerate())  # other tests' stores may still be open
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        assert hm._checkpoints is not None
        assert hm._checkpoints.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        hm.remember(ns, [Turn(id="t1", session_id="s1", speaker="Ann", text="I moved to Oslo.")])
        assert hm.recall(ns, "Where does Ann live?").evidence
    assert sorted(p.name for p in tmp_path.rglob("*-wal")) == []
    started = set(threading.enumerate()) - before
    assert not [t.name for t in started if t.name.startswith("hypermnesia-wal-")]
