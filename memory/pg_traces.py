"""The trace store in PostgreSQL: the same contract as :class:`memory.traces.TraceStore`, its runs
and steps in the ``trace_*`` tables every worker shares, so any worker shows any run."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from memory.errors import UnitNotFoundError
from memory.model import utcnow
from memory.postgres import Cursor, PgDatabase
from memory.traces import TraceRun, TraceStep, _run

__all__ = ["PgTraceStore"]

_RUN_COLUMNS = "run_id, graph, ns, started_at, finished_at, status, input, output"


class PgTraceStore:
    """Append-only runs and steps in PostgreSQL."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._db = PgDatabase.shared(url, pool_size)

    def start(self, run_id: str, graph: str, namespace: str, inputs: dict[str, Any]) -> None:
        self._db.tx(
            lambda cur: cur.execute(
                "INSERT INTO trace_runs (run_id, graph, ns, started_at, status, input) "
                "VALUES (%s,%s,%s,%s,'running',%s) ON CONFLICT DO NOTHING",
                (run_id, graph, namespace, utcnow().isoformat(), json.dumps(inputs, default=str)),
            )
        )

    def append(self, run_id: str, steps: list[TraceStep]) -> None:
        def run(cur: Cursor) -> None:
            # the run's row is locked first, so two appends to one run number their steps apart
            cur.execute("SELECT 1 FROM trace_runs WHERE run_id = %s FOR UPDATE", (run_id,))
            row = cur.execute(
                "SELECT COALESCE(MAX(seq), -1) FROM trace_steps WHERE run_id = %s", (run_id,)
            ).fetchone()
            first = int(row[0]) + 1 if row is not None else 0
            cur.executemany(
                "INSERT INTO trace_steps (run_id, seq, payload) VALUES (%s,%s,%s)",
                [(run_id, first + i, s.model_dump_json()) for i, s in enumerate(steps)],
            )

        self._db.tx(run)

    def finish(self, run_id: str, status: str, outputs: dict[str, Any]) -> None:
        self._db.tx(
            lambda cur: cur.execute(
                "UPDATE trace_runs SET finished_at = %s, status = %s, output = %s "
                "WHERE run_id = %s",
                (utcnow().isoformat(), status, json.dumps(outputs, default=str), run_id),
            )
        )

    def list_runs(self, namespace: str | None = None, limit: int = 20) -> list[TraceRun]:
        """Most recent runs first, without their steps."""
        where, args = ("", ()) if namespace is None else (" WHERE ns = %s", (namespace,))
        rows = self._db.tx(
            lambda cur: cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM trace_runs{where} "
                'ORDER BY started_at COLLATE "C" DESC, seq DESC LIMIT %s',
                (*args, limit),
            ).fetchall()
        )
        return [_run(r) for r in rows]

    def get(self, run_id: str) -> TraceRun:
        def run(cur: Cursor) -> tuple[Any, list[Any]]:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM trace_runs WHERE run_id = %s", (run_id,)
            ).fetchone()
            steps = cur.execute(
                "SELECT payload FROM trace_steps WHERE run_id = %s ORDER BY seq", (run_id,)
            ).fetchall()
            return row, steps

        row, steps = self._db.tx(run)
        if row is None:
            raise UnitNotFoundError(f"no trace run {run_id!r}")
        found = _run(row)
        found.steps = [TraceStep.model_validate_json(s[0]) for s in steps]
        return found

    def runs_mentioning(self, namespace: str, unit_ids: Sequence[str]) -> set[str]:
        """Runs of ``namespace`` whose steps name any of ``unit_ids`` (retrieved or decided)."""
        ids = list(dict.fromkeys(unit_ids))
        if not ids:
            return set()
        rows = self._db.tx(
            lambda cur: cur.execute(
                "SELECT DISTINCT s.run_id FROM trace_steps s JOIN trace_runs r "
                "ON r.run_id = s.run_id WHERE r.ns = %s AND EXISTS "
                "(SELECT 1 FROM unnest(%s::text[]) AS u(id) WHERE strpos(s.payload, u.id) > 0)",
                (namespace, ids),
            ).fetchall()
        )
        return {r[0] for r in rows}

    def erase(self, run_ids: Iterable[str]) -> None:
        """Replace the steps of these runs with one saying they were erased, and their input
        and output with a marker (see :meth:`memory.traces.TraceStore.erase`)."""
        note = TraceStep(
            agent="engine",
            decision="erased",
            reason="this run wrote or retrieved memory that was forgotten",
        ).model_dump_json()
        ids = sorted(set(run_ids))

        def run(cur: Cursor) -> None:
            cur.execute(
                "UPDATE trace_runs SET input = %s, output = %s WHERE run_id = ANY(%s)",
                ('{"erased": true}', '{"erased": true}', ids),
            )
            cur.execute("DELETE FROM trace_steps WHERE run_id = ANY(%s)", (ids,))
            cur.executemany(
                "INSERT INTO trace_steps (run_id, seq, payload) VALUES (%s, 0, %s)",
                [(run_id, note) for run_id in ids],
            )

        self._db.tx(run)

    def compact(self) -> None:
        """Rewrite the trace tables (``VACUUM FULL``), so erased row versions leave them."""
        self._db.vacuum(["trace_steps", "trace_runs"])

    def close(self) -> None:
        self._db.release()
