"""The trace store in PostgreSQL: the same contract as :class:`memory.traces.TraceStore`, its runs
and steps in the ``trace_*`` tables every worker shares, so any worker shows any run.

Steps are stored as JSON text; the viewer's queries (totals, the runs naming a unit) read them as
``jsonb`` on the server, as the SQLite store reads them with ``json_each``. Times are ISO 8601 text
in UTC, compared byte-wise (``COLLATE "C"``), so their order is the order of the times.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from memory.errors import UnitNotFoundError
from memory.model import utcnow
from memory.postgres import Cursor, PgDatabase
from memory.traces import RunTotals, TraceRun, TraceStep, _run, _utc

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

    def find_runs(
        self,
        namespaces: Collection[str] | None = None,
        *,
        graph: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TraceRun]:
        """Runs of ``namespaces`` (None: every one), most recent first, without their steps,
        that match every filter given; ``text`` is looked for in the question, ignoring case as
        the server's ``lower()`` does (ASCII letters only under the C locale)."""
        where, args = _run_filters(namespaces, graph, status, since, until, text)
        rows = self._db.tx(
            lambda cur: cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM trace_runs{where} "
                'ORDER BY started_at COLLATE "C" DESC, seq DESC LIMIT %s OFFSET %s',
                (*args, limit, offset),
            ).fetchall()
        )
        return [_run(r) for r in rows]

    def runs_with_unit(
        self, namespace: str, unit_id: str, *, limit: int = 50
    ) -> list[tuple[TraceRun, bool]]:
        """The most recent runs of ``namespace`` whose steps name ``unit_id`` (written, judged,
        packed or only ranked), each with whether a retriever step packed it."""
        rows = self._db.tx(
            lambda cur: cur.execute(_WITH_UNIT, (unit_id, namespace, unit_id, limit)).fetchall()
        )
        return [(_run(r[:-1]), bool(r[-1])) for r in rows]

    def namespaces(self) -> list[str]:
        """Every namespace with a recorded run, sorted (byte-wise, as SQLite sorts them)."""
        rows = self._db.tx(
            lambda cur: cur.execute(
                'SELECT ns FROM (SELECT DISTINCT ns FROM trace_runs) d ORDER BY ns COLLATE "C"'
            ).fetchall()
        )
        return [r[0] for r in rows]

    def totals(self, run_ids: Sequence[str]) -> dict[str, RunTotals]:
        """Steps, LLM calls, tokens, cost and fallbacks of each run, added up on the server."""
        found = {run_id: RunTotals() for run_id in run_ids}
        if not found:
            return found
        rows = self._db.tx(lambda cur: cur.execute(_TOTALS, (list(found),)).fetchall())
        for run_id, steps, fallbacks, calls, tokens_in, tokens_out, cost, unknown in rows:
            found[run_id] = RunTotals(
                steps=int(steps),
                fallbacks=int(fallbacks),
                llm_calls=int(calls or 0),
                input_tokens=int(tokens_in or 0),
                output_tokens=int(tokens_out or 0),
                cost_usd=None if unknown else float(cost or 0.0),
            )
        return found

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


_TOTALS = """
SELECT run_id, count(*), count(*) FILTER (WHERE fallback), sum(calls), sum(tokens_in),
       sum(tokens_out), sum(cost), sum(unknown)
FROM (
    SELECT s.run_id AS run_id, (s.payload::jsonb ->> 'fallback') IS NOT NULL AS fallback,
           count(j.value) AS calls,
           sum((j.value ->> 'input_tokens')::bigint) AS tokens_in,
           sum((j.value ->> 'output_tokens')::bigint) AS tokens_out,
           sum((j.value ->> 'cost_usd')::float8) AS cost,
           count(j.value) FILTER (WHERE j.value ->> 'cost_usd' IS NULL) AS unknown
    FROM trace_steps s
    LEFT JOIN LATERAL jsonb_array_elements(s.payload::jsonb -> 'llm_calls') j(value) ON true
    WHERE s.run_id = ANY(%s) GROUP BY s.run_id, s.seq
) t
GROUP BY run_id
"""
_WITH_UNIT = f"""
SELECT {", ".join("r." + c for c in _RUN_COLUMNS.split(", "))}, EXISTS (
    SELECT 1 FROM trace_steps p, jsonb_array_elements(p.payload::jsonb -> 'retrieved') j(value)
    WHERE p.run_id = r.run_id AND j.value ->> 0 = %s
)
FROM trace_runs r
WHERE r.ns = %s
  AND EXISTS (SELECT 1 FROM trace_steps s WHERE s.run_id = r.run_id AND strpos(s.payload, %s) > 0)
ORDER BY r.started_at COLLATE "C" DESC, r.seq DESC LIMIT %s
"""


def _run_filters(
    namespaces: Collection[str] | None,
    graph: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    text: str | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space) and arguments of :meth:`PgTraceStore.find_runs`."""
    clauses: list[str] = []
    args: list[Any] = []
    if namespaces is not None:
        clauses.append("ns = ANY(%s)")
        args.append(sorted(namespaces))
    for column, value in (("graph", graph), ("status", status)):
        if value:
            clauses.append(f"{column} = %s")
            args.append(value)
    if since is not None:
        clauses.append('started_at COLLATE "C" >= %s')
        args.append(_utc(since))
    if until is not None:
        clauses.append('started_at COLLATE "C" <= %s')
        args.append(_utc(until))
    if text:
        clauses.append("strpos(lower(input::jsonb ->> 'question'), lower(%s)) > 0")
        args.append(text)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
