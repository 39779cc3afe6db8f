"""The journal in PostgreSQL: the same contract as :class:`memory.journal.Journal`, shared by
every worker that opens the database.

Completing intents bumps each namespace's version first (``INSERT … ON CONFLICT DO UPDATE …
RETURNING``, which row-locks the namespace until commit), then records provenance and stamps the
intents, all in one transaction: concurrent writers of one namespace get consecutive versions and
the change feed never skips a write; writers of different namespaces do not wait for each other.
Rows locked by several statements are taken in sorted order, so two workers cannot deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from memory.journal import (
    Intent,
    JournalOp,
    PendingWrite,
    _op,
    _unit_states,
    one_turn_selector,
)
from memory.model import Namespace, Turn, utcnow
from memory.postgres import Cursor, PgDatabase, PgLease

__all__ = ["PgJournal"]

_OP_COLUMNS = (
    "o.op_id, o.ns, o.kind, o.payload, o.reason, o.status, o.created_at, o.done_at, o.run_id"
)


class PgJournal:
    """Raw turns, intents, writes, provenance and the change feed in PostgreSQL."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._db = PgDatabase.shared(url, pool_size)
        try:
            self._lease = PgLease(url)
        except BaseException:
            self._db.release()
            raise
        self.owner = self._lease.owner

    # -- raw turns -----------------------------------------------------------------------------

    def _insert_turns(self, cur: Cursor, ns: Namespace, turns: Sequence[Turn]) -> None:
        now = utcnow().isoformat()
        cur.executemany(
            "INSERT INTO turns (ns, turn_id, payload, recorded_at, owner, session_id) "
            "VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            [(ns.key, t.id, t.model_dump_json(), now, self.owner, t.session_id) for t in turns],
        )

    def record_turns(self, ns: Namespace, turns: Sequence[Turn]) -> None:
        """Insert turns as ``pending`` (a turn already journaled keeps its first copy)."""
        self._lease.check()
        self._db.tx(lambda cur: self._insert_turns(cur, ns, turns))

    def record_write(self, ns: Namespace, turns: Sequence[Turn], session_end: bool) -> int:
        """Journal ``turns`` and a pending write of them, atomically; returns the write's id."""
        self._lease.check()

        def run(cur: Cursor) -> int:
            self._insert_turns(cur, ns, turns)
            row = cur.execute(
                "INSERT INTO writes (ns, turn_ids, session_end, created_at, owner) "
                "VALUES (%s,%s,%s,%s,%s) RETURNING write_id",
                (
                    ns.key,
                    json.dumps([t.id for t in turns]),
                    session_end,
                    utcnow().isoformat(),
                    self.owner,
                ),
            ).fetchone()
            assert row is not None
            return int(row[0])

        return self._db.tx(run)

    def finish_write(self, write_id: int) -> None:
        self._db.tx(
            lambda cur: cur.execute(
                "UPDATE writes SET status = 'done' WHERE write_id = %s", (write_id,)
            )
        )

    def pending_writes(self) -> list[PendingWrite]:
        """Writes not finished (whoever owns them), oldest first, with their turns."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT write_id, ns, turn_ids, session_end FROM writes "
                "WHERE status = 'pending' ORDER BY write_id"
            ).fetchall()
        )
        return self._writes(rows)

    def adopt_writes(self) -> list[PendingWrite]:
        """Writes not finished whose owner is gone, oldest first: this journal's from now on."""

        def run(cur: Cursor) -> list[tuple[Any, ...]]:
            rows = cur.execute(
                "SELECT write_id, owner, ns, turn_ids, session_end FROM writes "
                "WHERE status = 'pending' ORDER BY write_id"
            ).fetchall()
            return self._adopt(cur, "writes", "write_id", rows)

        return self._writes(self._db.tx(run))

    def _adopt(
        self, cur: Cursor, table: str, key: str, rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """Of ``rows`` (key, owner, …), those whose owner is gone, now owned by this journal
        (the update skips a row another worker adopted first); returned without the owner."""
        gone = {
            owner: owner != self.owner and PgLease.gone(cur, owner)
            for owner in sorted(dict.fromkeys(r[1] for r in rows), key=lambda o: o or 0)
        }
        keys = [r[0] for r in rows if gone[r[1]]]
        if not keys:
            return []
        taken = {
            r[0]
            for r in cur.execute(
                f"UPDATE {table} SET owner = %s WHERE {key} = ANY(%s) AND status = 'pending' "
                f"AND (owner IS NULL OR owner = ANY(%s)) RETURNING {key}",
                (self.owner, keys, [o for o, g in gone.items() if g and o is not None]),
            )
        }
        return [(r[0], *r[2:]) for r in rows if r[0] in taken]

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
        self._db.tx(
            lambda cur: cur.execute(
                "INSERT INTO pending_work (ns, kind, since) VALUES (%s,%s,%s) "
                "ON CONFLICT DO NOTHING",
                (ns.key, kind, utcnow().isoformat()),
            )
        )

    def clear_pending(self, ns: Namespace, kind: str) -> None:
        self._db.tx(
            lambda cur: cur.execute(
                "DELETE FROM pending_work WHERE ns = %s AND kind = %s", (ns.key, kind)
            )
        )

    def pending_work(self, kind: str) -> list[Namespace]:
        """Namespaces with a due job of ``kind``, the longest waiting first."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT ns FROM pending_work WHERE kind = %s ORDER BY since", (kind,)
            ).fetchall()
        )
        return [Namespace.parse(r[0]) for r in rows]

    def mark_turns_stored(self, ns: Namespace, turn_ids: Iterable[str]) -> None:
        ids = sorted(set(turn_ids))
        self._db.tx(
            lambda cur: cur.execute(
                "UPDATE turns SET status = 'stored' WHERE ns = %s AND turn_id = ANY(%s)",
                (ns.key, ids),
            )
        )

    def turns(
        self, ns: Namespace, ids: Sequence[str] | None = None, *, session_id: str | None = None
    ) -> list[Turn]:
        """Journaled turns of a namespace (only ``ids``, or only one session's), in the order
        they were recorded."""
        one_turn_selector(ids, session_id)
        query = "SELECT payload FROM turns WHERE ns = %s ORDER BY seq"
        args: tuple[Any, ...] = (ns.key,)
        if ids is not None:
            query = "SELECT payload FROM turns WHERE ns = %s AND turn_id = ANY(%s) ORDER BY seq"
            args = (ns.key, list(ids))
        elif session_id is not None:
            query = "SELECT payload FROM turns WHERE ns = %s AND session_id = %s ORDER BY seq"
            args = (ns.key, session_id)
        rows = self._db.tx(lambda cur: cur.execute(query, args).fetchall())
        return [Turn.model_validate_json(r[0]) for r in rows]

    def pending_turns(self) -> list[tuple[Namespace, Turn]]:
        """Turns that were journaled but whose units were never stored (whoever owns them)."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT ns, payload FROM turns WHERE status = 'pending' ORDER BY seq"
            ).fetchall()
        )
        return [(Namespace.parse(ns), Turn.model_validate_json(p)) for ns, p in rows]

    def adopt_turns(self) -> list[tuple[Namespace, Turn]]:
        """Pending turns whose owner is gone, in the order they arrived: this journal's now."""

        def run(cur: Cursor) -> list[tuple[Any, ...]]:
            rows = cur.execute(
                "SELECT seq, owner, ns, payload FROM turns WHERE status = 'pending' ORDER BY seq"
            ).fetchall()
            return self._adopt(cur, "turns", "seq", rows)

        return [(Namespace.parse(r[1]), Turn.model_validate_json(r[2])) for r in self._db.tx(run)]

    def delete_turns(self, ns: Namespace, turn_ids: Iterable[str]) -> None:
        ids = sorted(set(turn_ids))
        self._db.tx(
            lambda cur: cur.execute(
                "DELETE FROM turns WHERE ns = %s AND turn_id = ANY(%s)", (ns.key, ids)
            )
        )

    def count_turns(self, ns: Namespace | None = None) -> int:
        if ns is None:
            query, args = "SELECT count(*) FROM turns", ()
        else:
            query, args = "SELECT count(*) FROM turns WHERE ns = %s", (ns.key,)  # type: ignore[assignment]
        return int(self._db.tx(lambda cur: cur.execute(query, args).fetchone())[0])  # type: ignore[index]

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
        self._lease.check()
        now = utcnow().isoformat()

        def run(cur: Cursor) -> list[int]:
            op_ids = []
            for intent in intents:
                row = cur.execute(
                    "INSERT INTO ops (ns, kind, payload, reason, status, created_at, run_id, "
                    "owner) VALUES (%s,%s,%s,%s,'pending',%s,%s,%s) RETURNING op_id",
                    (
                        ns.key,
                        intent.kind,
                        json.dumps(intent.payload),
                        intent.reason,
                        now,
                        intent.run_id,
                        self.owner,
                    ),
                ).fetchone()
                assert row is not None
                op_id = int(row[0])
                cur.executemany(
                    "INSERT INTO op_units (op_id, ns, unit_id, position) VALUES (%s,%s,%s,%s) "
                    "ON CONFLICT DO NOTHING",
                    [(op_id, ns.key, u, i) for i, u in enumerate(dict.fromkeys(intent.unit_ids))],
                )
                op_ids.append(op_id)
            return op_ids

        return self._db.tx(run)

    def complete(
        self,
        op_ids: int | Sequence[int],
        *,
        provenance: Sequence[tuple[Namespace, str, str]] = (),
        drop_provenance: Sequence[tuple[Namespace, str]] = (),
        stored_turns: Sequence[tuple[Namespace, str]] = (),
    ) -> dict[str, int]:
        """Mark intents done, updating provenance and turn status, in one transaction; each
        namespace they belong to moves to its next version, stamped on them (the change feed).
        Returns namespace key → new version."""
        ids = [op_ids] if isinstance(op_ids, int) else list(op_ids)

        def run(cur: Cursor) -> dict[str, int]:
            versions = self._bump(cur, ids)
            drop = sorted({(ns.key, u) for ns, u in drop_provenance})
            cur.executemany("DELETE FROM provenance WHERE ns = %s AND unit_id = %s", drop)
            cur.executemany("DELETE FROM access WHERE ns = %s AND unit_id = %s", drop)
            cur.executemany(
                "INSERT INTO provenance (ns, unit_id, source_id) VALUES (%s,%s,%s) "
                "ON CONFLICT DO NOTHING",
                sorted({(ns.key, u, s) for ns, u, s in provenance}),
            )
            cur.executemany(
                "UPDATE turns SET status = 'stored' WHERE ns = %s AND turn_id = %s",
                sorted({(ns.key, t) for ns, t in stored_turns}),
            )
            done = utcnow().isoformat()
            cur.executemany(
                "UPDATE ops SET status = 'done', done_at = %s, seq = %s "
                "WHERE op_id = %s AND ns = %s",
                [(done, versions[key], op_id, key) for op_id, key in self._op_ns(cur, ids)],
            )
            return versions

        return self._db.tx(run)

    @staticmethod
    def _op_ns(cur: Cursor, op_ids: list[int]) -> list[tuple[int, str]]:
        rows = cur.execute("SELECT op_id, ns FROM ops WHERE op_id = ANY(%s)", (op_ids,))
        return [(int(r[0]), r[1]) for r in rows]

    def _bump(self, cur: Cursor, op_ids: list[int]) -> dict[str, int]:
        """Move every namespace of ``op_ids`` to its next version, in key order (row locks held
        until commit, so concurrent completions of one namespace queue up)."""
        versions: dict[str, int] = {}
        for key in sorted({k for _, k in self._op_ns(cur, op_ids)}):
            row = cur.execute(
                "INSERT INTO ns_versions (ns, version) VALUES (%s, 1) ON CONFLICT (ns) DO UPDATE "
                "SET version = ns_versions.version + 1 RETURNING version",
                (key,),
            ).fetchone()
            assert row is not None
            versions[key] = int(row[0])
        return versions

    # -- the change feed -----------------------------------------------------------------------

    def version(self, ns: Namespace) -> int:
        """The namespace's durable version: how many completed writes it has seen."""
        row = self._db.tx(
            lambda cur: cur.execute(
                "SELECT version FROM ns_versions WHERE ns = %s", (ns.key,)
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    def changed_since(self, ns: Namespace, version: int) -> tuple[int, list[str]]:
        """(the version now, ids of the units that completed writes touched after ``version``),
        in the order the writes touched them. Versions commit in order (one namespace's bumps
        queue on its row), so every write up to the version read is visible with it."""

        def run(cur: Cursor) -> tuple[int, list[Any]]:
            row = cur.execute("SELECT version FROM ns_versions WHERE ns = %s", (ns.key,)).fetchone()
            now = 0 if row is None else int(row[0])
            rows = cur.execute(
                "SELECT u.unit_id FROM ops o JOIN op_units u ON u.op_id = o.op_id "
                "WHERE o.ns = %s AND u.ns = %s AND o.seq > %s AND o.seq <= %s "
                "ORDER BY o.seq, o.op_id, u.position",
                (ns.key, ns.key, version, now),
            ).fetchall()
            return now, rows

        now, rows = self._db.tx(run)
        return now, list(dict.fromkeys(r[0] for r in rows))

    def pending(self) -> list[JournalOp]:
        """Intents not marked done (whoever owns them), oldest first."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                f"SELECT {_OP_COLUMNS} FROM ops o WHERE status = 'pending' ORDER BY op_id"
            ).fetchall()
        )
        return [_op(r) for r in rows]

    def adopt_intents(self) -> list[JournalOp]:
        """Intents not marked done whose owner is gone, oldest first: this journal's now."""

        def run(cur: Cursor) -> list[tuple[Any, ...]]:
            rows = cur.execute(
                f"SELECT o.op_id, o.owner, {_OP_COLUMNS} FROM ops o "
                "WHERE status = 'pending' ORDER BY op_id"
            ).fetchall()
            return self._adopt(cur, "ops", "op_id", rows)

        return [_op(r[1:]) for r in self._db.tx(run)]

    def unit_states(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every unit's last stored version (as JSON), by namespace key, replaying all intents
        (see :meth:`memory.journal.Journal.unit_states`)."""
        rows = self._db.tx(
            lambda cur: cur.execute("SELECT ns, kind, payload FROM ops ORDER BY op_id").fetchall()
        )
        return _unit_states(rows)

    def ops_for_unit(self, ns: Namespace, unit_id: str) -> list[JournalOp]:
        """Every recorded write that touched ``unit_id``, oldest first."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                f"SELECT {_OP_COLUMNS} FROM ops o JOIN op_units u ON o.op_id = u.op_id "
                "WHERE u.ns = %s AND u.unit_id = %s AND o.ns = %s ORDER BY o.op_id",
                (ns.key, unit_id, ns.key),
            ).fetchall()
        )
        return [_op(r) for r in rows]

    def count_ops(self, status: str | None = None) -> int:
        if status is None:
            query, args = "SELECT count(*) FROM ops", ()
        else:
            query, args = "SELECT count(*) FROM ops WHERE status = %s", (status,)  # type: ignore[assignment]
        return int(self._db.tx(lambda cur: cur.execute(query, args).fetchone())[0])  # type: ignore[index]

    # -- provenance and access -----------------------------------------------------------------

    def derived_from(self, ns: Namespace, source_ids: Iterable[str]) -> set[str]:
        """Ids of units that name any of ``source_ids`` (turn ids or unit ids) as a source."""
        ids = list(dict.fromkeys(source_ids))
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT unit_id FROM provenance WHERE ns = %s AND source_id = ANY(%s)",
                (ns.key, ids),
            ).fetchall()
        )
        return {r[0] for r in rows}

    def record_access(self, ns: Namespace, unit_ids: Iterable[str]) -> None:
        now = utcnow().isoformat()
        ids = sorted(set(unit_ids))  # one lock order for every worker
        self._db.tx(
            lambda cur: cur.executemany(
                "INSERT INTO access (ns, unit_id, count, last) VALUES (%s,%s,1,%s) "
                "ON CONFLICT (ns, unit_id) DO UPDATE SET count = access.count + 1, "
                "last = excluded.last",
                [(ns.key, u, now) for u in ids],
            )
        )

    def access(self, ns: Namespace, unit_ids: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        ids = list(dict.fromkeys(unit_ids))
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT unit_id, count, last FROM access WHERE ns = %s AND unit_id = ANY(%s)",
                (ns.key, ids),
            ).fetchall()
        )
        return {u: (int(c), datetime.fromisoformat(t)) for u, c, t in rows}

    def runs_for_units(self, ns: Namespace, unit_ids: Iterable[str]) -> set[str]:
        """The graph runs whose intents wrote any of ``unit_ids``."""
        ids = list(dict.fromkeys(unit_ids))
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT DISTINCT o.run_id FROM ops o JOIN op_units u ON u.op_id = o.op_id "
                "WHERE u.ns = %s AND o.ns = %s AND u.unit_id = ANY(%s) "
                "AND o.run_id IS NOT NULL",
                (ns.key, ns.key, ids),
            ).fetchall()
        )
        return {r[0] for r in rows}

    # -- erasure -------------------------------------------------------------------------------

    def erase(self, ns: Namespace, unit_ids: Iterable[str]) -> None:
        """Drop every copy of these units' content from the intents that carried it (see
        :meth:`memory.journal.Journal.erase`); dead row versions stay until :meth:`compact`."""
        doomed = set(unit_ids)

        def run(cur: Cursor) -> None:
            rows = cur.execute(
                "SELECT o.op_id, o.payload FROM ops o WHERE o.ns = %s AND o.op_id IN "
                "(SELECT op_id FROM op_units WHERE ns = %s AND unit_id = ANY(%s)) "
                "ORDER BY o.op_id FOR UPDATE",
                (ns.key, ns.key, sorted(doomed)),
            ).fetchall()
            updates = []
            for op_id, payload in rows:
                data = json.loads(payload)
                if "units" in data:
                    data["units"] = [u for u in data["units"] if u.get("id") not in doomed]
                updates.append((json.dumps(data), op_id))
            cur.executemany(
                "UPDATE ops SET payload = %s, reason = 'erased' WHERE op_id = %s", updates
            )

        self._db.tx(run)

    def compact(self) -> None:
        """Rewrite the journal's tables (``VACUUM FULL``), so erased row versions leave them.

        PostgreSQL's write-ahead log and any backups keep old pages until they are recycled:
        those are the server operator's to manage.
        """
        self._db.vacuum(["ops", "op_units", "turns", "provenance", "access", "writes"])

    def close(self) -> None:
        self._lease.release()
        self._db.release()
