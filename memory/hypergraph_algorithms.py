"""Algorithms over a hypergraph's vertex–hyperedge incidence, held as CSR arrays.

The incidence is the undirected bipartite graph whose nodes are the vertices and the hyperedges,
with one link between a vertex and each hyperedge containing it, weighted by the hyperedge's weight.
Personalized PageRank on that graph is defined as ``networkx.pagerank`` on it (same damping, same
personalization, dangling nodes teleporting along the personalization vector, the same L1 stopping
rule), so any other implementation — the native core — can be checked against networkx.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from memory.errors import InvalidInputError

__all__ = [
    "Incidence",
    "bfs_edges",
    "check_pagerank_args",
    "personalized_pagerank",
    "seed_indices",
]


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


def check_pagerank_args(alpha: float, max_iter: int, tol: float) -> None:
    """Reject damping, iteration and tolerance values the power iteration cannot use."""
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise InvalidInputError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not tol > 0.0:
        raise InvalidInputError(f"tol must be positive, got {tol!r}")


def _check_csr(
    edge_ptr: NDArray[np.int64],
    edge_vertices: NDArray[np.int64],
    n_vertices: int,
    edge_weights: NDArray[np.float64],
) -> None:
    n_edges = edge_weights.shape[0]
    if edge_ptr.ndim != 1 or edge_ptr.shape[0] != n_edges + 1:
        raise InvalidInputError(
            f"edge_ptr has shape {edge_ptr.shape}; expected ({n_edges + 1},) for {n_edges} edges"
        )
    if edge_ptr[0] != 0 or edge_ptr[-1] != edge_vertices.shape[0] or np.any(np.diff(edge_ptr) < 0):
        raise InvalidInputError(
            "edge_ptr must start at 0, never decrease and end at len(edge_vertices)"
        )
    if edge_vertices.size and (edge_vertices.min() < 0 or edge_vertices.max() >= n_vertices):
        raise InvalidInputError(f"edge_vertices holds an index outside [0, {n_vertices})")
    if n_edges and not np.all(edge_weights > 0.0):
        raise InvalidInputError("edge_weights must all be positive")


def _seed_vector(seeds: Mapping[int, float], size: int, what: str) -> NDArray[np.float64]:
    vec = np.zeros(size, dtype=np.float64)
    for index, weight in seeds.items():
        if not 0 <= index < size:
            raise InvalidInputError(f"seed {what} index {index} is outside [0, {size})")
        if not weight >= 0.0 or not np.isfinite(weight):
            raise InvalidInputError(f"seed {what} {index} has weight {weight!r}; need >= 0")
        vec[index] += weight
    return vec


def personalized_pagerank(
    edge_ptr: NDArray[np.int64],
    edge_vertices: NDArray[np.int32],
    n_vertices: int,
    edge_weights: NDArray[np.float64],
    seed_edges: Mapping[int, float],
    seed_vertices: Mapping[int, float],
    alpha: float = 0.85,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Personalized PageRank over the bipartite vertex–hyperedge graph: (edge, vertex) scores.

    Seeds map edge / vertex indices to non-negative weights; together they are the
    personalization vector. The scores sum to 1 over edges and vertices together. Raises
    :class:`InvalidInputError` when no seed has a positive weight, or when the power iteration
    does not converge within ``max_iter`` steps.
    """
    check_pagerank_args(alpha, max_iter, tol)
    ptr = np.asarray(edge_ptr, dtype=np.int64)
    members = np.asarray(edge_vertices, dtype=np.int64)
    weights = np.asarray(edge_weights, dtype=np.float64)
    _check_csr(ptr, members, n_vertices, weights)
    n_edges = weights.shape[0]
    p_edge = _seed_vector(seed_edges, n_edges, "edge")
    p_vertex = _seed_vector(seed_vertices, n_vertices, "vertex")
    total = p_edge.sum() + p_vertex.sum()
    if not total > 0.0:
        raise InvalidInputError("personalized PageRank needs at least one seed with weight > 0")
    p_edge /= total
    p_vertex /= total

    # Row-stochastic transitions of the bipartite graph: an edge links to each of its k vertices
    # with its weight w (out-strength k·w, so 1/k each); a vertex links to its edges in proportion
    # to their weights. Nodes without links are dangling and jump along the personalization.
    sizes = np.diff(ptr).astype(np.float64)
    owner = np.repeat(np.arange(n_edges), np.diff(ptr))
    strength = np.bincount(members, weights=weights[owner], minlength=n_vertices)
    edge_dangling = sizes == 0.0
    vertex_dangling = strength == 0.0
    inv_size = np.divide(1.0, sizes, out=np.zeros_like(sizes), where=~edge_dangling)
    inv_strength = np.divide(1.0, strength, out=np.zeros_like(strength), where=~vertex_dangling)

    n_nodes = n_edges + n_vertices
    x_edge = np.full(n_edges, 1.0 / n_nodes)
    x_vertex = np.full(n_vertices, 1.0 / n_nodes)
    for _ in range(max_iter):
        dangling_mass = x_edge[edge_dangling].sum() + x_vertex[vertex_dangling].sum()
        to_vertex = np.bincount(members, weights=(x_edge * inv_size)[owner], minlength=n_vertices)
        to_edge = weights * np.bincount(
            owner, weights=(x_vertex * inv_strength)[members], minlength=n_edges
        )
        new_edge = alpha * (to_edge + dangling_mass * p_edge) + (1.0 - alpha) * p_edge
        new_vertex = alpha * (to_vertex + dangling_mass * p_vertex) + (1.0 - alpha) * p_vertex
        err = np.abs(new_edge - x_edge).sum() + np.abs(new_vertex - x_vertex).sum()
        x_edge, x_vertex = new_edge, new_vertex
        if err < n_nodes * tol:
            return x_edge, x_vertex
    raise InvalidInputError(
        f"personalized PageRank did not converge in max_iter={max_iter} iterations at tol={tol}"
    )
