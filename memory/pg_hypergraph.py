"""The hypergraph in PostgreSQL: the same contract as :class:`memory.hypergraph.HypergraphStore`
(same checks, same walks), its rows in the ``graph_*`` tables every worker shares.

Each write starts by bumping its namespace's version, which row-locks the namespace until commit:
writes to one namespace queue up (they cannot deadlock on each other's vertices), writes to others
do not wait, and every process's cached incidence of that namespace is rebuilt on its next walk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from memory.errors import InvalidInputError, UnitNotFoundError
from memory.hypergraph import (
    _SEP,
    GraphWalks,
    HypergraphStats,
    _check_ns,
    _unique,
    checked_edges,
    checked_vertices,
)
from memory.model import Granularity, Hyperedge, Namespace, Vertex, VertexKind, normalize_label
from memory.postgres import Cursor, PgDatabase

__all__ = ["PgHypergraphStore"]

_EDGE_COLUMNS = "e.id, e.granularity, e.event_time, e.current, e.weight, e.members"


class PgHypergraphStore(GraphWalks):
    """Vertices and hyperedges of every namespace in one PostgreSQL database."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        super().__init__()
        self._db: PgDatabase | None = PgDatabase.shared(url, pool_size)

    def _tx(self) -> PgDatabase:
        if self._db is None:
            from memory.errors import StoreUnavailableError

            raise StoreUnavailableError("the PostgreSQL hypergraph store is closed")
        return self._db

    @staticmethod
    def _bump(cur: Cursor, key: str) -> None:
        cur.execute(
            "INSERT INTO graph_versions (ns, version) VALUES (%s, 1) ON CONFLICT (ns) DO UPDATE "
            "SET version = graph_versions.version + 1",
            (key,),
        )

    def compact(self) -> None:
        """Rewrite the graph tables (``VACUUM FULL``), so removed rows leave them."""
        self._tx().vacuum(["graph_incidences", "graph_edges", "graph_vertices"])

    def close(self) -> None:
        """Give the pool back; later calls raise :class:`StoreUnavailableError`."""
        if self._db is not None:
            self._db.release()
            self._db = None
            self._cache.clear()

    def __enter__(self) -> PgHypergraphStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------

    def add(self, ns: Namespace, edges: Sequence[Hyperedge], vertices: Sequence[Vertex]) -> None:
        """Insert or replace ``edges`` and insert ``vertices``, in one transaction (see
        :meth:`memory.hypergraph.HypergraphStore.add` for the rules)."""
        key = _check_ns(ns)
        new_vertices = checked_vertices(ns, vertices)
        new_edges = checked_edges(ns, edges)
        needed = {v for edge in new_edges.values() for v in edge.vertices} - new_vertices.keys()
        members = {e.id: list(dict.fromkeys(e.vertices)) for e in new_edges.values()}

        def run(cur: Cursor) -> None:
            self._bump(cur, key)
            missing = needed - _existing(cur, "graph_vertices", key, sorted(needed))
            if missing:
                edge = next(e for e in new_edges.values() if missing & set(e.vertices))
                bad = sorted(missing & set(edge.vertices))
                raise InvalidInputError(
                    f"edge {edge.id} names vertices {bad} that are neither given nor stored "
                    f"in namespace {key}"
                )
            cur.executemany(
                "INSERT INTO graph_vertices (ns, id, kind, label, norm) VALUES (%s,%s,%s,%s,%s) "
                "ON CONFLICT (ns, id) DO NOTHING",
                [
                    (key, v.id, v.kind.value, v.label, normalize_label(v.label))
                    for v in sorted(new_vertices.values(), key=lambda v: v.id)
                ],
            )
            cur.executemany(
                "INSERT INTO graph_edges (ns, id, granularity, event_time, current, weight, "
                "members) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (ns, id) DO UPDATE SET "
                "granularity = excluded.granularity, event_time = excluded.event_time, "
                "current = excluded.current, weight = excluded.weight, members = excluded.members",
                [_edge_row(key, e, members[e.id]) for e in new_edges.values()],
            )
            cur.execute(
                "DELETE FROM graph_incidences WHERE ns = %s AND edge_id = ANY(%s)",
                (key, sorted(members)),
            )
            cur.executemany(
                "INSERT INTO graph_incidences (ns, edge_id, vertex_id, position) "
                "VALUES (%s,%s,%s,%s)",
                [(key, e, v, pos) for e, vs in members.items() for pos, v in enumerate(vs)],
            )

        self._tx().tx(run)

    def set_current(self, ns: Namespace, edge_ids: Sequence[str], current: bool) -> None:
        """Mark edges current or not; :class:`UnitNotFoundError`, changing nothing, if an id is
        not stored in ``ns``."""
        key = _check_ns(ns)
        ids = _unique(edge_ids, "edge_ids")

        def run(cur: Cursor) -> None:
            self._bump(cur, key)
            missing = set(ids) - _existing(cur, "graph_edges", key, ids)
            if missing:
                raise UnitNotFoundError(f"edges {sorted(missing)} are not in namespace {key}")
            cur.execute(
                "UPDATE graph_edges SET current = %s WHERE ns = %s AND id = ANY(%s)",
                (bool(current), key, ids),
            )

        self._tx().tx(run)

    def remove(self, ns: Namespace, edge_ids: Sequence[str]) -> int:
        """Delete edges, and the vertices they leave without any edge; returns edges deleted."""
        key = _check_ns(ns)
        ids = _unique(edge_ids, "edge_ids")

        def run(cur: Cursor) -> int:
            self._bump(cur, key)
            touched = [
                r[0]
                for r in cur.execute(
                    "SELECT DISTINCT vertex_id FROM graph_incidences WHERE ns = %s "
                    "AND edge_id = ANY(%s) ORDER BY vertex_id",
                    (key, ids),
                )
            ]
            removed = cur.execute(
                "DELETE FROM graph_edges WHERE ns = %s AND id = ANY(%s)", (key, ids)
            ).rowcount
            cur.execute(
                "DELETE FROM graph_vertices v WHERE v.ns = %s AND v.id = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM graph_incidences i WHERE i.ns = v.ns AND i.vertex_id = v.id)",
                (key, touched),
            )
            return int(removed)

        return self._tx().tx(run)

    # -- reads ------------------------------------------------------------------------------

    def _edges(self, ns: Namespace, where: str, args: Sequence[Any]) -> dict[str, Hyperedge]:
        rows = self._tx().tx(
            lambda cur: cur.execute(
                f"SELECT {_EDGE_COLUMNS} FROM graph_edges e WHERE e.ns = %s AND {where} "
                "ORDER BY e.id",
                (ns.key, *args),
            ).fetchall()
        )
        return {row[0]: _edge(ns, row) for row in rows}

    def get_edges(self, ns: Namespace, ids: Sequence[str]) -> list[Hyperedge]:
        """The stored edges among ``ids``, in the order asked; unknown ids are skipped."""
        _check_ns(ns)
        wanted = _unique(ids, "ids")
        found = self._edges(ns, "e.id = ANY(%s)", [wanted])
        return [found[e] for e in wanted if e in found]

    def get_vertices(self, ns: Namespace, ids: Sequence[str]) -> list[Vertex]:
        """The stored vertices among ``ids``, in the order asked; unknown ids are skipped."""
        key = _check_ns(ns)
        wanted = _unique(ids, "ids")
        rows = self._tx().tx(
            lambda cur: cur.execute(
                "SELECT id, kind, label FROM graph_vertices WHERE ns = %s AND id = ANY(%s)",
                (key, wanted),
            ).fetchall()
        )
        found = {
            r[0]: Vertex(id=r[0], namespace=ns, kind=VertexKind(r[1]), label=r[2]) for r in rows
        }
        return [found[v] for v in wanted if v in found]

    def find_vertices(
        self, ns: Namespace, labels: Iterable[str], kind: VertexKind | None = None
    ) -> list[Vertex]:
        """Vertices whose normalised label equals a normalised label asked, in the order asked."""
        key = _check_ns(ns)
        norms = [n for n in dict.fromkeys(normalize_label(lb) for lb in _unique(labels, "labels"))]
        norms = [n for n in norms if n]
        kind_sql, kind_args = (
            ("", ()) if kind is None else (" AND kind = %s", (VertexKind(kind).value,))
        )
        rows = self._tx().tx(
            lambda cur: cur.execute(
                "SELECT id, kind, label, norm FROM graph_vertices WHERE ns = %s "
                f'AND norm = ANY(%s){kind_sql} ORDER BY kind, id COLLATE "C"',
                (key, norms, *kind_args),
            ).fetchall()
        )
        by_norm: dict[str, list[Vertex]] = {}
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
        cur = " AND e.current" if current_only else ""
        found = self._edges(
            ns,
            "e.id IN (SELECT edge_id FROM graph_incidences WHERE ns = e.ns "
            f"AND vertex_id = ANY(%s)){cur}",
            [wanted],
        )
        return [found[e] for e in sorted(found)]

    def neighbours(self, ns: Namespace, vertex_id: str, *, current_only: bool = False) -> set[str]:
        """Ids of the other vertices that share an edge with ``vertex_id``."""
        key = _check_ns(ns)
        if not isinstance(vertex_id, str):
            raise InvalidInputError(f"vertex_id must be a string, got {vertex_id!r}")
        cur = "AND e.current" if current_only else ""
        rows = self._tx().tx(
            lambda c: c.execute(
                "SELECT DISTINCT b.vertex_id FROM graph_incidences a "
                "JOIN graph_incidences b ON b.ns = a.ns AND b.edge_id = a.edge_id "
                "JOIN graph_edges e ON e.ns = a.ns AND e.id = a.edge_id "
                f"WHERE a.ns = %s AND a.vertex_id = %s AND b.vertex_id != a.vertex_id {cur}",
                (key, vertex_id),
            ).fetchall()
        )
        return {row[0] for row in rows}

    def edge_ids(self, ns: Namespace, *, current_only: bool = False) -> list[str]:
        """Ids of every edge in ``ns`` (or only the current ones), sorted."""
        key = _check_ns(ns)
        cur = " AND current" if current_only else ""
        rows = self._tx().tx(
            lambda c: c.execute(
                f'SELECT id FROM graph_edges WHERE ns = %s{cur} ORDER BY id COLLATE "C"', (key,)
            ).fetchall()
        )
        return [row[0] for row in rows]

    def stats(self, ns: Namespace | None = None) -> HypergraphStats:
        """Row counts of ``ns``, or of every namespace when ``ns`` is None."""
        where, args = ("", ()) if ns is None else (" WHERE ns = %s", (_check_ns(ns),))

        def run(cur: Cursor) -> HypergraphStats:
            vertices = cur.execute(f"SELECT count(*) FROM graph_vertices{where}", args).fetchone()
            edges = cur.execute(
                f"SELECT count(*), count(*) FILTER (WHERE current) FROM graph_edges{where}", args
            ).fetchone()
            links = cur.execute(f"SELECT count(*) FROM graph_incidences{where}", args).fetchone()
            assert vertices is not None and edges is not None and links is not None
            return HypergraphStats(
                vertices=int(vertices[0]),
                edges=int(edges[0]),
                current_edges=int(edges[1]),
                incidences=int(links[0]),
            )

        return self._tx().tx(run)

    def namespaces(self) -> list[Namespace]:
        """Every namespace that holds at least one vertex or edge, sorted by key."""
        rows = self._tx().tx(
            lambda cur: cur.execute(
                "SELECT ns FROM (SELECT ns FROM graph_vertices UNION SELECT ns FROM graph_edges) "
                'AS spaces ORDER BY ns COLLATE "C"'
            ).fetchall()
        )
        return [Namespace.parse(row[0]) for row in rows]

    # -- the walks' inputs --------------------------------------------------------------------

    def _graph_version(self, key: str) -> int:
        row = self._tx().tx(
            lambda cur: cur.execute(
                "SELECT version FROM graph_versions WHERE ns = %s", (key,)
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    def _graph_rows(
        self, key: str, current_only: bool
    ) -> tuple[list[str], list[tuple[str, float, str]]]:
        def run(cur: Cursor) -> tuple[list[str], list[tuple[str, float, str]]]:
            vertex_ids = [
                r[0]
                for r in cur.execute(
                    'SELECT id FROM graph_vertices WHERE ns = %s ORDER BY id COLLATE "C"',
                    (key,),
                )
            ]
            edges = cur.execute(
                "SELECT id, weight, members FROM graph_edges WHERE ns = %s"
                + (" AND current" if current_only else "")
                + ' ORDER BY id COLLATE "C"',
                (key,),
            ).fetchall()
            return vertex_ids, [(r[0], float(r[1]), r[2]) for r in edges]

        return self._tx().tx(run)


def _existing(cur: Cursor, table: str, key: str, ids: Sequence[str]) -> set[str]:
    rows = cur.execute(f"SELECT id FROM {table} WHERE ns = %s AND id = ANY(%s)", (key, list(ids)))
    return {row[0] for row in rows}


def _edge_row(key: str, e: Hyperedge, members: list[str]) -> tuple[Any, ...]:
    event = None if e.event_time is None else e.event_time.isoformat()
    return (key, e.id, e.granularity.value, event, bool(e.current), e.weight, _SEP.join(members))


def _edge(ns: Namespace, row: Sequence[Any]) -> Hyperedge:
    return Hyperedge(
        id=row[0],
        namespace=ns,
        granularity=Granularity(row[1]),
        event_time=None if row[2] is None else datetime.fromisoformat(row[2]),
        current=bool(row[3]),
        weight=row[4],
        vertices=tuple(row[5].split(_SEP)) if row[5] else (),
    )
