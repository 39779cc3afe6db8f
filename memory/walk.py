"""Random walks over a namespace's current hypergraph, kept in memory and updated write by write.

The read path ranks units by personalized PageRank over the vertex–hyperedge incidence of the
current units. Rebuilding that incidence after every write would cost time in proportion to the
whole namespace, so :class:`GraphWalk` is updated with the units a write changed: a new edge is
appended (with any new vertices), a closed or deleted one keeps its slot with weight 0 (its links
then carry no rank, exactly as if it were gone), and once such dead slots are a quarter of the
edges the incidence is rebuilt from the current units. Every update returns a new object, so a
walk in progress on another thread never sees a half-applied change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from memory.changes import unit_vertex_ids
from memory.model import MemoryUnit
from memory.native_index import Incidence

__all__ = ["GraphWalk"]

_REBUILD_SHARE = 0.25
"""Rebuild once this share of the edge slots is dead (and there are enough of them to matter)."""
_REBUILD_MIN = 64
_TOL = 1e-5
"""Per-node tolerance of the walk: the ranking stops changing well before the default 1e-6 is
reached (LoCoMo dev file: MRR and recall at 250 and 1,000 tokens within 0.001) and the walk
takes half the steps."""


@dataclass(frozen=True)
class GraphWalk:
    """The CSR incidence of one namespace's current units (one hyperedge per unit)."""

    edge_ids: tuple[str, ...]
    edge_index: Mapping[str, int]
    vertex_index: Mapping[str, int]
    edge_ptr: NDArray[np.int64]
    edge_vertices: NDArray[np.int32]
    edge_weights: NDArray[np.float64]
    """0 for a slot whose unit is closed or gone."""
    dead: int = 0

    @classmethod
    def build(cls, units: Iterable[MemoryUnit]) -> GraphWalk:
        """The incidence of the current ones among ``units``."""
        empty = cls((), {}, {}, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0))
        return empty._appended([u for u in units if u.is_current])

    def updated(self, changed: Sequence[str], units: Mapping[str, MemoryUnit]) -> GraphWalk:
        """This walk after the units ``changed`` took their state in ``units`` (absent: deleted).

        Applying the same change twice is harmless.
        """
        weights = self.edge_weights.copy()
        dead = self.dead
        fresh: list[MemoryUnit] = []
        for uid in dict.fromkeys(changed):
            unit = units.get(uid)
            slot = self.edge_index.get(uid)
            alive = unit is not None and unit.is_current
            if slot is None:
                if alive and unit is not None:
                    fresh.append(unit)
                continue
            if alive and unit is not None:
                dead -= weights[slot] == 0.0
                weights[slot] = _weight(unit)
            elif weights[slot] != 0.0:
                weights[slot] = 0.0
                dead += 1
        if dead >= _REBUILD_MIN and dead > _REBUILD_SHARE * len(self.edge_ids):
            survivors = [u for uid in self.edge_ids if (u := units.get(uid)) is not None]
            return GraphWalk.build([*survivors, *fresh])
        walk = GraphWalk(
            self.edge_ids,
            self.edge_index,
            self.vertex_index,
            self.edge_ptr,
            self.edge_vertices,
            weights,
            int(dead),
        )
        return walk._appended(fresh)

    def _appended(self, units: Sequence[MemoryUnit]) -> GraphWalk:
        if not units:
            return self
        vertex_index = dict(self.vertex_index)
        members: list[int] = []
        sizes: list[int] = []
        for unit in units:
            ids = unit_vertex_ids(unit)
            members.extend(vertex_index.setdefault(v, len(vertex_index)) for v in ids)
            sizes.append(len(ids))
        edge_ids = self.edge_ids + tuple(u.id for u in units)
        edge_index = dict(self.edge_index)
        edge_index.update({u.id: len(self.edge_ids) + i for i, u in enumerate(units)})
        ptr_tail = self.edge_ptr[-1] + np.cumsum(sizes, dtype=np.int64)
        return GraphWalk(
            edge_ids=edge_ids,
            edge_index=edge_index,
            vertex_index=vertex_index,
            edge_ptr=np.concatenate([self.edge_ptr, ptr_tail]),
            edge_vertices=np.concatenate([self.edge_vertices, np.asarray(members, np.int32)]),
            edge_weights=np.concatenate([self.edge_weights, [_weight(u) for u in units]]),
            dead=self.dead,
        )

    @cached_property
    def _incidence(self) -> Incidence:
        """The incidence checked and indexed once, for every walk over this (immutable) object."""
        return Incidence(
            self.edge_ptr, self.edge_vertices, len(self.vertex_index), self.edge_weights
        )

    def rank(
        self,
        seed_vertices: Mapping[str, float],
        seed_edges: Mapping[str, float],
        *,
        limit: int | None = None,
    ) -> list[tuple[str, float]]:
        """Current units by personalized PageRank from the seeds, best first (the first
        ``limit`` of them when given).

        Seeds that are not vertices or live edges of this walk are ignored; with none left the
        result is empty.
        """
        sv = {i: w for v, w in seed_vertices.items() if (i := self.vertex_index.get(v)) is not None}
        se = {
            i: w
            for e, w in seed_edges.items()
            if (i := self.edge_index.get(e)) is not None and self.edge_weights[i] > 0.0
        }
        if not any(w > 0.0 for w in (*sv.values(), *se.values())):
            return []
        edge_scores, _ = self._incidence.pagerank(se, sv, tol=_TOL)
        live = np.flatnonzero(self.edge_weights > 0.0)
        if limit is not None and limit < len(live):
            # keep every unit scoring at least the limit-th best, so ties order as a full sort
            cut = np.partition(edge_scores[live], len(live) - limit)[len(live) - limit]
            live = live[edge_scores[live] >= cut]
        order = live[np.argsort(-edge_scores[live], kind="stable")][:limit]
        return [(self.edge_ids[i], float(edge_scores[i])) for i in order]


def _weight(unit: MemoryUnit) -> float:
    return 0.5 + unit.importance
