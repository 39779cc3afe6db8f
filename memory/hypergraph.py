"""The hypergraph store: entities and time anchors as vertices, memory units as hyperedges.

Everything lives in one SQLite file (WAL mode). Every table carries the namespace as the first part
of its primary key, and every statement filters on it, so a call for one namespace cannot read or
touch another's rows. Graph algorithms run on a CSR copy of a namespace's incidence
(:class:`~memory.hypergraph_algorithms.Incidence`), cached per namespace and rebuilt whenever the
namespace changes — through this store or any other connection to the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from memory.errors import (
    InvalidInputError,
    StoreCorruptError,
    StoreUnavailableError,
    UnitNotFoundError,
)
from memory.hypergraph_algorithms import Incidence, bfs_edges, seed_indices
from memory.model import Granularity, Hyperedge, Namespace, Vertex, VertexKind, normalize_label
from memory.native_index import personalized_pagerank
from memory.sqlite import WalCheckpointer

__all__ = ["GraphWalks", "HypergraphStats", "HypergraphStore", "Incidence"]

_SCHEMA_VERSION = 1
_CHUNK = 500  # ids per IN (...) list, far below SQLite's variable limit
_CACHE_SIZE = 16  # namespaces whose incidence is kept in memory
_NO_SEEDS: Mapping[str, float] = MappingProxyType({})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vertices (
    ns TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    norm TEXT NOT NULL,
    PRIMARY KEY (ns, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vertices_by_label ON vertices (ns, norm, kind);
CREATE TABLE IF NOT EXISTS edges (
    ns TEXT NOT NULL, id TEXT NOT NULL, granularity TEXT NOT NULL, event_time TEXT,
    current INTEGER NOT NULL, weight REAL NOT NULL,
    members TEXT NOT NULL, -- the vertex ids in order, joined by U+001F (a copy of incidences)
    PRIMARY KEY (ns, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidences (
    ns TEXT NOT NULL, edge_id TEXT NOT NULL, vertex_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (ns, edge_id, vertex_id),
    FOREIGN KEY (ns, edge_id) REFERENCES edges (ns, id) ON DELETE CASCADE,
    FOREIGN KEY (ns, vertex_id) REFERENCES vertices (ns, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incidences_by_vertex ON incidences (ns, vertex_id, edge_id);
CREATE TABLE IF NOT EXISTS versions (ns TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
"""
_SEP = "\x1f"


@dataclass(frozen=True)
class HypergraphStats:
    """Row counts of one namespace, or of the whole file."""

    vertices: int
    edges: int
    current_edges: int
    incidences: int


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _unique(ids: Iterable[str], what: str) -> list[str]:
    if isinstance(ids, str):
        raise InvalidInputError(f"{what} must be a sequence of ids, not the string {ids!r}")
    out = list(dict.fromkeys(ids))
    for item in out:
        if not isinstance(item, str):
            raise InvalidInputError(f"{what} must hold strings, got {item!r}")
    return out


def _check_ns(ns: Namespace) -> str:
    if not isinstance(ns, Namespace):
        raise InvalidInputError(f"expected a Namespace, got {type(ns).__name__}: {ns!r}")
    return ns.key


def checked_vertices(ns: Namespace, vertices: Sequence[Vertex]) -> dict[str, Vertex]:
    """``vertices`` by id, refused (:class:`InvalidInputError`) unless each can be stored in
    ``ns``; the same checks whatever database holds them."""
    out: dict[str, Vertex] = {}
    for v in vertices:
        if not isinstance(v, Vertex):
            raise InvalidInputError(f"expected a Vertex, got {type(v).__name__}: {v!r}")
        if v.namespace != ns:
            raise InvalidInputError(f"vertex {v.id} belongs to namespace {v.namespace}, not {ns}")
        if _SEP in v.id:
            raise InvalidInputError(f"vertex id {v.id!r} contains the control character U+001F")
        if not normalize_label(v.label):
            raise InvalidInputError(f"vertex {v.id} label {v.label!r} is empty once normalised")
        seen = out.setdefault(v.id, v)
        if seen.kind != v.kind:
            raise InvalidInputError(f"vertex {v.id} is given twice with different kinds")
    return out


def checked_edges(ns: Namespace, edges: Sequence[Hyperedge]) -> dict[str, Hyperedge]:
    """``edges`` by id, refused unless each belongs to ``ns`` and none is given twice with
    different contents."""
    out: dict[str, Hyperedge] = {}
    for e in edges:
        if not isinstance(e, Hyperedge):
            raise InvalidInputError(f"expected a Hyperedge, got {type(e).__name__}: {e!r}")
        if e.namespace != ns:
            raise InvalidInputError(f"edge {e.id} belongs to namespace {e.namespace}, not {ns}")
        if out.setdefault(e.id, e) != e:
            raise InvalidInputError(f"edge {e.id} is given twice with different contents")
    return out


def build_incidence(vertex_ids: list[str], edges: Sequence[tuple[str, float, str]]) -> Incidence:
    """The CSR incidence of sorted vertex ids and sorted (edge id, weight, members) rows."""
    lists = [row[2] for row in edges]
    sizes = [m.count(_SEP) + 1 if m else 0 for m in lists]
    flat = _SEP.join(m for m in lists if m).split(_SEP) if any(sizes) else []
    index = {v: i for i, v in enumerate(vertex_ids)}
    edge_ptr = np.zeros(len(edges) + 1, dtype=np.int64)
    np.cumsum(sizes, out=edge_ptr[1:])
    return Incidence(
        edge_ids=[row[0] for row in edges],
        vertex_ids=vertex_ids,
        edge_ptr=edge_ptr,
        edge_vertices=np.fromiter(map(index.__getitem__, flat), np.int32, len(flat)),
        edge_weights=np.fromiter((row[1] for row in edges), np.float64, len(edges)),
    )


class GraphWalks:
    """The walks every hypergraph backend offers, over a per-namespace incidence cache.

    A backend gives the namespace's version (:meth:`_graph_version`) and its rows
    (:meth:`_graph_rows`). The version is read before the rows, so a cached incidence is never
    older than its version says: a write in between only costs one more rebuild.
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, bool], tuple[int, Incidence]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _graph_version(self, key: str) -> int:
        raise NotImplementedError

    def _graph_rows(
        self, key: str, current_only: bool
    ) -> tuple[list[str], list[tuple[str, float, str]]]:
        """(vertex ids sorted, (edge id, weight, members) sorted by id) of namespace ``key``."""
        raise NotImplementedError

    def incidence(self, ns: Namespace, *, current_only: bool = True) -> Incidence:
        """The CSR incidence of ``ns``: every vertex, and every (current) edge, sorted by id."""
        key = _check_ns(ns)
        version = self._graph_version(key)
        with self._cache_lock:
            cached = self._cache.get((key, current_only))
            if cached is not None and cached[0] == version:
                self._cache.move_to_end((key, current_only))
                return cached[1]
        built = build_incidence(*self._graph_rows(key, current_only))
        with self._cache_lock:
            self._cache[(key, current_only)] = (version, built)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return built

    def expand(
        self,
        ns: Namespace,
        seed_vertices: Sequence[str] = (),
        seed_edges: Sequence[str] = (),
        *,
        hops: int = 1,
        current_only: bool = True,
        max_edges: int | None = None,
    ) -> dict[str, int]:
        """Edges reached from the seeds by breadth-first search: edge id → hop distance.

        Seed edges are at distance 0; an edge containing a seed vertex, or sharing a vertex with
        an edge at distance ``d``, is at ``d + 1``. With ``current_only`` superseded edges are
        neither returned nor walked through. ``max_edges`` keeps the nearest edges (heavier first
        within a hop, then by id). Unknown seeds are ignored.
        """
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
            raise InvalidInputError(f"hops must be an integer >= 0, got {hops!r}")
        if max_edges is not None and (not isinstance(max_edges, int) or max_edges < 0):
            raise InvalidInputError(f"max_edges must be None or an integer >= 0, got {max_edges!r}")
        inc = self.incidence(ns, current_only=current_only)
        vertex_seeds = [
            inc.vertex_index[v]
            for v in _unique(seed_vertices, "seed_vertices")
            if v in inc.vertex_index
        ]
        edge_seeds = [
            inc.edge_index[e] for e in _unique(seed_edges, "seed_edges") if e in inc.edge_index
        ]
        reached = bfs_edges(inc, vertex_seeds, edge_seeds, hops=hops, max_edges=max_edges)
        return {inc.edge_ids[i]: hop for i, hop in reached}

    def personalized_pagerank(
        self,
        ns: Namespace,
        seed_vertices: Mapping[str, float] = _NO_SEEDS,
        seed_edges: Mapping[str, float] = _NO_SEEDS,
        *,
        alpha: float = 0.85,
        current_only: bool = True,
        max_iter: int = 100,
        tol: float = 1e-6,
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Personalized PageRank over the vertex–hyperedge graph: (edge scores, vertex scores).

        ``networkx.pagerank`` on the bipartite graph of every vertex and every (current) edge of
        ``ns``, links weighted by their edge's weight, personalised by the seeds; computed by
        the native core when it is built. Seeds not in that graph are ignored;
        :class:`InvalidInputError` if no seed is left with a positive weight. A walk that has
        not converged after ``max_iter`` steps returns its last iterate.
        """
        inc = self.incidence(ns, current_only=current_only)
        vertex_seeds = seed_indices(seed_vertices, inc.vertex_index, "seed_vertices")
        edge_seeds = seed_indices(seed_edges, inc.edge_index, "seed_edges")
        if not any(w > 0.0 for w in (*vertex_seeds.values(), *edge_seeds.values())):
            raise InvalidInputError(
                f"no seed with weight > 0 is a vertex or {'current ' if current_only else ''}"
                f"edge of namespace {ns}: vertices {sorted(seed_vertices)[:5]}, "
                f"edges {sorted(seed_edges)[:5]}"
            )
        edge_scores, vertex_scores = personalized_pagerank(
            inc.edge_ptr,
            inc.edge_vertices,
            inc.n_vertices,
            inc.edge_weights,
            edge_seeds,
            vertex_seeds,
            alpha,
            max_iter,
            tol,
        )
        return (
            dict(zip(inc.edge_ids, edge_scores.tolist(), strict=True)),
            dict(zip(inc.vertex_ids, vertex_scores.tolist(), strict=True)),
        )


class HypergraphStore(GraphWalks):
    """Vertices and hyperedges of every namespace, persisted in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__()
        self._lock = threading.RLock()
        try:
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open hypergraph file {self.path}: {exc}") from exc
        self._conn: sqlite3.Connection | None = conn
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._check_version(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            raise StoreUnavailableError(f"cannot open hypergraph file {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreCorruptError(
                f"{self.path} is not a readable hypergraph database: {exc}"
            ) from exc
        self._checkpoints = None if self.path == ":memory:" else WalCheckpointer(conn, self.path)

    def _check_version(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(_SCHEMA_VERSION),),
        )
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != str(_SCHEMA_VERSION):
            found = None if row is None else row[0]
            raise sqlite3.DatabaseError(f"schema version {found!r}, expected {_SCHEMA_VERSION}")

    # -- plumbing ---------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError(f"hypergraph store {self.path} is closed")
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"hypergraph file {self.path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreCorruptError(f"hypergraph file {self.path}: {exc}") from exc

    @contextmanager
    def _write(self, key: str) -> Iterator[sqlite3.Connection]:
        """One transaction on namespace ``key``: it commits whole or not at all.

        Each write bumps the namespace's version, so cached incidences of that namespace (in
        this process or any other) are rebuilt, and those of other namespaces are not.
        """
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute(
                    "INSERT INTO versions (ns, version) VALUES (?, 1) "
                    "ON CONFLICT (ns) DO UPDATE SET version = version + 1",
                    (key,),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def compact(self) -> None:
        """Rewrite the file without free pages and empty the WAL (removed rows leave no bytes)."""
        with self._read() as conn:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the file; later calls raise :class:`StoreUnavailableError`."""
        with self._lock:
            if self._checkpoints is not None:
                self._checkpoints.close()
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._cache.clear()

    def __enter__(self) -> HypergraphStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------

    def add(self, ns: Namespace, edges: Sequence[Hyperedge], vertices: Sequence[Vertex]) -> None:
        """Insert or replace ``edges`` and insert ``vertices``, in one transaction.

        Adding the same edges again changes nothing; an edge given again with other fields
        replaces the stored one. A vertex named twice in one edge is kept once. A vertex already
        stored keeps its first label. Every vertex an edge names must be in ``vertices`` or
        already stored in ``ns``.
        """
        key = _check_ns(ns)
        new_vertices = checked_vertices(ns, vertices)
        new_edges = checked_edges(ns, edges)
        needed = {v for edge in new_edges.values() for v in edge.vertices} - new_vertices.keys()
        with self._write(key) as conn:
            missing = needed - self._existing(conn, "vertices", key, sorted(needed))
            if missing:
                edge = next(e for e in new_edges.values() if missing & set(e.vertices))
                bad = sorted(missing & set(edge.vertices))
                raise InvalidInputError(
                    f"edge {edge.id} names vertices {bad} that are neither given nor stored "
                    f"in namespace {key}"
                )
            conn.executemany(
                "INSERT INTO vertices (ns, id, kind, label, norm) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (ns, id) DO NOTHING",
                [
                    (key, v.id, v.kind.value, v.label, normalize_label(v.label))
                    for v in new_vertices.values()
                ],
            )
            members = {e.id: list(dict.fromkeys(e.vertices)) for e in new_edges.values()}
            conn.executemany(
                "INSERT INTO edges (ns, id, granularity, event_time, current, weight, members) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ns, id) DO UPDATE SET "
                "granularity = excluded.granularity, event_time = excluded.event_time, "
                "current = excluded.current, weight = excluded.weight, members = excluded.members",
                [
                    (
                        key,
                        e.id,
                        e.granularity.value,
                        None if e.event_time is None else e.event_time.isoformat(),
                        int(e.current),
                        e.weight,
                        _SEP.join(members[e.id]),
                    )
                    for e in new_edges.values()
                ],
            )
            conn.executemany(
                "DELETE FROM incidences WHERE ns = ? AND edge_id = ?", [(key, e) for e in members]
            )
            conn.executemany(
                "INSERT INTO incidences (ns, edge_id, vertex_id, position) VALUES (?, ?, ?, ?)",
                [(key, e, v, pos) for e, vs in members.items() for pos, v in enumerate(vs)],
            )

    @staticmethod
    def _existing(conn: sqlite3.Connection, table: str, key: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            rows = conn.execute(
                f"SELECT id FROM {table} WHERE ns = ? AND id IN ({_marks(len(chunk))})",
                (key, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def set_current(self, ns: Namespace, edge_ids: Sequence[str], current: bool) -> None:
        """Mark edges current or not (superseding an edge = ``current=False``).

        Raises :class:`UnitNotFoundError`, changing nothing, if an id is not stored in ``ns``.
        """
        key = _check_ns(ns)
        ids = _unique(edge_ids, "edge_ids")
        with self._write(key) as conn:
            missing = set(ids) - self._existing(conn, "edges", key, ids)
            if missing:
                raise UnitNotFoundError(f"edges {sorted(missing)} are not in namespace {key}")
            conn.executemany(
                "UPDATE edges SET current = ? WHERE ns = ? AND id = ?",
                [(int(bool(current)), key, e) for e in ids],
            )

    def remove(self, ns: Namespace, edge_ids: Sequence[str]) -> int:
        """Delete edges, and the vertices they leave without any edge; returns edges deleted.

        Ids that are not stored are ignored, so removing twice is harmless.
        """
        key = _check_ns(ns)
        ids = _unique(edge_ids, "edge_ids")
        removed = 0
        with self._write(key) as conn:
            touched: set[str] = set()
            for chunk in _chunks(ids):
                marks = _marks(len(chunk))
                rows = conn.execute(
                    f"SELECT DISTINCT vertex_id FROM incidences WHERE ns = ? "
                    f"AND edge_id IN ({marks})",
                    (key, *chunk),
                )
                touched.update(row[0] for row in rows)
                cur = conn.execute(
                    f"DELETE FROM edges WHERE ns = ? AND id IN ({marks})", (key, *chunk)
                )
                removed += cur.rowcount
            conn.executemany(
                "DELETE FROM vertices WHERE ns = ? AND id = ? AND NOT EXISTS (SELECT 1 FROM "
                "incidences i WHERE i.ns = vertices.ns AND i.vertex_id = vertices.id)",
                [(key, v) for v in sorted(touched)],
            )
        return removed

    # -- reads ------------------------------------------------------------------------------

    def get_edges(self, ns: Namespace, ids: Sequence[str]) -> list[Hyperedge]:
        """The stored edges among ``ids``, in the order asked; unknown ids are skipped."""
        _check_ns(ns)
        wanted = _unique(ids, "ids")
        found: dict[str, Hyperedge] = {}
        with self._read() as conn:
            for chunk in _chunks(wanted):
                found.update(
                    self._load_edges(
                        conn, ns, "e.ns = ? AND e.id IN (" + _marks(len(chunk)) + ")", chunk
                    )
                )
        return [found[e] for e in wanted if e in found]

    @staticmethod
    def _load_edges(
        conn: sqlite3.Connection, ns: Namespace, where: str, args: Sequence[Any]
    ) -> dict[str, Hyperedge]:
        rows = conn.execute(
            "SELECT e.id, e.granularity, e.event_time, e.current, e.weight, e.members "
            f"FROM edges e WHERE {where} ORDER BY e.id",
            (ns.key, *args),
        )
        return {
            row[0]: Hyperedge(
                id=row[0],
                namespace=ns,
                granularity=Granularity(row[1]),
                event_time=None if row[2] is None else datetime.fromisoformat(row[2]),
                current=bool(row[3]),
                weight=row[4],
                vertices=tuple(row[5].split(_SEP)) if row[5] else (),
            )
            for row in rows
        }

    def get_vertices(self, ns: Namespace, ids: Sequence[str]) -> list[Vertex]:
        """The stored vertices among ``ids``, in the order asked; unknown ids are skipped."""
        key = _check_ns(ns)
        wanted = _unique(ids, "ids")
        found: dict[str, Vertex] = {}
        with self._read() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    "SELECT id, kind, label FROM vertices WHERE ns = ? "
                    f"AND id IN ({_marks(len(chunk))})",
                    (key, *chunk),
                )
                for vid, kind, label in rows:
                    found[vid] = Vertex(id=vid, namespace=ns, kind=VertexKind(kind), label=label)
        return [found[v] for v in wanted if v in found]

    def find_vertices(
        self, ns: Namespace, labels: Iterable[str], kind: VertexKind | None = None
    ) -> list[Vertex]:
        """Vertices whose normalised label equals a normalised label asked, in the order asked."""
        key = _check_ns(ns)
        norms = [n for n in dict.fromkeys(normalize_label(lb) for lb in _unique(labels, "labels"))]
        norms = [n for n in norms if n]
        kind_sql, kind_args = ("", ()) if kind is None else (" AND kind = ?", (VertexKind(kind),))
        by_norm: dict[str, list[Vertex]] = {}
        with self._read() as conn:
            for chunk in _chunks(norms):
                rows = conn.execute(
                    # Named: without table statistics the planner takes ``ns = ?`` for
                    # selective and scans the namespace's whole primary key for several names.
                    "SELECT id, kind, label, norm FROM vertices INDEXED BY vertices_by_label "
                    "WHERE ns = ? "
                    f"AND norm IN ({_marks(len(chunk))}){kind_sql} ORDER BY kind, id",
                    (key, *chunk, *kind_args),
                )
                for vid, vkind, label, norm in rows:
                    vertex = Vertex(id=vid, namespace=ns, kind=VertexKind(vkind), label=label)
                    by_norm.setdefault(norm, []).append(vertex)
        return [v for n in norms for v in by_norm.get(n, [])]

    def incident_edges(
        self, ns: Namespace, vertex_ids: Sequence[str], *, current_only: bool = False
    ) -> list[Hyperedge]:
        """Edges containing any of ``vertex_ids``, ordered by id."""
        _check_ns(ns)
        wanted = _unique(vertex_ids, "vertex_ids")
        found: dict[str, Hyperedge] = {}
        cur = " AND e.current = 1" if current_only else ""
        with self._read() as conn:
            for chunk in _chunks(wanted):
                where = (
                    "e.ns = ? AND e.id IN (SELECT edge_id FROM incidences WHERE ns = e.ns "
                    f"AND vertex_id IN ({_marks(len(chunk))})){cur}"
                )
                found.update(self._load_edges(conn, ns, where, chunk))
        return [found[e] for e in sorted(found)]

    def neighbours(self, ns: Namespace, vertex_id: str, *, current_only: bool = False) -> set[str]:
        """Ids of the other vertices that share an edge with ``vertex_id``."""
        key = _check_ns(ns)
        if not isinstance(vertex_id, str):
            raise InvalidInputError(f"vertex_id must be a string, got {vertex_id!r}")
        cur = "AND e.current = 1" if current_only else ""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT b.vertex_id FROM incidences a "
                "JOIN incidences b ON b.ns = a.ns AND b.edge_id = a.edge_id "
                "JOIN edges e ON e.ns = a.ns AND e.id = a.edge_id "
                f"WHERE a.ns = ? AND a.vertex_id = ? AND b.vertex_id != a.vertex_id {cur}",
                (key, vertex_id),
            )
            return {row[0] for row in rows}

    def edge_ids(self, ns: Namespace, *, current_only: bool = False) -> list[str]:
        """Ids of every edge in ``ns`` (or only the current ones), sorted."""
        key = _check_ns(ns)
        cur = " AND current = 1" if current_only else ""
        with self._read() as conn:
            rows = conn.execute(f"SELECT id FROM edges WHERE ns = ?{cur} ORDER BY id", (key,))
            return [row[0] for row in rows]

    def stats(self, ns: Namespace | None = None) -> HypergraphStats:
        """Row counts of ``ns``, or of every namespace when ``ns`` is None."""
        where, args = ("", ()) if ns is None else (" WHERE ns = ?", (_check_ns(ns),))
        with self._read() as conn:
            vertices = conn.execute(f"SELECT count(*) FROM vertices{where}", args).fetchone()[0]
            edges, current = conn.execute(
                f"SELECT count(*), coalesce(sum(current), 0) FROM edges{where}", args
            ).fetchone()
            links = conn.execute(f"SELECT count(*) FROM incidences{where}", args).fetchone()[0]
        return HypergraphStats(
            vertices=vertices, edges=edges, current_edges=current, incidences=links
        )

    def namespaces(self) -> list[Namespace]:
        """Every namespace that holds at least one vertex or edge, sorted by key."""
        with self._read() as conn:
            rows = conn.execute("SELECT ns FROM vertices UNION SELECT ns FROM edges ORDER BY ns")
            return [Namespace.parse(row[0]) for row in rows]

    # -- algorithms -------------------------------------------------------------------------

    def _graph_version(self, key: str) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT version FROM versions WHERE ns = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def _graph_rows(
        self, key: str, current_only: bool
    ) -> tuple[list[str], list[tuple[str, float, str]]]:
        with self._read() as conn:
            vertex_ids = [
                row[0]
                for row in conn.execute("SELECT id FROM vertices WHERE ns = ? ORDER BY id", (key,))
            ]
            edges = conn.execute(
                "SELECT id, weight, members FROM edges WHERE ns = ?"
                + (" AND current = 1" if current_only else "")
                + " ORDER BY id",
                (key,),
            ).fetchall()
        return vertex_ids, [(r[0], float(r[1]), r[2]) for r in edges]
