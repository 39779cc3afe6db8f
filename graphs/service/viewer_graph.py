"""The hypergraph around a unit or an entity, a hop or two out, laid out for an SVG picture.

Every current unit is a hyperedge over its vertices (its entities, its speaker, its event day;
:func:`memory.changes.unit_vertices`). The picture draws each hyperedge as a node joined to the
vertices it spans (the bipartite form of the hypergraph), laid out by networkx's spring layout.
Hop 1 is every unit sharing a vertex with the centre (the unit's vertices, or the entity); hop 2
every unit sharing a vertex with those. Only vertices joining two units shown (or the centre's)
are drawn, and at most ``max_units`` units, nearest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from memory.changes import unit_vertices
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.model import MemoryUnit, Namespace, Vertex, VertexKind, vertex_id
from memory.store import MemoryStore

__all__ = ["MAX_UNITS", "Drawing", "Neighbourhood", "draw", "neighbourhood"]

MAX_UNITS = 40
"""Units drawn at most (the nearest, then the most connected)."""
WIDTH, HEIGHT, MARGIN = 960, 640, 60


@dataclass(frozen=True)
class _Incidence:
    """Vertex id → the current units spanning it, and the vertices by id."""

    units_of: Mapping[str, tuple[str, ...]]
    vertices: Mapping[str, Vertex]


@dataclass
class Neighbourhood:
    """The units and vertices around a centre, with each unit's hop."""

    centre_unit: str | None
    centre_vertices: list[str]
    units: dict[str, MemoryUnit] = field(default_factory=dict)
    hops: dict[str, int] = field(default_factory=dict)
    vertices: dict[str, Vertex] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    """(unit id, vertex id) pairs drawn."""
    reached: int = 0
    """Units within the hops asked, drawn or not."""


def _incidence(store: MemoryStore, ns: Namespace) -> _Incidence:
    """Kept among the store's derived values, so it is rebuilt only after the namespace changed."""

    def build() -> _Incidence:
        units_of: dict[str, list[str]] = {}
        vertices: dict[str, Vertex] = {}
        for unit in store.current_units(ns).values():
            for v in unit_vertices(unit):
                units_of.setdefault(v.id, []).append(unit.id)
                vertices[v.id] = v
        return _Incidence({k: tuple(v) for k, v in units_of.items()}, vertices)

    return store.derived(ns, "viewer.incidence", build)


def neighbourhood(
    store: MemoryStore,
    ns: Namespace,
    *,
    unit_id: str | None = None,
    entity: str | None = None,
    hops: int = 1,
    max_units: int = MAX_UNITS,
) -> Neighbourhood:
    """The neighbourhood of a unit (which may be closed) or of an entity named by its label."""
    if (unit_id is None) == (entity is None):
        raise InvalidInputError("name either a unit or an entity")
    if hops not in (1, 2):
        raise InvalidInputError(f"hops must be 1 or 2, got {hops}")
    inc = _incidence(store, ns)
    hood = Neighbourhood(centre_unit=unit_id, centre_vertices=[])
    if unit_id is not None:
        centre = store.get_one(ns, unit_id)
        hood.units[centre.id], hood.hops[centre.id] = centre, 0
        hood.centre_vertices = [v.id for v in unit_vertices(centre)]
        hood.vertices.update({v.id: v for v in unit_vertices(centre)})
    else:
        vid = vertex_id(ns, VertexKind.ENTITY, entity or "")
        if vid not in inc.vertices:
            raise UnitNotFoundError(f"no entity {entity!r} in namespace {ns.key}")
        hood.centre_vertices = [vid]
        hood.vertices[vid] = inc.vertices[vid]
    _reach(store, ns, inc, hood, hops, max_units)
    return hood


def _reach(
    store: MemoryStore,
    ns: Namespace,
    inc: _Incidence,
    hood: Neighbourhood,
    hops: int,
    max_units: int,
) -> None:
    """Add the units ``hops`` out (nearest, then most connected, first) and their vertices."""
    frontier = list(hood.centre_vertices)
    found: dict[str, tuple[int, int]] = {}  # unit id -> (hop, -shared vertices)
    seen_vertices = set(frontier)
    for hop in range(1, hops + 1):
        shared: dict[str, int] = {}
        for vid in frontier:
            for uid in inc.units_of.get(vid, ()):
                if uid not in hood.hops and uid not in found:
                    shared[uid] = shared.get(uid, 0) + 1
        found.update({uid: (hop, -n) for uid, n in shared.items()})
        frontier = [
            v.id
            for uid in shared
            for v in unit_vertices(store.current_units(ns)[uid])
            if v.id not in seen_vertices
        ]
        seen_vertices.update(frontier)
    hood.reached = len(found) + len(hood.hops)
    room = max(0, max_units - len(hood.hops))
    kept = sorted(found, key=lambda uid: (*found[uid], uid))[:room]
    current = store.current_units(ns)
    for uid in kept:
        hood.units[uid], hood.hops[uid] = current[uid], found[uid][0]
    _link(hood, inc)


def _link(hood: Neighbourhood, inc: _Incidence) -> None:
    """The vertices to draw (the centre's, and any joining two drawn units) and their links."""
    spans = {uid: [v.id for v in unit_vertices(u)] for uid, u in hood.units.items()}
    count: dict[str, int] = {}
    for vids in spans.values():
        for vid in vids:
            count[vid] = count.get(vid, 0) + 1
    keep = {v for v, n in count.items() if n >= 2} | set(hood.centre_vertices)
    for uid, vids in spans.items():
        for vid in vids:
            if vid in keep:
                hood.vertices.setdefault(vid, inc.vertices.get(vid) or _vertex_of(hood, uid, vid))
                hood.links.append((uid, vid))


def _vertex_of(hood: Neighbourhood, uid: str, vid: str) -> Vertex:
    return next(v for v in unit_vertices(hood.units[uid]) if v.id == vid)


@dataclass(frozen=True)
class Node:
    """One node of the picture: a unit or a vertex, at (x, y)."""

    id: str
    kind: str
    """``unit`` or the vertex kind (``entity``, ``time``)."""
    label: str
    title: str
    x: float
    y: float
    hop: int = 0
    granularity: str = ""
    centre: bool = False


@dataclass(frozen=True)
class Drawing:
    """Nodes and lines in picture coordinates."""

    nodes: list[Node]
    lines: list[tuple[float, float, float, float]]
    width: int = WIDTH
    height: int = HEIGHT


def draw(hood: Neighbourhood, *, seed: int = 7) -> Drawing:
    """Lay the neighbourhood out (spring layout, fixed seed, so a picture is stable)."""
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(hood.units)
    graph.add_nodes_from(hood.vertices)
    graph.add_edges_from(hood.links)
    pos = nx.spring_layout(graph, seed=seed) if len(graph) > 1 else {n: (0.0, 0.0) for n in graph}
    xs = [float(p[0]) for p in pos.values()] or [0.0]
    ys = [float(p[1]) for p in pos.values()] or [0.0]

    def at(node: str) -> tuple[float, float]:
        x, y = pos[node]
        sx = (float(x) - min(xs)) / ((max(xs) - min(xs)) or 1.0)
        sy = (float(y) - min(ys)) / ((max(ys) - min(ys)) or 1.0)
        return MARGIN + sx * (WIDTH - 2 * MARGIN), MARGIN + sy * (HEIGHT - 2 * MARGIN)

    nodes = [_unit_node(u, hood, at(uid)) for uid, u in hood.units.items()]
    nodes += [_vertex_node(v, hood, at(vid)) for vid, v in hood.vertices.items() if vid in pos]
    lines = [(*at(u), *at(v)) for u, v in hood.links]
    return Drawing(nodes, lines)


def _unit_node(unit: MemoryUnit, hood: Neighbourhood, xy: tuple[float, float]) -> Node:
    text = " ".join(unit.text.split())
    return Node(
        id=unit.id,
        kind="unit",
        label=text if len(text) <= 28 else text[:27] + "…",
        title=f"{unit.granularity.value}: {text[:300]}",
        x=xy[0],
        y=xy[1],
        hop=hood.hops[unit.id],
        granularity=unit.granularity.value,
        centre=unit.id == hood.centre_unit,
    )


def _vertex_node(v: Vertex, hood: Neighbourhood, xy: tuple[float, float]) -> Node:
    return Node(
        id=v.id,
        kind=v.kind.value,
        label=v.label,
        title=f"{v.kind.value}: {v.label}",
        x=xy[0],
        y=xy[1],
        centre=v.id in hood.centre_vertices and hood.centre_unit is None,
    )
