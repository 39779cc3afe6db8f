"""Trace store: every graph run appends the steps its agents took, with the reason for each.

A run is one pass of a graph (one write of turns, one recall). A step is one agent decision: what it
saw (a short summary), what it decided and why, the LLM calls it made (prompt name and version,
tokens, latency, fallback), and the ids and scores it retrieved. Stored in SQLite, append-only.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from memory.errors import UnitNotFoundError
from memory.model import utcnow
from memory.sqlite import WalCheckpointer, open_sqlite

__all__ = [
    "CandidateTrace",
    "DecisionTrace",
    "LLMCallTrace",
    "RunTotals",
    "TraceRun",
    "TraceStep",
    "TraceStore",
    "new_run_id",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, graph TEXT NOT NULL, ns TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT
);
CREATE INDEX IF NOT EXISTS runs_ns ON runs (ns, started_at);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""


def new_run_id() -> str:
    """A fresh, sortable-enough run id."""
    return "run-" + utcnow().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


class LLMCallTrace(BaseModel):
    """One LLM call as the trace keeps it."""

    prompt: str
    """``name.version`` of the prompt."""
    model: str
    ok: bool
    attempts: int
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float
    cost_usd: float | None = None
    error: str | None = None
    messages: list[dict[str, str]] = Field(default_factory=list)
    """The prompt's messages as last sent (long contents cut)."""
    response: str | None = None
    """The text of the model's last reply (long ones cut)."""


class CandidateTrace(BaseModel):
    """One candidate of a read step's merged ranking: how each source ranked it in this pass, the
    scores the stages gave it, and what packing did with it."""

    unit_id: str
    rank: int
    """1-based position in the merged ranking that packing read."""
    score: float
    """Score in the merged ranking (all passes so far)."""
    source_ranks: dict[str, int] = Field(default_factory=dict)
    """Source (dense, lexical, graph) → 1-based rank in this pass; absent when not found."""
    source_scores: dict[str, float] = Field(default_factory=dict)
    """Source → that source's own score (cosine, BM25, walk probability)."""
    weight: float | None = None
    """The router's weight of the unit's granularity (None when the router was off)."""
    stages: dict[str, float] = Field(default_factory=dict)
    """This pass's score after each ranking stage, in order (``fused`` first)."""
    outcome: str
    """``packed``, or why not: over budget, duplicate provenance, upgraded to its turn…"""


class DecisionTrace(BaseModel):
    """The write judge's decision on one proposed unit, with the stored unit it matched."""

    unit_id: str
    granularity: str
    text: str
    decision: str
    target_id: str | None = None
    reason: str


class TraceStep(BaseModel):
    """One agent decision."""

    agent: str
    decision: str
    reason: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    retrieved: list[tuple[str, float]] = Field(default_factory=list)
    llm_calls: list[LLMCallTrace] = Field(default_factory=list)
    fallback: str | None = None
    """Set when an LLM step failed and the deterministic step ran instead (the loud fallback)."""
    at: datetime = Field(default_factory=utcnow)
    duration_ms: float = 0.0
    route: dict[str, float] = Field(default_factory=dict)
    """Read steps: the router's weight per granularity (empty when the router was off)."""
    candidates: list[CandidateTrace] = Field(default_factory=list)
    """Read steps: the head of the merged ranking, explained (see :class:`CandidateTrace`)."""
    decisions: list[DecisionTrace] = Field(default_factory=list)
    """Write judge steps: the decision per proposed unit."""


class RunTotals(BaseModel):
    """What a run's LLM calls added up to (zeros for a run without any)."""

    steps: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    """None when a call's price is unknown."""
    fallbacks: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class TraceRun(BaseModel):
    """A graph run with its steps."""

    run_id: str
    graph: str
    namespace: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    steps: list[TraceStep] = Field(default_factory=list)


class TraceStore:
    """Append-only SQLite store of runs and steps."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, _SCHEMA, "trace store")
        self._checkpoints = WalCheckpointer(self._db, self.path)  # steps are tens of kB each
        self._db.create_function("casefold", 1, _casefold, deterministic=True)

    def start(self, run_id: str, graph: str, namespace: str, inputs: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO runs (run_id, graph, ns, started_at, status, input) "
                "VALUES (?,?,?,?,'running',?)",
                (run_id, graph, namespace, utcnow().isoformat(), json.dumps(inputs, default=str)),
            )

    def append(self, run_id: str, steps: list[TraceStep]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM steps WHERE run_id = ?", (run_id,)
                ).fetchone()
                first = int(row[0]) + 1
                self._db.executemany(
                    "INSERT INTO steps (run_id, seq, payload) VALUES (?,?,?)",
                    [(run_id, first + i, s.model_dump_json()) for i, s in enumerate(steps)],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def finish(self, run_id: str, status: str, outputs: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, output = ? WHERE run_id = ?",
                (utcnow().isoformat(), status, json.dumps(outputs, default=str), run_id),
            )

    def list_runs(self, namespace: str | None = None, limit: int = 20) -> list[TraceRun]:
        """Most recent runs first, without their steps."""
        query = "SELECT * FROM runs"
        args: tuple[Any, ...] = ()
        if namespace is not None:
            query += " WHERE ns = ?"
            args = (namespace,)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
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
        that match every filter given; ``text`` is looked for in the question, ignoring case."""
        where, args = _run_filters(namespaces, graph, status, since, until, text)
        query = f"SELECT * FROM runs{where} ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit, offset)).fetchall()
        return [_run(r) for r in rows]

    def runs_with_unit(
        self, namespace: str, unit_id: str, *, limit: int = 50
    ) -> list[tuple[TraceRun, bool]]:
        """The most recent runs of ``namespace`` whose steps name ``unit_id`` (written, judged,
        packed or only ranked), each with whether a retriever step packed it."""
        with self._lock:
            rows = self._db.execute(_WITH_UNIT, (unit_id, namespace, unit_id, limit)).fetchall()
        return [(_run(r[:-1]), bool(r[-1])) for r in rows]

    def namespaces(self) -> list[str]:
        """Every namespace with a recorded run, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT ns FROM runs ORDER BY ns").fetchall()
        return [r[0] for r in rows]

    def totals(self, run_ids: Sequence[str]) -> dict[str, RunTotals]:
        """Steps, LLM calls, tokens, cost and fallbacks of each run, added up in SQLite."""
        found = {run_id: RunTotals() for run_id in run_ids}
        with self._lock:
            for chunk in _chunks(list(found)):
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(_TOTALS.format(marks=marks), chunk).fetchall():
                    run_id, steps, fallbacks, calls, tokens_in, tokens_out, cost, unknown = row
                    found[run_id] = RunTotals(
                        steps=steps,
                        fallbacks=fallbacks,
                        llm_calls=calls or 0,
                        input_tokens=tokens_in or 0,
                        output_tokens=tokens_out or 0,
                        cost_usd=None if unknown else (cost or 0.0),
                    )
        return found

    def get(self, run_id: str) -> TraceRun:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise UnitNotFoundError(f"no trace run {run_id!r}")
            steps = self._db.execute(
                "SELECT payload FROM steps WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        run = _run(row)
        run.steps = [TraceStep.model_validate_json(s[0]) for s in steps]
        return run

    def runs_mentioning(self, namespace: str, unit_ids: Sequence[str]) -> set[str]:
        """Runs of ``namespace`` whose steps name any of ``unit_ids`` (retrieved or decided)."""
        found: set[str] = set()
        with self._lock:
            for uid in dict.fromkeys(unit_ids):
                rows = self._db.execute(
                    "SELECT DISTINCT s.run_id FROM steps s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE r.ns = ? AND instr(s.payload, ?) > 0",
                    (namespace, uid),
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def erase(self, run_ids: Iterable[str]) -> None:
        """Replace the steps of these runs with one saying they were erased, and their input
        and output (a question, counts) with a marker: the runs' times, graphs and status stay;
        whatever they quoted goes."""
        note = TraceStep(
            agent="engine",
            decision="erased",
            reason="this run wrote or retrieved memory that was forgotten",
        ).model_dump_json()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for run_id in run_ids:
                    self._db.execute(
                        "UPDATE runs SET input = ?, output = ? WHERE run_id = ?",
                        ('{"erased": true}', '{"erased": true}', run_id),
                    )
                    self._db.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
                    self._db.execute(
                        "INSERT INTO steps (run_id, seq, payload) VALUES (?, 0, ?)", (run_id, note)
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def compact(self) -> None:
        """Rewrite the file without free pages and empty the WAL."""
        with self._lock:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._checkpoints.close()
            self._db.close()


_TOTALS = """
SELECT run_id, count(*), sum(fallback), sum(calls), sum(tokens_in), sum(tokens_out), sum(cost),
       sum(unknown)
FROM (
    SELECT s.run_id AS run_id, json_extract(s.payload, '$.fallback') IS NOT NULL AS fallback,
           count(j.value) AS calls,
           sum(json_extract(j.value, '$.input_tokens')) AS tokens_in,
           sum(json_extract(j.value, '$.output_tokens')) AS tokens_out,
           sum(json_extract(j.value, '$.cost_usd')) AS cost,
           sum(j.value IS NOT NULL AND json_extract(j.value, '$.cost_usd') IS NULL) AS unknown
    FROM steps s LEFT JOIN json_each(s.payload, '$.llm_calls') j
    WHERE s.run_id IN ({marks}) GROUP BY s.run_id, s.seq
)
GROUP BY run_id
"""
_WITH_UNIT = """
SELECT r.*, EXISTS (
    SELECT 1 FROM steps p, json_each(p.payload, '$.retrieved') j
    WHERE p.run_id = r.run_id AND json_extract(j.value, '$[0]') = ?
)
FROM runs r
WHERE r.ns = ?
  AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.run_id AND instr(s.payload, ?) > 0)
ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?
"""
_CHUNK = 500


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _run_filters(
    namespaces: Collection[str] | None,
    graph: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    text: str | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space) and arguments of :meth:`TraceStore.find_runs`."""
    clauses: list[str] = []
    args: list[Any] = []
    if namespaces is not None:
        names = sorted(namespaces)
        clauses.append(f"ns IN ({','.join('?' * len(names))})" if names else "0")
        args += names
    for column, value in (("graph", graph), ("status", status)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        clauses.append("started_at >= ?")
        args.append(_utc(since))
    if until is not None:
        clauses.append("started_at <= ?")
        args.append(_utc(until))
    if text:
        clauses.append("instr(casefold(json_extract(input, '$.question')), ?) > 0")
        args.append(text.casefold())
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _utc(value: datetime) -> str:
    """``value`` as the stored times are written (UTC ISO 8601; a naive time is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _casefold(value: Any) -> str | int | float | bytes | None:
    return value.casefold() if isinstance(value, str) else value


def _run(row: tuple[Any, ...]) -> TraceRun:
    run_id, graph, ns, started, finished, status, inputs, outputs = row
    return TraceRun(
        run_id=run_id,
        graph=graph,
        namespace=ns,
        started_at=datetime.fromisoformat(started),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        status=status,
        input=json.loads(inputs),
        output=json.loads(outputs) if outputs else None,
    )
