"""The vertex–hyperedge incidence of a hypergraph as CSR arrays, and walks over it.

The incidence is the undirected bipartite graph whose nodes are the vertices and the hyperedges,
with one link between a vertex and each hyperedge containing it, weighted by the hyperedge's weight.
Breadth-first expansion runs here in NumPy; personalized PageRank on the same arrays is
:func:`memory.native_index.personalized_pagerank` (the Rust core, or its NumPy reference).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from memory.errors import InvalidInputError

__all__ = ["Incidence", "bfs_edges", "seed_indices"]


@dataclass(frozen=True)
class Incidence:
    """The vertex–hyperedge incidence of one namespace in CSR form.

    Edge ``i`` (``edge_ids[i]``, weight ``edge_weights[i]``) contains the vertices
    ``vertex_ids[j]`` for ``j`` in ``edge_vertices[edge_ptr[i]:edge_ptr[i + 1]]``; a vertex appears
    at most once per edge. Vertices without any edge are listed too: they are nodes of the graph.
    The arrays are read-only.
    """

    edge_ids: list[str]
    vertex_ids: list[str]
    edge_ptr: NDArray[np.int64]
    """Offsets into ``edge_vertices``, length ``E + 1``."""
    edge_vertices: NDArray[np.int32]
    """Vertex indices of every edge, edge after edge."""
    edge_weights: NDArray[np.float64]
    """One weight per edge, length ``E``."""

    def __post_init__(self) -> None:
        for array in (self.edge_ptr, self.edge_vertices, self.edge_weights):
            array.setflags(write=False)

    @property
    def n_edges(self) -> int:
        return len(self.edge_ids)

    @property
    def n_vertices(self) -> int:
        return len(self.vertex_ids)

    @property
    def n_incidences(self) -> int:
        return int(self.edge_vertices.shape[0])

    @cached_property
    def edge_index(self) -> dict[str, int]:
        """Edge id → position in ``edge_ids``."""
        return {edge: i for i, edge in enumerate(self.edge_ids)}

    @cached_property
    def vertex_index(self) -> dict[str, int]:
        """Vertex id → position in ``vertex_ids``."""
        return {vertex: i for i, vertex in enumerate(self.vertex_ids)}

    @cached_property
    def edge_of_link(self) -> NDArray[np.int64]:
        """For every entry of ``edge_vertices``, the index of the edge it belongs to."""
        owner = np.repeat(np.arange(self.n_edges, dtype=np.int64), np.diff(self.edge_ptr))
        owner.setflags(write=False)
        return owner

    def edge_vertex_ids(self, edge: str) -> list[str]:
        """The vertex ids of one edge (an edge id absent from the incidence has none)."""
        i = self.edge_index.get(edge)
        if i is None:
            return []
        span = self.edge_vertices[self.edge_ptr[i] : self.edge_ptr[i + 1]]
        return [self.vertex_ids[j] for j in span.tolist()]


def bfs_edges(
    incidence: Incidence,
    seed_vertices: Sequence[int],
    seed_edges: Sequence[int],
    *,
    hops: int,
    max_edges: int | None = None,
) -> list[tuple[int, int]]:
    """Breadth-first search vertex → edge → vertex: ``(edge index, hop)`` pairs, nearest first.

    Seed edges are at hop 0; an edge containing a seed vertex, or sharing a vertex with an edge
    at hop ``d``, is at hop ``d + 1``; the search stops after ``hops``. Within a hop, heavier
    edges come first, then lower indices. ``max_edges`` cuts the list.
    """
    owner = incidence.edge_of_link
    members = incidence.edge_vertices
    seen = np.zeros(incidence.n_edges, dtype=bool)
    frontier = np.zeros(incidence.n_vertices, dtype=bool)
    frontier[np.asarray(seed_vertices, dtype=np.int64)] = True
    layer = np.unique(np.asarray(seed_edges, dtype=np.int64))
    limit = incidence.n_edges if max_edges is None else max_edges
    out: list[tuple[int, int]] = []
    for hop in range(hops + 1):
        if hop > 0:
            touched = np.zeros(incidence.n_edges, dtype=bool)
            touched[owner[frontier[members]]] = True
            layer = np.flatnonzero(touched & ~seen)
            if layer.size == 0:
                break
            frontier = np.zeros(incidence.n_vertices, dtype=bool)
        seen[layer] = True
        order = np.lexsort((layer, -incidence.edge_weights[layer]))
        out.extend((int(i), hop) for i in layer[order][: max(0, limit - len(out))])
        if len(out) >= limit:
            break
        in_layer = np.zeros(incidence.n_edges, dtype=bool)
        in_layer[layer] = True
        frontier[members[in_layer[owner]]] = True
    return out


def seed_indices(
    seeds: Mapping[str, float], index: Mapping[str, int], what: str
) -> dict[int, float]:
    """Seed weights by id → by index; ids absent from ``index`` are dropped, bad weights raise."""
    if not isinstance(seeds, Mapping):
        raise InvalidInputError(f"{what} must map ids to weights, got {type(seeds).__name__}")
    out: dict[int, float] = {}
    for node, weight in seeds.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidInputError(f"{what}[{node!r}] = {weight!r} is not a number")
        if not 0.0 <= weight < math.inf:
            raise InvalidInputError(f"{what}[{node!r}] = {weight!r}; weights must be finite, >= 0")
        i = index.get(node)
        if i is not None:
            out[i] = float(weight)
    return out
