"""The write-ahead journal: raw turns, multi-store write intents, provenance links, access stats.

A write that touches several stores (Chroma, the hypergraph) is first recorded here as an intent
(``pending``), then applied to each store with deterministic ids, then marked ``done``. Because
every store write is an idempotent upsert, replaying a pending intent after a crash is always safe.

Raw turns are inserted (and committed) before anything else happens to them, so a turn that reached
the journal is never lost: if the process dies before its memory units are stored, the turn stays
``pending`` and is recovered when the store is opened again.

The journal is also the audit log (``history`` of a unit is every intent that touched it) and the
change feed between processes: completing intents bumps the namespace's durable version and stamps
them with it, so any process can ask which units changed since the version it last saw.

A *write* record (the turns of one ``remember`` and whether it closed a session) stays pending
until the engine has built and stored everything the agents derive from those turns; an engine
that opens the journal after a crash runs every pending write again (ids are deterministic, so
that is safe). *Pending work* marks deferred jobs (a due reflection) until they are done.

Pending turns, intents and writes carry their owner, this journal's lease (:mod:`memory.leases`,
in ``<name>.leases/`` beside the file): ``adopt_*`` hands over only the work of owners that are
gone, so several processes can share the file and finish each other's crashes
(:mod:`memory.backends`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from memory.errors import InvalidInputError
from memory.leases import FileLease
from memory.model import Namespace, Turn, utcnow
from memory.sqlite import WalCheckpointer, open_sqlite

__all__ = ["Intent", "Journal", "JournalOp", "PendingWrite"]

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
CREATE TABLE IF NOT EXISTS ns_versions (ns TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS writes (
    write_id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, turn_ids TEXT NOT NULL,
    session_end INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending', created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS writes_pending ON writes (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS pending_work (
    ns TEXT NOT NULL, kind TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (ns, kind)
);
"""
_ADDED_COLUMNS = (
    ("ops", "seq", "INTEGER"),
    ("ops", "run_id", "TEXT"),
    ("ops", "owner", "TEXT"),
    ("turns", "owner", "TEXT"),
    ("writes", "owner", "TEXT"),
    ("turns", "session_id", "TEXT"),
)
"""Columns later versions added to existing tables (added in place when a file lacks them)."""
_AFTER_COLUMNS = """
CREATE INDEX IF NOT EXISTS ops_seq ON ops (ns, seq);
CREATE INDEX IF NOT EXISTS op_units_by_op ON op_units (op_id);
CREATE INDEX IF NOT EXISTS turns_session ON turns (ns, session_id);
"""
_OP_COLUMNS = (
    "o.op_id, o.ns, o.kind, o.payload, o.reason, o.status, o.created_at, o.done_at, o.run_id"
)


@dataclass(frozen=True)
class Intent:
    """A write about to be applied: its kind (``put``, ``supersede``, ``merge``, ``delete``),
    what replaying it needs, the units it touches and why."""

    kind: str
    payload: dict[str, Any]
    unit_ids: tuple[str, ...]
    reason: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class PendingWrite:
    """A ``remember`` whose derived units may not all be stored yet."""

    write_id: int
    namespace: Namespace
    turns: list[Turn]
    session_end: bool


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
    run_id: str | None = None
    """The graph run that wrote it, when one did."""


class Journal:
    """SQLite (WAL) journal. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, _SCHEMA, "journal")
        try:
            self._add_columns()
            self._lease = FileLease(Path(self.path).with_suffix(".leases"))
        except BaseException:
            self._db.close()
            raise
        self._checkpoints = WalCheckpointer(self._db, self.path)

    def _add_columns(self) -> None:
        """Bring a file written by an older version up to this schema, in place."""
        added = set()
        for table, column, kind in _ADDED_COLUMNS:
            known = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in known:
                try:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    added.add((table, column))
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
        if ("turns", "session_id") in added:  # fill it in for the turns already there
            self._db.execute("UPDATE turns SET session_id = json_extract(payload, '$.session_id')")
        self._db.executescript(_AFTER_COLUMNS)

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

    def _insert_turns(
        self, db: sqlite3.Connection, ns: Namespace, turns: Sequence[Turn], now: str
    ) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO turns (ns, turn_id, payload, recorded_at, owner, session_id) "
            "VALUES (?,?,?,?,?,?)",
            [
                (ns.key, t.id, t.model_dump_json(), now, self._lease.owner, t.session_id)
                for t in turns
            ],
        )

    def record_turns(self, ns: Namespace, turns: Sequence[Turn]) -> None:
        """Insert turns as ``pending`` (a turn already journaled keeps its first copy)."""
        now = utcnow().isoformat()
        with self._tx() as db:
            self._insert_turns(db, ns, turns, now)

    def record_write(self, ns: Namespace, turns: Sequence[Turn], session_end: bool) -> int:
        """Journal ``turns`` (as :meth:`record_turns`) and a pending write of them, atomically."""
        now = utcnow().isoformat()
        with self._tx() as db:
            self._insert_turns(db, ns, turns, now)
            cur = db.execute(
                "INSERT INTO writes (ns, turn_ids, session_end, created_at, owner) "
                "VALUES (?,?,?,?,?)",
                (
                    ns.key,
                    json.dumps([t.id for t in turns]),
                    int(session_end),
                    now,
                    self._lease.owner,
                ),
            )
            return int(cur.lastrowid or 0)

    def finish_write(self, write_id: int) -> None:
        """The write's derived units are all stored: nothing to redo after a crash."""
        with self._tx() as db:
            db.execute("UPDATE writes SET status = 'done' WHERE write_id = ?", (write_id,))

    def pending_writes(self) -> list[PendingWrite]:
        """Writes not finished (whoever owns them), oldest first, with their turns."""
        with self._lock:
            rows = self._db.execute(
                "SELECT write_id, ns, turn_ids, session_end FROM writes "
                "WHERE status = 'pending' ORDER BY write_id"
            ).fetchall()
        return self._writes(rows)

    def adopt_writes(self) -> list[PendingWrite]:
        """Writes not finished whose owner is gone, oldest first: this journal's from now on."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT write_id, owner, ns, turn_ids, session_end FROM writes "
                "WHERE status = 'pending' ORDER BY write_id"
            ).fetchall()
            rows = self._adopt(db, "writes", "write_id", rows)
        return self._writes(rows)

    def _adopt(
        self, db: sqlite3.Connection, table: str, key: str, rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """Of ``rows`` (key, owner, …), those whose owner is gone, now owned by this journal;
        returned without the key and owner (inside a write transaction)."""
        with ExitStack() as stack:
            gone = {
                owner: stack.enter_context(self._lease.gone(owner))
                for owner in dict.fromkeys(r[1] for r in rows)
            }
            taken = [r for r in rows if gone[r[1]]]
            db.executemany(
                f"UPDATE {table} SET owner = ? WHERE {key} = ?",
                [(self._lease.owner, r[0]) for r in taken],
            )
        return [r[2:] if key == "rowid" else (r[0], *r[2:]) for r in taken]

    def _writes(self, rows: Sequence[tuple[Any, ...]]) -> list[PendingWrite]:
        out = []
        for write_id, key, turn_ids, session_end in rows:
            ns = Namespace.parse(key)
            out.append(
                PendingWrite(write_id, ns, self.turns(ns, json.loads(turn_ids)), bool(session_end))
            )
        return out

    def mark_pending(self, ns: Namespace, kind: str) -> None:
        """Record that a deferred job of ``kind`` is due for ``ns`` (kept until cleared)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO pending_work (ns, kind, since) VALUES (?,?,?)",
                (ns.key, kind, utcnow().isoformat()),
            )

    def clear_pending(self, ns: Namespace, kind: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM pending_work WHERE ns = ? AND kind = ?", (ns.key, kind))

    def pending_work(self, kind: str) -> list[Namespace]:
        """Namespaces with a due job of ``kind``, the longest waiting first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ns FROM pending_work WHERE kind = ? ORDER BY since", (kind,)
            ).fetchall()
        return [Namespace.parse(r[0]) for r in rows]

    def mark_turns_stored(self, ns: Namespace, turn_ids: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE turns SET status = 'stored' WHERE ns = ? AND turn_id = ?",
                [(ns.key, t) for t in turn_ids],
            )

    def turns(
        self, ns: Namespace, ids: Sequence[str] | None = None, *, session_id: str | None = None
    ) -> list[Turn]:
        """Journaled turns of a namespace (only ``ids``, or only one session's), in the order
        they were recorded."""
        one_turn_selector(ids, session_id)
        with self._lock:
            if ids is not None:
                rows = []
                for chunk in _chunks(list(ids), 500):
                    marks = ",".join("?" * len(chunk))
                    rows += self._db.execute(
                        f"SELECT payload FROM turns WHERE ns = ? AND turn_id IN ({marks}) "
                        "ORDER BY rowid",
                        (ns.key, *chunk),
                    ).fetchall()
            elif session_id is not None:
                rows = self._db.execute(
                    "SELECT payload FROM turns WHERE ns = ? AND session_id = ? ORDER BY rowid",
                    (ns.key, session_id),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT payload FROM turns WHERE ns = ? ORDER BY rowid", (ns.key,)
                ).fetchall()
        return [Turn.model_validate_json(r[0]) for r in rows]

    def pending_turns(self) -> list[tuple[Namespace, Turn]]:
        """Turns that were journaled but whose units were never stored (whoever owns them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ns, payload FROM turns WHERE status = 'pending' ORDER BY rowid"
            ).fetchall()
        return [(Namespace.parse(ns), Turn.model_validate_json(p)) for ns, p in rows]

    def adopt_turns(self) -> list[tuple[Namespace, Turn]]:
        """Pending turns whose owner is gone, in the order they arrived: this journal's now."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT rowid, owner, ns, payload FROM turns WHERE status = 'pending' "
                "ORDER BY rowid"
            ).fetchall()
            rows = self._adopt(db, "turns", "rowid", rows)
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
                    "INSERT INTO ops (ns, kind, payload, reason, status, created_at, run_id, "
                    "owner) VALUES (?,?,?,?,'pending',?,?,?)",
                    (
                        ns.key,
                        intent.kind,
                        json.dumps(intent.payload),
                        intent.reason,
                        now,
                        intent.run_id,
                        self._lease.owner,
                    ),
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
    ) -> dict[str, int]:
        """Mark intents done, updating the provenance index and turn status in one transaction.

        Each namespace the intents belong to moves to its next version, and the intents are
        stamped with it (the change feed); returns namespace key → new version.
        """
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
            return self._stamp(db, ids)

    @staticmethod
    def _stamp(db: sqlite3.Connection, op_ids: Sequence[int]) -> dict[str, int]:
        """Mark ``op_ids`` done with their namespaces' next versions (inside a transaction)."""
        versions: dict[str, int] = {}
        done = utcnow().isoformat()
        for op_id in op_ids:
            row = db.execute("SELECT ns FROM ops WHERE op_id = ?", (op_id,)).fetchone()
            if row is None:
                continue
            key = row[0]
            if key not in versions:
                db.execute(
                    "INSERT INTO ns_versions (ns, version) VALUES (?, 1) "
                    "ON CONFLICT (ns) DO UPDATE SET version = version + 1",
                    (key,),
                )
                versions[key] = int(
                    db.execute("SELECT version FROM ns_versions WHERE ns = ?", (key,)).fetchone()[0]
                )
            db.execute(
                "UPDATE ops SET status = 'done', done_at = ?, seq = ? WHERE op_id = ?",
                (done, versions[key], op_id),
            )
        return versions

    # -- the change feed -----------------------------------------------------------------------

    def version(self, ns: Namespace) -> int:
        """The namespace's durable version: how many completed writes it has seen."""
        with self._lock:
            row = self._db.execute(
                "SELECT version FROM ns_versions WHERE ns = ?", (ns.key,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def changed_since(self, ns: Namespace, version: int) -> tuple[int, list[str]]:
        """(the version now, ids of the units that completed writes touched after ``version``),
        the ids in the order the writes touched them."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                now = self.version(ns)
                rows = self._db.execute(
                    "SELECT u.unit_id FROM ops o JOIN op_units u ON u.op_id = o.op_id "
                    "WHERE o.ns = ? AND u.ns = ? AND o.seq > ? AND o.seq <= ? "
                    "ORDER BY o.seq, o.op_id, u.rowid",
                    (ns.key, ns.key, version, now),
                ).fetchall()
            finally:
                self._db.execute("COMMIT")
        return now, list(dict.fromkeys(r[0] for r in rows))

    def pending(self) -> list[JournalOp]:
        """Intents not marked done (whoever owns them), oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops o WHERE status = 'pending' ORDER BY op_id"
            ).fetchall()
        return [_op(r) for r in rows]

    def adopt_intents(self) -> list[JournalOp]:
        """Intents not marked done whose owner is gone, oldest first: this journal's now."""
        with self._tx() as db:
            rows = db.execute(
                f"SELECT o.op_id, o.owner, {_OP_COLUMNS} FROM ops o "
                "WHERE status = 'pending' ORDER BY op_id"
            ).fetchall()
            rows = self._adopt(db, "ops", "op_id", rows)
        return [_op(r[1:]) for r in rows]

    def unit_states(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every unit's last stored version (as JSON), by namespace key, replaying all intents.

        Puts (and supersedes, merges, reopens) store their units, deletes remove them, in the
        order they were recorded; pending intents count too, since opening replays them.
        """
        with self._lock:
            rows = self._db.execute("SELECT ns, kind, payload FROM ops ORDER BY op_id")
            return _unit_states(rows)

    def ops_for_unit(self, ns: Namespace, unit_id: str) -> list[JournalOp]:
        """Every recorded write that touched ``unit_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops o JOIN op_units u ON o.op_id = u.op_id "
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
                    # Named: without table statistics the planner takes ``ns = ?`` for selective
                    # and scans the namespace's whole primary key (2.7 ms against 0.1 ms for 40
                    # turn ids among 13,000 links).
                    "SELECT unit_id FROM provenance INDEXED BY provenance_source "
                    f"WHERE ns = ? AND source_id IN ({marks})",
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

    def runs_for_units(self, ns: Namespace, unit_ids: Iterable[str]) -> set[str]:
        """The graph runs whose intents wrote any of ``unit_ids``."""
        runs: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(unit_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT DISTINCT o.run_id FROM ops o JOIN op_units u ON u.op_id = o.op_id "
                    f"WHERE u.ns = ? AND u.unit_id IN ({marks}) AND o.run_id IS NOT NULL",
                    (ns.key, *chunk),
                ).fetchall()
                runs.update(r[0] for r in rows)
        return runs

    # -- erasure -------------------------------------------------------------------------------

    def erase(self, ns: Namespace, unit_ids: Iterable[str]) -> None:
        """Drop every copy of these units' content from the intents that carried it.

        The intents stay (history keeps their kind and the ids of what is left); their payloads
        lose the erased units, and their reasons, which may quote a value, become ``erased``.
        Free pages still hold the old bytes until :meth:`compact`.
        """
        doomed = set(unit_ids)
        with self._tx() as db:
            op_ids = set()
            for chunk in _chunks(sorted(doomed), 500):
                marks = ",".join("?" * len(chunk))
                op_ids |= {
                    r[0]
                    for r in db.execute(
                        f"SELECT op_id FROM op_units WHERE ns = ? AND unit_id IN ({marks})",
                        (ns.key, *chunk),
                    )
                }
            for op_id in sorted(op_ids):
                (payload,) = db.execute(
                    "SELECT payload FROM ops WHERE op_id = ?", (op_id,)
                ).fetchone()
                data = json.loads(payload)
                if "units" in data:
                    data["units"] = [u for u in data["units"] if u.get("id") not in doomed]
                db.execute(
                    "UPDATE ops SET payload = ?, reason = 'erased' WHERE op_id = ?",
                    (json.dumps(data), op_id),
                )

    def compact(self) -> None:
        """Rewrite the file without free pages and empty the WAL, so erased bytes are gone."""
        with self._lock:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._checkpoints.close()
            self._db.close()
            self._lease.release()


def _unit_states(rows: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Replay intents ``(ns, kind, payload)`` in order: each unit's last stored version (as
    JSON), by namespace key (see :meth:`Journal.unit_states`)."""
    states: dict[str, dict[str, dict[str, Any]]] = {}
    for ns_key, kind, payload in rows:
        data = json.loads(payload)
        units = states.setdefault(ns_key, {})
        if kind == "delete":
            for unit_id in data.get("ids", ()):
                units.pop(unit_id, None)
        for unit in data.get("units", ()):
            units[unit["id"]] = unit
    return states


def _op(row: tuple[Any, ...]) -> JournalOp:
    op_id, ns, kind, payload, reason, status, created, done, run_id = row
    return JournalOp(
        op_id=int(op_id),
        namespace=Namespace.parse(ns),
        kind=kind,
        payload=json.loads(payload),
        reason=reason,
        status=status,
        created_at=datetime.fromisoformat(created),
        done_at=datetime.fromisoformat(done) if done else None,
        run_id=run_id,
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_turn_selector(ids: Sequence[str] | None, session_id: str | None) -> None:
    """Refuse a turn query by ids and by session at once (each journal's ``turns``)."""
    if ids is not None and session_id is not None:
        raise InvalidInputError("ask for turns by ids or by session, not both")
