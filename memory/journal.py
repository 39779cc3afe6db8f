"""The write-ahead journal: raw turns, multi-store write intents, provenance links, access stats.

A write that touches several stores (Chroma, the hypergraph) is first recorded here as an intent
(``pending``), then applied to each store with deterministic ids, then marked ``done``. Because
every store write is an idempotent upsert, replaying a pending intent after a crash is always safe.

Raw turns are inserted (and committed) before anything else happens to them, so a turn that reached
the journal is never lost: if the process dies before its memory units are stored, the turn stays
``pending`` and is recovered when the store is opened again.

The journal is also the audit log: ``history`` of a unit is every intent that touched it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from memory.model import Namespace, Turn, utcnow
from memory.sqlite import open_sqlite

__all__ = ["Intent", "Journal", "JournalOp"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    ns TEXT NOT NULL, turn_id TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', recorded_at TEXT NOT NULL,
    PRIMARY KEY (ns, turn_id)
);
CREATE INDEX IF NOT EXISTS turns_pending ON turns (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS ops (
    op_id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, reason TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS ops_pending ON ops (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS op_units (
    op_id INTEGER NOT NULL, ns TEXT NOT NULL, unit_id TEXT NOT NULL,
    PRIMARY KEY (ns, unit_id, op_id)
);
CREATE TABLE IF NOT EXISTS provenance (
    ns TEXT NOT NULL, unit_id TEXT NOT NULL, source_id TEXT NOT NULL,
    PRIMARY KEY (ns, unit_id, source_id)
);
CREATE INDEX IF NOT EXISTS provenance_source ON provenance (ns, source_id);
CREATE TABLE IF NOT EXISTS access (
    ns TEXT NOT NULL, unit_id TEXT NOT NULL, count INTEGER NOT NULL, last TEXT NOT NULL,
    PRIMARY KEY (ns, unit_id)
);
"""


@dataclass(frozen=True)
class Intent:
    """A write about to be applied: its kind (``put``, ``supersede``, ``merge``, ``delete``),
    what replaying it needs, the units it touches and why."""

    kind: str
    payload: dict[str, Any]
    unit_ids: tuple[str, ...]
    reason: str | None = None


@dataclass(frozen=True)
class JournalOp:
    """One recorded multi-store write."""

    op_id: int
    namespace: Namespace
    kind: str
    payload: dict[str, Any]
    reason: str | None
    status: str
    created_at: datetime
    done_at: datetime | None


class Journal:
    """SQLite (WAL) journal. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, _SCHEMA, "journal")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- raw turns -----------------------------------------------------------------------------

    def record_turns(self, ns: Namespace, turns: Sequence[Turn]) -> None:
        """Insert turns as ``pending`` (a turn already journaled keeps its first copy)."""
        now = utcnow().isoformat()
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO turns (ns, turn_id, payload, recorded_at) VALUES (?,?,?,?)",
                [(ns.key, t.id, t.model_dump_json(), now) for t in turns],
            )

    def mark_turns_stored(self, ns: Namespace, turn_ids: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE turns SET status = 'stored' WHERE ns = ? AND turn_id = ?",
                [(ns.key, t) for t in turn_ids],
            )

    def turns(self, ns: Namespace, ids: Sequence[str] | None = None) -> list[Turn]:
        """Journaled turns of a namespace, in the order they were recorded."""
        with self._lock:
            if ids is None:
                rows = self._db.execute(
                    "SELECT payload FROM turns WHERE ns = ? ORDER BY rowid", (ns.key,)
                ).fetchall()
            else:
                rows = []
                for chunk in _chunks(list(ids), 500):
                    marks = ",".join("?" * len(chunk))
                    rows += self._db.execute(
                        f"SELECT payload FROM turns WHERE ns = ? AND turn_id IN ({marks}) "
                        "ORDER BY rowid",
                        (ns.key, *chunk),
                    ).fetchall()
        return [Turn.model_validate_json(r[0]) for r in rows]

    def pending_turns(self) -> list[tuple[Namespace, Turn]]:
        """Turns that were journaled but whose units were never stored."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ns, payload FROM turns WHERE status = 'pending' ORDER BY rowid"
            ).fetchall()
        return [(Namespace.parse(ns), Turn.model_validate_json(p)) for ns, p in rows]

    def delete_turns(self, ns: Namespace, turn_ids: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "DELETE FROM turns WHERE ns = ? AND turn_id = ?", [(ns.key, t) for t in turn_ids]
            )

    def count_turns(self, ns: Namespace | None = None) -> int:
        with self._lock:
            if ns is None:
                return int(self._db.execute("SELECT COUNT(*) FROM turns").fetchone()[0])
            row = self._db.execute("SELECT COUNT(*) FROM turns WHERE ns = ?", (ns.key,)).fetchone()
            return int(row[0])

    # -- write intents -------------------------------------------------------------------------

    def begin(
        self,
        ns: Namespace,
        kind: str,
        payload: dict[str, Any],
        unit_ids: Iterable[str],
        reason: str | None = None,
    ) -> int:
        """Record a write intent touching ``unit_ids``; returns its op id."""
        return self.begin_many(ns, [Intent(kind, payload, tuple(unit_ids), reason)])[0]

    def begin_many(self, ns: Namespace, intents: Sequence[Intent]) -> list[int]:
        """Record several write intents in one transaction; returns their op ids in order."""
        op_ids: list[int] = []
        now = utcnow().isoformat()
        with self._tx() as db:
            for intent in intents:
                cur = db.execute(
                    "INSERT INTO ops (ns, kind, payload, reason, status, created_at) "
                    "VALUES (?,?,?,?,'pending',?)",
                    (ns.key, intent.kind, json.dumps(intent.payload), intent.reason, now),
                )
                op_id = int(cur.lastrowid or 0)
                db.executemany(
                    "INSERT OR IGNORE INTO op_units (op_id, ns, unit_id) VALUES (?,?,?)",
                    [(op_id, ns.key, u) for u in dict.fromkeys(intent.unit_ids)],
                )
                op_ids.append(op_id)
        return op_ids

    def complete(
        self,
        op_ids: int | Sequence[int],
        *,
        provenance: Sequence[tuple[Namespace, str, str]] = (),
        drop_provenance: Sequence[tuple[Namespace, str]] = (),
        stored_turns: Sequence[tuple[Namespace, str]] = (),
    ) -> None:
        """Mark intents done, updating the provenance index and turn status in one transaction."""
        ids = [op_ids] if isinstance(op_ids, int) else list(op_ids)
        with self._tx() as db:
            db.executemany(
                "DELETE FROM provenance WHERE ns = ? AND unit_id = ?",
                [(ns.key, u) for ns, u in drop_provenance],
            )
            db.executemany(
                "DELETE FROM access WHERE ns = ? AND unit_id = ?",
                [(ns.key, u) for ns, u in drop_provenance],
            )
            db.executemany(
                "INSERT OR IGNORE INTO provenance (ns, unit_id, source_id) VALUES (?,?,?)",
                [(ns.key, u, s) for ns, u, s in provenance],
            )
            db.executemany(
                "UPDATE turns SET status = 'stored' WHERE ns = ? AND turn_id = ?",
                [(ns.key, t) for ns, t in stored_turns],
            )
            done = utcnow().isoformat()
            db.executemany(
                "UPDATE ops SET status = 'done', done_at = ? WHERE op_id = ?",
                [(done, op_id) for op_id in ids],
            )

    def pending(self) -> list[JournalOp]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM ops WHERE status = 'pending' ORDER BY op_id"
            ).fetchall()
        return [_op(r) for r in rows]

    def ops_for_unit(self, ns: Namespace, unit_id: str) -> list[JournalOp]:
        """Every recorded write that touched ``unit_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT o.* FROM ops o JOIN op_units u ON o.op_id = u.op_id "
                "WHERE u.ns = ? AND u.unit_id = ? AND o.ns = ? ORDER BY o.op_id",
                (ns.key, unit_id, ns.key),
            ).fetchall()
        return [_op(r) for r in rows]

    def count_ops(self, status: str | None = None) -> int:
        with self._lock:
            if status is None:
                return int(self._db.execute("SELECT COUNT(*) FROM ops").fetchone()[0])
            q = "SELECT COUNT(*) FROM ops WHERE status = ?"
            return int(self._db.execute(q, (status,)).fetchone()[0])

    # -- provenance and access -----------------------------------------------------------------

    def derived_from(self, ns: Namespace, source_ids: Iterable[str]) -> set[str]:
        """Ids of units that name any of ``source_ids`` (turn ids or unit ids) as a source."""
        found: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(source_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT unit_id FROM provenance WHERE ns = ? AND source_id IN ({marks})",
                    (ns.key, *chunk),
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def record_access(self, ns: Namespace, unit_ids: Iterable[str]) -> None:
        now = utcnow().isoformat()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO access (ns, unit_id, count, last) VALUES (?,?,1,?) "
                "ON CONFLICT (ns, unit_id) DO UPDATE SET count = count + 1, last = excluded.last",
                [(ns.key, u, now) for u in unit_ids],
            )

    def access(self, ns: Namespace, unit_ids: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        out: dict[str, tuple[int, datetime]] = {}
        with self._lock:
            for chunk in _chunks(list(unit_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT unit_id, count, last FROM access "
                    f"WHERE ns = ? AND unit_id IN ({marks})",
                    (ns.key, *chunk),
                ).fetchall()
                out.update({u: (int(c), datetime.fromisoformat(t)) for u, c, t in rows})
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _op(row: tuple[Any, ...]) -> JournalOp:
    op_id, ns, kind, payload, reason, status, created, done = row
    return JournalOp(
        op_id=int(op_id),
        namespace=Namespace.parse(ns),
        kind=kind,
        payload=json.loads(payload),
        reason=reason,
        status=status,
        created_at=datetime.fromisoformat(created),
        done_at=datetime.fromisoformat(done) if done else None,
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
