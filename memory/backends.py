"""What the memory store and the engine need from their durable stores, whatever holds them.

Two implementations sit behind each protocol: SQLite files in the data folder (the embedded
default: :class:`~memory.journal.Journal`, :class:`~memory.hypergraph.HypergraphStore`,
:class:`~memory.traces.TraceStore`) and one PostgreSQL database shared by every worker
(:mod:`memory.pg_journal`, :mod:`memory.pg_hypergraph`, :mod:`memory.pg_traces`), chosen by
``HYPERMNESIA_DATABASE_URL``. Both keep the namespace inside every statement; the contract tests
run the same suites against both.

*Adopting* is how a crash is finished across processes: every pending write, intent and raw turn
is owned by the journal that recorded it, which holds a lease for as long as it is open (a file
lock, or a PostgreSQL advisory lock). Work whose owner's lease is gone — its process was killed or
closed — is taken over by exactly one other journal, which becomes its owner; work of a live owner
is never touched, so nothing is applied twice at the same time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from memory.hypergraph import HypergraphStats
    from memory.hypergraph_algorithms import Incidence
    from memory.journal import Intent, JournalOp, PendingWrite
    from memory.model import Hyperedge, Namespace, Turn, Vertex, VertexKind
    from memory.settings import Settings
    from memory.traces import RunTotals, TraceRun, TraceStep

__all__ = [
    "ChangeFeed",
    "GraphStore",
    "JournalStore",
    "TraceLog",
    "open_durable_stores",
    "open_trace_store",
]


class ChangeFeed(Protocol):
    """Per-namespace durable versions and what changed between two of them."""

    def version(self, ns: Namespace) -> int: ...

    def changed_since(self, ns: Namespace, version: int) -> tuple[int, list[str]]: ...


class JournalStore(ChangeFeed, Protocol):
    """Raw turns, write intents, write records, provenance, access counts and the change feed."""

    def record_turns(self, ns: Namespace, turns: Sequence[Turn]) -> None: ...

    def record_write(self, ns: Namespace, turns: Sequence[Turn], session_end: bool) -> int: ...

    def finish_write(self, write_id: int) -> None: ...

    def pending_writes(self) -> list[PendingWrite]: ...

    def adopt_writes(self) -> list[PendingWrite]: ...

    def mark_pending(self, ns: Namespace, kind: str) -> None: ...

    def clear_pending(self, ns: Namespace, kind: str) -> None: ...

    def pending_work(self, kind: str) -> list[Namespace]: ...

    def mark_turns_stored(self, ns: Namespace, turn_ids: Iterable[str]) -> None: ...

    def turns(
        self, ns: Namespace, ids: Sequence[str] | None = None, *, session_id: str | None = None
    ) -> list[Turn]: ...

    def pending_turns(self) -> list[tuple[Namespace, Turn]]: ...

    def adopt_turns(self) -> list[tuple[Namespace, Turn]]: ...

    def delete_turns(self, ns: Namespace, turn_ids: Iterable[str]) -> None: ...

    def count_turns(self, ns: Namespace | None = None) -> int: ...

    def begin_many(self, ns: Namespace, intents: Sequence[Intent]) -> list[int]: ...

    def complete(
        self,
        op_ids: int | Sequence[int],
        *,
        provenance: Sequence[tuple[Namespace, str, str]] = (),
        drop_provenance: Sequence[tuple[Namespace, str]] = (),
        stored_turns: Sequence[tuple[Namespace, str]] = (),
    ) -> dict[str, int]: ...

    def pending(self) -> list[JournalOp]: ...

    def adopt_intents(self) -> list[JournalOp]: ...

    def unit_states(self) -> dict[str, dict[str, dict[str, Any]]]: ...

    def ops_for_unit(self, ns: Namespace, unit_id: str) -> list[JournalOp]: ...

    def count_ops(self, status: str | None = None) -> int: ...

    def derived_from(self, ns: Namespace, source_ids: Iterable[str]) -> set[str]: ...

    def record_access(self, ns: Namespace, unit_ids: Iterable[str]) -> None: ...

    def access(self, ns: Namespace, unit_ids: Sequence[str]) -> dict[str, tuple[int, datetime]]: ...

    def runs_for_units(self, ns: Namespace, unit_ids: Iterable[str]) -> set[str]: ...

    def erase(self, ns: Namespace, unit_ids: Iterable[str]) -> None: ...

    def compact(self) -> None: ...

    def close(self) -> None: ...


class GraphStore(Protocol):
    """Vertices and hyperedges per namespace, and the walks over them."""

    def add(
        self, ns: Namespace, edges: Sequence[Hyperedge], vertices: Sequence[Vertex]
    ) -> None: ...

    def set_current(self, ns: Namespace, edge_ids: Sequence[str], current: bool) -> None: ...

    def remove(self, ns: Namespace, edge_ids: Sequence[str]) -> int: ...

    def get_edges(self, ns: Namespace, ids: Sequence[str]) -> list[Hyperedge]: ...

    def get_vertices(self, ns: Namespace, ids: Sequence[str]) -> list[Vertex]: ...

    def find_vertices(
        self, ns: Namespace, labels: Iterable[str], kind: VertexKind | None = None
    ) -> list[Vertex]: ...

    def incident_edges(
        self, ns: Namespace, vertex_ids: Sequence[str], *, current_only: bool = False
    ) -> list[Hyperedge]: ...

    def neighbours(
        self, ns: Namespace, vertex_id: str, *, current_only: bool = False
    ) -> set[str]: ...

    def edge_ids(self, ns: Namespace, *, current_only: bool = False) -> list[str]: ...

    def stats(self, ns: Namespace | None = None) -> HypergraphStats: ...

    def namespaces(self) -> list[Namespace]: ...

    def incidence(self, ns: Namespace, *, current_only: bool = True) -> Incidence: ...

    def expand(
        self,
        ns: Namespace,
        seed_vertices: Sequence[str] = (),
        seed_edges: Sequence[str] = (),
        *,
        hops: int = 1,
        current_only: bool = True,
        max_edges: int | None = None,
    ) -> dict[str, int]: ...

    def personalized_pagerank(
        self,
        ns: Namespace,
        seed_vertices: Mapping[str, float] = ...,
        seed_edges: Mapping[str, float] = ...,
        *,
        alpha: float = 0.85,
        current_only: bool = True,
        max_iter: int = 100,
        tol: float = 1e-6,
    ) -> tuple[dict[str, float], dict[str, float]]: ...

    def compact(self) -> None: ...

    def close(self) -> None: ...


class TraceLog(Protocol):
    """Append-only runs and their steps, and the trace viewer's queries over them."""

    def start(self, run_id: str, graph: str, namespace: str, inputs: dict[str, Any]) -> None: ...

    def append(self, run_id: str, steps: list[TraceStep]) -> None: ...

    def finish(self, run_id: str, status: str, outputs: dict[str, Any]) -> None: ...

    def list_runs(self, namespace: str | None = None, limit: int = 20) -> list[TraceRun]: ...

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
    ) -> list[TraceRun]: ...

    def runs_with_unit(
        self, namespace: str, unit_id: str, *, limit: int = 50
    ) -> list[tuple[TraceRun, bool]]: ...

    def namespaces(self) -> list[str]: ...

    def totals(self, run_ids: Sequence[str]) -> dict[str, RunTotals]: ...

    def get(self, run_id: str) -> TraceRun: ...

    def runs_mentioning(self, namespace: str, unit_ids: Sequence[str]) -> set[str]: ...

    def erase(self, run_ids: Iterable[str]) -> None: ...

    def compact(self) -> None: ...

    def close(self) -> None: ...


def open_durable_stores(root: Path, settings: Settings) -> tuple[GraphStore, JournalStore]:
    """The hypergraph and the journal: in PostgreSQL when ``settings.database_url`` is set (the
    schema migrated on first use), else SQLite files under ``root``."""
    if settings.database_url:
        from memory.pg_hypergraph import PgHypergraphStore
        from memory.pg_journal import PgJournal

        graph: GraphStore = PgHypergraphStore(
            settings.database_url, pool_size=settings.database_pool_size
        )
        try:
            return graph, PgJournal(settings.database_url, pool_size=settings.database_pool_size)
        except BaseException:
            graph.close()
            raise
    from memory.hypergraph import HypergraphStore
    from memory.journal import Journal

    graph = HypergraphStore(root / "hypergraph.sqlite3")
    try:
        return graph, Journal(root / "journal.sqlite3")
    except BaseException:
        graph.close()
        raise


def open_trace_store(root: Path, settings: Settings) -> TraceLog:
    """The trace store, in PostgreSQL or in ``root/traces.sqlite3`` (see
    :func:`open_durable_stores`)."""
    if settings.database_url:
        from memory.pg_traces import PgTraceStore

        return PgTraceStore(settings.database_url, pool_size=settings.database_pool_size)
    from memory.traces import TraceStore

    return TraceStore(root / "traces.sqlite3")
