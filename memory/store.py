"""``MemoryStore``: the one object agents read and write memory through.

It ties the stores together: the journal (raw turns, write intents, the change feed), the vector
store (units, their text and embeddings, on Chroma), the hypergraph (units as hyperedges over
entities and time), and this process's replica of each namespace (a hot dense index, native when
built, a BM25 index, and other values derived from them), kept at the namespace's durable version
so that writes by other processes are seen on the next call.

Every multi-store write follows the same path: validate → embed → journal the intent → apply to the
vector store and the hypergraph → mark done (which moves the namespace's version). Opening a store
replays intents that were not marked done, and stores journaled turns whose units never were, so a
crash loses nothing.

With embedded Chroma one process at a time may open a data folder (:mod:`memory.guard`); with a
Chroma server any number can share it. The journal and the hypergraph are SQLite files in the
folder, or one PostgreSQL database that every worker shares (``HYPERMNESIA_DATABASE_URL``,
:mod:`memory.backends`); a worker finishes only the crashed work of workers that are gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from memory.backends import GraphStore, JournalStore, open_durable_stores
from memory.changes import Change, merging, superseding, turn_unit, unit_edge, unit_vertices
from memory.embeddings import Embedder, embedder_from_settings
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.guard import FolderLock
from memory.journal import Intent, JournalOp, PendingWrite
from memory.lexical import LexicalIndex
from memory.model import (
    Granularity,
    MemoryUnit,
    Namespace,
    SearchHit,
    Turn,
    UnitFilter,
    VertexKind,
    vertex_id,
)
from memory.replica import DerivedUpdate, Replica
from memory.segment_vectors import quoted_turns, turn_units_by_turn, vectors_with_pooled_segments
from memory.settings import Settings
from memory.vector_rebuild import RebuildingBackend
from memory.vector_store import ChromaBackend, InMemoryBackend, VectorBackend, VectorStore
from memory.walk import GraphWalk

__all__ = [
    "Change",
    "DeleteReport",
    "HistoryEvent",
    "MemoryStore",
    "PendingWrite",
    "StoreStats",
    "merging",
    "superseding",
    "turn_unit",
    "unit_vertices",
    "validate_turns",
]

Backend = Literal["chroma", "memory"]
_LINKING_OPS = frozenset({"supersede", "merge", "reopen"})
#: Texts whose vectors the store keeps for reuse (the write path embeds a text twice, and a bulk
#: import embeds texts ahead of their writes).
_EMBED_CACHE_SIZE = 8192
_NO_SEEDS: Mapping[str, float] = MappingProxyType({})
T = TypeVar("T")


class StoreStats(BaseModel):
    """Counts across the stores, for one namespace or all."""

    namespaces: int
    turns: int
    units: int
    units_by_granularity: dict[str, int]
    current_units: int
    vertices: int
    hyperedges: int
    pending_ops: int


class HistoryEvent(BaseModel):
    """One recorded change to a unit."""

    at: datetime
    op: str
    reason: str | None
    unit_ids: list[str]


class DeleteReport(BaseModel):
    """What a delete removed, including what cascaded through provenance."""

    requested: list[str]
    deleted: list[str]
    turns_deleted: list[str]
    reopened: list[str] = []
    """Units whose successor was deleted: current again (a ``reopen`` in their history)."""
    runs: list[str] = []
    """Graph runs that wrote the deleted units (their traces and checkpoints hold copies)."""


class MemoryStore:
    """Durable, namespaced memory. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self,
        vectors: VectorStore,
        hypergraph: GraphStore,
        journal: JournalStore,
        embedder: Embedder,
        *,
        lock: FolderLock | None = None,
    ) -> None:
        self._vectors = vectors
        self._hypergraph = hypergraph
        self._journal = journal
        self._lock = lock
        self.embedder = embedder
        self._write_lock = threading.RLock()
        self._replica = Replica(journal, vectors, embedder.dim)
        self._embed_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._embed_lock = threading.Lock()
        self.recover()

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        backend: Backend = "chroma",
    ) -> MemoryStore:
        """Open (creating if needed) the stores under ``data_dir`` and replay unfinished writes.

        Vectors go to a Chroma server when ``settings.chroma_host`` is set, else to embedded
        Chroma under ``data_dir``; the journal and hypergraph to PostgreSQL when
        ``settings.database_url`` is set, else to SQLite files under ``data_dir``.
        ``backend="memory"`` keeps vectors in process memory (the reference backend, for tests).
        An embedded Chroma index that Chroma can no longer read is rebuilt from the journal
        (:mod:`memory.vector_rebuild`); a Chroma server keeps its own files and is not rebuilt.
        """
        settings = settings or Settings()
        root = Path(data_dir) if data_dir is not None else settings.data_dir
        if root.exists() and not root.is_dir():
            raise InvalidInputError(f"data directory {root} exists and is not a directory")
        root.mkdir(parents=True, exist_ok=True)
        embedder = embedder or embedder_from_settings(settings)
        lock = None
        vector_backend: VectorBackend
        if backend == "memory":
            vector_backend = InMemoryBackend()
        elif settings.chroma_host:
            vector_backend = ChromaBackend.http(
                settings.chroma_host,
                settings.chroma_port,
                embedder,
                collection=settings.chroma_collection,
            )
        else:
            lock = FolderLock(root)
        durable: tuple[GraphStore, JournalStore] | None = None
        try:
            durable = open_durable_stores(root, settings)
            if lock is not None:
                chroma = ChromaBackend.persistent(
                    root / "chroma", embedder, collection=settings.chroma_collection
                )
                vector_backend = RebuildingBackend(chroma, durable[1], embedder, root)
            return cls(VectorStore(vector_backend, embedder), *durable, embedder, lock=lock)
        except BaseException:
            for opened in durable or ():
                opened.close()
            if lock is not None:
                lock.release()
            raise

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every store. Chroma keeps one engine per folder per process; closing it lets
        another process (or a later open here) own the folder cleanly."""
        close_vectors = getattr(self._vectors.backend, "close", None)
        if close_vectors is not None:
            close_vectors()
        self._journal.close()
        self._hypergraph.close()
        if self._lock is not None:
            self._lock.release()

    # -- writes --------------------------------------------------------------------------------

    def record_turns(self, ns: Namespace, turns: Sequence[Turn]) -> list[Turn]:
        """Journal raw turns before anything else happens to them (never lost from here on)."""
        checked = validate_turns(turns)
        self._journal.record_turns(ns, checked)
        return checked

    def record_write(
        self, ns: Namespace, turns: Sequence[Turn], *, session_end: bool
    ) -> tuple[list[Turn], int]:
        """Journal turns with a pending write of them (see :meth:`pending_writes`); returns the
        validated turns and the write's id, for :meth:`finish_write`."""
        checked = validate_turns(turns)
        return checked, self._journal.record_write(ns, checked, session_end)

    def finish_write(self, write_id: int) -> None:
        """Everything derived from the write's turns is stored."""
        self._journal.finish_write(write_id)

    def pending_writes(self) -> list[PendingWrite]:
        """Writes whose derived units may be missing (a crash came first, or they are under way
        in a live process), oldest first."""
        return self._journal.pending_writes()

    def adopt_writes(self) -> list[PendingWrite]:
        """Pending writes of processes that are gone, now this store's to run again (each is
        handed to one process only)."""
        return self._journal.adopt_writes()

    def mark_pending(self, ns: Namespace, kind: str) -> None:
        """Record durably that a deferred job of ``kind`` is due for ``ns``."""
        self._journal.mark_pending(ns, kind)

    def clear_pending(self, ns: Namespace, kind: str) -> None:
        self._journal.clear_pending(ns, kind)

    def pending_work(self, kind: str) -> list[Namespace]:
        """Namespaces with a due job of ``kind``, the longest waiting first."""
        return self._journal.pending_work(kind)

    def add_turns(self, ns: Namespace, turns: Sequence[Turn]) -> list[MemoryUnit]:
        """Journal turns and store each as a turn-granularity unit (no analysis)."""
        checked = self.record_turns(ns, turns)
        units = [turn_unit(ns, t) for t in checked]
        self.add_units(ns, units)
        return units

    def add_units(
        self,
        ns: Namespace,
        units: Sequence[MemoryUnit],
        *,
        reason: str | None = None,
    ) -> list[str]:
        """Store units (idempotent by id) in every store; returns their ids."""
        self.apply(ns, [Change("put", tuple(units), reason)])
        return [u.id for u in units]

    def supersede(
        self, ns: Namespace, old_id: str, new_unit: MemoryUnit, *, reason: str | None = None
    ) -> MemoryUnit:
        """Close ``old_id``'s validity window and store ``new_unit`` as its successor.

        The old unit is kept (bi-temporal history); it is returned closed.
        """
        change = superseding(self.get_one(ns, old_id), new_unit, reason)
        self.apply(ns, [change])
        return change.units[0]

    def merge(
        self,
        ns: Namespace,
        keep_id: str,
        duplicate_ids: Sequence[str],
        *,
        reason: str | None = None,
    ) -> MemoryUnit:
        """Fold duplicates into ``keep_id``: it gains their provenance, they are closed onto it."""
        keep = self.get_one(ns, keep_id)
        dup_ids = [d for d in dict.fromkeys(duplicate_ids) if d != keep_id]
        dups = self.get(ns, dup_ids)
        if len(dups) != len(dup_ids):
            missing = sorted(set(dup_ids) - {d.id for d in dups})
            raise UnitNotFoundError(f"no unit {missing[0]!r} in namespace {ns.key}")
        change = merging(keep, dups, reason)
        self.apply(ns, [change])
        return change.units[0]

    def apply(self, ns: Namespace, changes: Sequence[Change], *, run_id: str | None = None) -> None:
        """Apply several changes as one multi-store write (one embedding pass, one upsert).

        Each change is journaled as its own intent (so history keeps its kind and reason, and
        ``run_id`` the graph run that made it); a unit that several changes touch is stored in its
        last version.
        """
        changes = [c for c in changes if c.units]
        if not changes:
            return
        final: dict[str, MemoryUnit] = {}
        for change in changes:
            self._check_units(ns, change.units)
            final.update({u.id: u for u in change.units})
        units = list(final.values())
        embeddings = self._vectors_for(ns, units)
        _check_embeddings(units, embeddings)
        intents = [
            Intent(
                c.kind,
                {"units": [u.model_dump(mode="json") for u in c.units]},
                tuple(u.id for u in c.units),
                c.reason,
                run_id,
            )
            for c in changes
        ]
        with self._write_lock:
            op_ids = self._journal.begin_many(ns, intents)
            self._apply_put(ns, op_ids, units, embeddings)

    def delete(
        self,
        ns: Namespace,
        ids: Sequence[str],
        *,
        cascade: bool = True,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> DeleteReport:
        """Delete units; with ``cascade`` also every unit derived from them, transitively.

        Deleting is erasing: the units leave the vectors, the hypergraph, the in-memory indexes
        and the journal's intent payloads, and deleting a turn unit removes the raw turn. A unit
        that a deleted unit had superseded (or absorbed) becomes current again. Freed bytes stay in
        the files' free pages until :meth:`compact`. ``dry_run`` returns the report of what would
        be deleted and changes nothing.
        """
        requested = list(dict.fromkeys(ids))
        doomed = self._cascade(ns, requested, cascade)
        turn_ids = sorted(
            {p for u in doomed.values() if u.granularity == Granularity.TURN for p in u.provenance}
        )
        reopened = self._reopened(ns, doomed)
        report = DeleteReport(
            requested=requested,
            deleted=sorted(doomed),
            turns_deleted=turn_ids,
            reopened=[u.id for u in reopened],
            runs=sorted(self._journal.runs_for_units(ns, doomed)),
        )
        if dry_run:
            return report
        intents = [
            Intent("delete", {"ids": sorted(doomed), "turns": turn_ids}, tuple(doomed), reason)
        ]
        if reopened:
            dumps = [u.model_dump(mode="json") for u in reopened]
            why = "its successor was forgotten"
            intents.append(Intent("reopen", {"units": dumps}, tuple(report.reopened), why))
        embeddings = self._vectors_for(ns, reopened)
        with self._write_lock:
            op_ids = self._journal.begin_many(ns, intents)
            self._apply_delete(ns, op_ids[0], sorted(doomed), turn_ids)
            if reopened:
                self._apply_put(ns, op_ids[1:], reopened, embeddings)
        self._forget_texts(u.text for u in doomed.values())
        return report

    def _cascade(
        self, ns: Namespace, requested: Sequence[str], cascade: bool
    ) -> dict[str, MemoryUnit]:
        """The requested units and, with ``cascade``, everything derived from them."""
        found = {u.id: u for u in self._vectors.get(ns, list(requested))}
        missing = [i for i in requested if i not in found]
        if missing:
            raise UnitNotFoundError(f"no unit {missing[0]!r} in namespace {ns.key}")
        doomed = dict(found)
        frontier = list(found.values())
        while cascade and frontier:
            sources = {u.id for u in frontier}
            sources |= {
                p for u in frontier if u.granularity == Granularity.TURN for p in u.provenance
            }
            new_ids = self._journal.derived_from(ns, sources) - doomed.keys()
            frontier = self._vectors.get(ns, sorted(new_ids))
            doomed.update({u.id: u for u in frontier})
        return doomed

    def _reopened(self, ns: Namespace, doomed: Mapping[str, MemoryUnit]) -> list[MemoryUnit]:
        """Surviving units closed onto a doomed one, reopened (their successor goes)."""
        units = self._replica.hot(ns).units
        return [
            u.reopened() for u in units.values() if u.superseded_by in doomed and u.id not in doomed
        ]

    def record_access(self, ns: Namespace, ids: Iterable[str]) -> None:
        """Count a retrieval of these units (for decay and importance)."""
        self._journal.record_access(ns, ids)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, ns: Namespace, ids: Sequence[str], *, access: bool = True) -> list[MemoryUnit]:
        """Units by id, in the order asked; ids not in this namespace are absent.

        Served from the in-process copy once the namespace is loaded (brought up to the durable
        version first), else from the vector store. With ``access`` (the default) each unit
        carries its recall statistics (``access_count``, ``last_accessed``), read from the
        journal; a caller that never looks at them passes ``access=False`` and skips that read.
        """
        hot = self._replica.loaded(ns)
        if hot is not None:
            self._replica.sync(ns)
            by_id = {i: u for i in ids if (u := hot.unit(i)) is not None}
        else:
            by_id = {u.id: u for u in self._vectors.get(ns, list(ids))}
        found = [by_id[i] for i in ids if i in by_id]
        return self._with_access(ns, found) if access else found

    def get_one(self, ns: Namespace, unit_id: str) -> MemoryUnit:
        units = self.get(ns, [unit_id])
        if not units:
            raise UnitNotFoundError(f"no unit {unit_id!r} in namespace {ns.key}")
        return units[0]

    def units(self, ns: Namespace, flt: UnitFilter | None = None) -> list[MemoryUnit]:
        """Every unit of a namespace that passes the filter, in the order they were first stored.

        Like :meth:`get`, served from the in-process copy once the namespace is loaded (so a
        write path that consults its facts does not scan the vector store each time).
        """
        hot = self._replica.loaded(ns)
        if hot is None:
            return [r.unit for r in self._vectors.all_records(ns, flt, with_embeddings=False)]
        self._replica.sync(ns)
        with hot.lock:
            units = list(hot.units.values())
        return units if flt is None else [u for u in units if flt.matches(u)]

    def search(
        self,
        ns: Namespace,
        query: str | np.ndarray,
        k: int = 10,
        flt: UnitFilter | None = None,
    ) -> list[SearchHit]:
        """Dense similarity search within a namespace."""
        if isinstance(query, str):
            if not query.strip():
                raise InvalidInputError("query is empty")
            vector = self.embed([query])[0]
        else:
            vector = np.asarray(query, dtype=np.float32).reshape(-1)
            if vector.shape[0] != self.embedder.dim or not np.isfinite(vector).all():
                raise InvalidInputError(
                    f"query vector must be {self.embedder.dim} finite floats, got shape "
                    f"{np.shape(query)}"
                )
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        hot = self._replica.hot(ns)
        return [
            SearchHit(unit=unit, score=score, source="dense")
            for uid, score in hot.search(vector, k, flt)
            if (unit := hot.unit(uid)) is not None
        ]

    def lexical_search(
        self,
        ns: Namespace,
        query: str,
        k: int = 10,
        granularities: frozenset[Granularity] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` current units best matching ``query`` by BM25, as (id, score), best first."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        return self.lexical_index(ns).search(query, k, granularities)

    def lexical_index(self, ns: Namespace) -> LexicalIndex:
        """The BM25 index of the namespace's current units, at the durable version."""
        return self.derived(
            ns,
            "lexical",
            lambda: LexicalIndex.build(self.current_units(ns).values()),
            LexicalIndex.updated,
        )

    def current_units(self, ns: Namespace) -> Mapping[str, MemoryUnit]:
        """The namespace's current units by id (a read-only snapshot at the durable version)."""
        return self.derived(
            ns, "current_units", lambda: _current(self._replica.hot(ns).units), _current_after
        )

    def turns(self, ns: Namespace, *, session_id: str | None = None) -> list[Turn]:
        """Journaled raw turns of a namespace (or of one session), in the order they arrived."""
        return self._journal.turns(ns, session_id=session_id)

    def units_about(
        self,
        ns: Namespace,
        labels: Iterable[str],
        *,
        granularities: frozenset[Granularity] | None = None,
    ) -> list[MemoryUnit]:
        """Current units whose hyperedge spans an entity named by one of ``labels``."""
        vertices = self._hypergraph.find_vertices(ns, labels, VertexKind.ENTITY)
        if not vertices:
            return []
        edges = self._hypergraph.incident_edges(ns, [v.id for v in vertices], current_only=True)
        ids = [e.id for e in edges if granularities is None or e.granularity in granularities]
        return [u for u in self.get(ns, ids) if u.is_current]

    def units_derived_from(self, ns: Namespace, source_ids: Iterable[str]) -> set[str]:
        """Ids of the units (current or closed) whose provenance or ``derived_from`` names one of
        ``source_ids`` (turn ids or unit ids)."""
        return self._journal.derived_from(ns, source_ids)

    def related(
        self,
        ns: Namespace,
        *,
        entities: Iterable[str] = (),
        days: Iterable[date] = (),
        seed_units: Mapping[str, float] = _NO_SEEDS,
        limit: int | None = None,
    ) -> list[tuple[str, float]]:
        """Current units ranked by personalized PageRank over the hypergraph, best first (the
        first ``limit`` when given).

        The walk starts from the vertices of the named ``entities`` and ``days`` and from
        ``seed_units`` (unit id → weight); seeds that are not in the current graph are ignored,
        and with none left the result is empty.
        """
        seeds: dict[str, float] = {}
        for label in entities:
            with suppress(InvalidInputError):  # a label that normalises to nothing names nothing
                seeds[vertex_id(ns, VertexKind.ENTITY, label)] = 1.0
        for day in days:
            seeds[vertex_id(ns, VertexKind.TIME, day.isoformat())] = 1.0
        walk: GraphWalk = self.derived(
            ns,
            "graph_walk",
            lambda: GraphWalk.build(self.current_units(ns).values()),
            GraphWalk.updated,
        )
        return walk.rank(seeds, seed_units, limit=limit)

    def derived(
        self,
        ns: Namespace,
        name: str,
        build: Callable[[], T],
        update: DerivedUpdate[T] | None = None,
    ) -> T:
        """A value computed from a namespace's contents, kept until the namespace next changes.

        Agents keep their indexes and views here, so a cache lives and dies with the store whose
        version it depends on. With ``update`` (old value, ids of the units changed since, every
        unit now by id → new value) a change costs what it changed; without, the value is built
        anew. See :class:`memory.replica.Replica`.
        """
        return self._replica.derived(ns, name, build, update)

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside the block see each namespace at one durable version (read once, not
        once per read): for read-only calls. See :meth:`memory.replica.Replica.snapshot`."""
        return self._replica.snapshot()

    def count(self, ns: Namespace) -> int:
        """Units stored in a namespace, current and closed (one hyperedge each)."""
        return self._hypergraph.stats(ns).edges

    def version(self, ns: Namespace) -> int:
        """The namespace's durable version: it moves with every completed write, whichever
        process made it."""
        return self._journal.version(ns)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, reusing recent ones (the write path embeds a text twice)."""
        with self._embed_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._embed_cache))
        if missing:
            fresh = self.embedder.embed(missing)
        with self._embed_lock:
            if missing:
                self._embed_cache.update(zip(missing, fresh, strict=True))
            found = [self._embed_cache[t] for t in texts]
            for text in texts:
                self._embed_cache.move_to_end(text)
            while len(self._embed_cache) > _EMBED_CACHE_SIZE:
                self._embed_cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack(found)

    def _vectors_for(self, ns: Namespace, units: Sequence[MemoryUnit]) -> np.ndarray:
        """Vectors of units about to be stored: a segment's is its turns' mean, found in this
        write or among the stored turn units (:mod:`memory.segment_vectors`)."""
        own = turn_units_by_turn(units)
        wanted = {t for u in units for t in quoted_turns(u) if t not in own}
        stored: dict[str, MemoryUnit] = {}
        if wanted:
            current = self.current_units(ns)
            derived = (current.get(uid) for uid in self.units_derived_from(ns, wanted))
            found = turn_units_by_turn([u for u in derived if u is not None])
            stored = {t: u for t, u in found.items() if t in wanted}
        return vectors_with_pooled_segments(
            units,
            stored,
            lambda batch: self.embed([u.text for u in batch]),
            lambda batch: self.unit_vectors(ns, batch),
        )

    def unit_vectors(self, ns: Namespace, units: Sequence[MemoryUnit]) -> np.ndarray:
        """The embeddings of ``units``' texts, one row per unit in order, without embedding
        again what was embedded before: from the recent embeddings first, then from the vectors
        stored with the units (each unit's text, embedded when it was written); only a unit with
        neither is embedded now. Reflection reads its facts' vectors here: embedding thousands of
        texts again on every run took seconds once they had left the recent embeddings."""
        if not units:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        with self._embed_lock:
            rows: list[np.ndarray | None] = [self._embed_cache.get(u.text) for u in units]
        rest = list(dict.fromkeys(u.id for u, row in zip(units, rows, strict=True) if row is None))
        records = self._vectors.backend.get(ns, rest, with_embeddings=True) if rest else []
        stored = {r.unit.id: r for r in records if r.embedding is not None}
        for i, unit in enumerate(units):
            record = stored.get(unit.id)
            if rows[i] is None and record is not None and record.unit.text == unit.text:
                rows[i] = record.embedding
        missing = [u.text for u, row in zip(units, rows, strict=True) if row is None]
        fresh = iter(self.embed(missing)) if missing else iter(())
        return np.stack([np.asarray(r if r is not None else next(fresh), np.float32) for r in rows])

    def _forget_texts(self, texts: Iterable[str]) -> None:
        with self._embed_lock:
            for text in texts:
                self._embed_cache.pop(text, None)

    def history(self, ns: Namespace, unit_id: str) -> list[HistoryEvent]:
        """Every recorded change to a unit and to the units it replaced or was replaced by.

        Supersede and merge intents link units, so the walk follows them through the journal.
        """
        seen, frontier = {unit_id}, [unit_id]
        ops: dict[int, JournalOp] = {}
        while frontier:
            for op in self._journal.ops_for_unit(ns, frontier.pop()):
                ops[op.op_id] = op
                if op.kind in _LINKING_OPS:
                    linked = set(_op_ids(op)) - seen
                    seen |= linked
                    frontier.extend(linked)
        if not ops:
            raise UnitNotFoundError(f"no history for unit {unit_id!r} in namespace {ns.key}")
        return [
            HistoryEvent(at=op.created_at, op=op.kind, reason=op.reason, unit_ids=_op_ids(op))
            for op in sorted(ops.values(), key=lambda o: o.op_id)
        ]

    def stats(self, ns: Namespace | None = None) -> StoreStats:
        namespaces = [ns] if ns is not None else self._vectors.backend.namespaces()
        by_gran: dict[str, int] = {}
        total = current = 0
        for space in namespaces:
            for record in self._vectors.all_records(space, None, with_embeddings=False):
                unit = record.unit
                by_gran[unit.granularity.value] = by_gran.get(unit.granularity.value, 0) + 1
                total += 1
                current += unit.is_current
        graph = self._hypergraph.stats(ns)
        return StoreStats(
            namespaces=len(namespaces),
            turns=self._journal.count_turns(ns),
            units=total,
            units_by_granularity=by_gran,
            current_units=current,
            vertices=graph.vertices,
            hyperedges=graph.edges,
            pending_ops=self._journal.count_ops("pending"),
        )

    def compact(self) -> None:
        """Rewrite the files without their free pages and logs, so erased bytes leave the disk.

        Every file is rewritten whole, and an embedded Chroma collection is copied anew: about
        as long as writing the store's vectors once (seconds per ten thousand units). A Chroma
        server's own files are the server's to compact.
        """
        with self._write_lock:
            self._journal.compact()
            self._hypergraph.compact()
            compact_vectors = getattr(self._vectors.backend, "compact", None)
            if compact_vectors is not None and self._lock is not None:  # embedded Chroma only
                compact_vectors()

    # -- recovery ------------------------------------------------------------------------------

    def recover(self) -> int:
        """Replay the unfinished intents and store the pending turns of processes that are gone
        (this one's earlier runs included); returns how many were replayed."""
        replayed = 0
        with self._write_lock:
            for op in self._journal.adopt_intents():
                if op.kind in ("put", "supersede", "merge", "reopen"):
                    units = [MemoryUnit.model_validate(u) for u in op.payload["units"]]
                    embeddings = self.embed([u.text for u in units])
                    self._apply_put(op.namespace, [op.op_id], units, embeddings)
                elif op.kind == "delete":
                    self._apply_delete(
                        op.namespace, op.op_id, op.payload["ids"], op.payload["turns"]
                    )
                replayed += 1
            by_ns: dict[Namespace, list[Turn]] = {}
            for space, turn in self._journal.adopt_turns():
                by_ns.setdefault(space, []).append(turn)
            for space, turns in by_ns.items():
                self.add_units(space, [turn_unit(space, t) for t in turns], reason="recovered turn")
                replayed += len(turns)
        return replayed

    # -- internals -----------------------------------------------------------------------------

    def _apply_put(
        self,
        ns: Namespace,
        op_ids: Sequence[int],
        units: Sequence[MemoryUnit],
        embeddings: np.ndarray,
    ) -> None:
        self._vectors.put(ns, units, embeddings)
        vertex_sets = [unit_vertices(u) for u in units]
        all_vertices = {v.id: v for vs in vertex_sets for v in vs}
        self._hypergraph.add(
            ns,
            [unit_edge(u, vs) for u, vs in zip(units, vertex_sets, strict=True)],
            list(all_vertices.values()),
        )
        provenance = [(ns, u.id, s) for u in units for s in (*u.provenance, *u.derived_from)]
        stored = [(ns, t) for u in units if u.granularity == Granularity.TURN for t in u.provenance]
        versions = self._journal.complete(op_ids, provenance=provenance, stored_turns=stored)
        self._replica.written(ns, units, embeddings, versions.get(ns.key, 0))

    def _apply_delete(
        self, ns: Namespace, op_id: int, ids: Sequence[str], turn_ids: Sequence[str]
    ) -> None:
        self._vectors.delete(ns, ids)
        self._hypergraph.remove(ns, ids)
        self._journal.delete_turns(ns, turn_ids)
        self._journal.erase(ns, ids)
        versions = self._journal.complete(op_id, drop_provenance=[(ns, i) for i in ids])
        self._replica.deleted(ns, ids, versions.get(ns.key, 0))

    def _check_units(self, ns: Namespace, units: Sequence[MemoryUnit]) -> None:
        for unit in units:
            if not isinstance(unit, MemoryUnit):
                raise InvalidInputError(f"expected MemoryUnit, got {type(unit).__name__}")
            if unit.namespace != ns:
                raise InvalidInputError(
                    f"unit {unit.id} belongs to namespace {unit.namespace.key}, not {ns.key}"
                )

    def _with_access(self, ns: Namespace, units: list[MemoryUnit]) -> list[MemoryUnit]:
        stats = self._journal.access(ns, [u.id for u in units])
        if not stats:
            return units
        return [
            u.model_copy(update={"access_count": stats[u.id][0], "last_accessed": stats[u.id][1]})
            if u.id in stats
            else u
            for u in units
        ]

    # -- restore -------------------------------------------------------------------------------

    def import_units(
        self, ns: Namespace, units: Sequence[MemoryUnit], turns: Sequence[Turn]
    ) -> None:
        """Write exported units as they are (validity, links, times) and journal their raw turns,
        bypassing the agents. Only into an empty namespace, so a restore never mixes with memory.

        The turns are journaled first: if the write then fails, reopening recovers them as turn
        units, and the namespace is no longer empty (import again into a fresh data folder).
        """
        if self.count(ns) or self._journal.count_turns(ns):
            raise InvalidInputError(
                f"namespace {ns.key} is not empty; import restores into an empty namespace only"
            )
        self._check_units(ns, units)
        self.record_turns(ns, turns)
        self.apply(ns, [Change("put", (u,), "import") for u in units])  # history: one event each


def _check_embeddings(units: Sequence[MemoryUnit], embeddings: np.ndarray) -> None:
    """Refuse, before anything is journaled, a vector no store could hold (zero or not finite):
    an intent that can never be applied would fail every later open."""
    norms = np.linalg.norm(embeddings, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0.0))
    if len(bad):
        text = units[int(bad[0])].text
        raise InvalidInputError(
            f"the embedder gave no usable vector for {text[:60]!r}: nothing was written"
        )


def _current(units: Mapping[str, MemoryUnit]) -> MappingProxyType[str, MemoryUnit]:
    return MappingProxyType({uid: u for uid, u in units.items() if u.is_current})


def _current_after(
    old: MappingProxyType[str, MemoryUnit],
    changed: Sequence[str],
    units: Mapping[str, MemoryUnit],
) -> MappingProxyType[str, MemoryUnit]:
    fresh = old.copy()  # the dict underneath, copied at C speed (dict(old) walks it key by key)
    for uid in changed:
        unit = units.get(uid)
        if unit is not None and unit.is_current:
            fresh[uid] = unit
        else:
            fresh.pop(uid, None)
    return MappingProxyType(fresh)


def _op_ids(op: JournalOp) -> list[str]:
    if "units" in op.payload:
        return [str(u["id"]) for u in op.payload["units"]]
    return [str(i) for i in op.payload.get("ids", [])]


def validate_turns(turns: Sequence[Turn]) -> list[Turn]:
    """``turns`` as Turn objects (dicts are validated), or InvalidInputError naming the bad one;
    ids may not repeat."""
    if isinstance(turns, (str, bytes)) or not isinstance(turns, Sequence):
        raise InvalidInputError(f"turns must be a sequence of Turn, not {type(turns).__name__}")
    checked: list[Turn] = []
    for i, turn in enumerate(turns):
        if isinstance(turn, Turn):
            checked.append(turn)
            continue
        if not isinstance(turn, dict):
            raise InvalidInputError(f"turn {i} must be a Turn or a dict, not {type(turn).__name__}")
        try:
            checked.append(Turn.model_validate(turn))
        except ValidationError as exc:
            raise InvalidInputError(f"turn {i} is invalid: {exc}") from exc
    ids = [t.id for t in checked]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("turn ids repeat within one batch")
    return checked
