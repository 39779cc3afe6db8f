"""The in-process hot copy of one namespace: its units by id and a dense index over their vectors.

It is loaded from the vector store the first time a namespace is searched and kept in step by the
store's own writes. It is never the only copy: dropping it loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory.model import MemoryUnit, Namespace, UnitFilter
from memory.native_index import IndexFilter, VectorIndex, open_index

__all__ = ["HotNamespace"]


class HotNamespace:
    """Units and dense index of one namespace."""

    def __init__(self, ns: Namespace, dim: int) -> None:
        self.namespace = ns
        self.units: dict[str, MemoryUnit] = {}
        self.index: VectorIndex = open_index(dim)

    def upsert(self, units: Sequence[MemoryUnit], embeddings: np.ndarray) -> None:
        if not units:
            return
        self.index.upsert(
            [u.id for u in units],
            np.ascontiguousarray(embeddings, dtype=np.float32),
            namespace=[self.namespace.key] * len(units),
            granularity=[u.granularity.value for u in units],
            current=[u.is_current for u in units],
        )
        self.units.update({u.id: u for u in units})

    def remove(self, ids: Sequence[str]) -> None:
        present = [i for i in ids if i in self.units]
        if present:
            self.index.remove(present)
        for uid in present:
            del self.units[uid]

    def search(
        self, query: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[tuple[str, float]]:
        """Top-``k`` (id, cosine) pairs; fields the index cannot filter are checked afterwards."""
        if not self.units:
            return []
        flt = flt or UnitFilter()
        index_filter = IndexFilter(
            namespace=None,
            granularities=frozenset(g.value for g in flt.granularities)
            if flt.granularities is not None
            else None,
            current_only=flt.current_only,
            ids=flt.ids,
        )
        exact = flt.kinds is None and flt.session_ids is None and flt.event_after is None
        exact = exact and flt.event_before is None
        wanted = k if exact else min(len(self.units), k * 4)
        hits = self.index.search(
            np.asarray(query, dtype=np.float32).reshape(-1), wanted, index_filter
        )
        if exact:
            return hits
        return [(uid, s) for uid, s in hits if flt.matches(self.units[uid])][:k]

    def score(self, query: np.ndarray, ids: Sequence[str]) -> list[tuple[str, float]]:
        known = [i for i in ids if i in self.units]
        if not known:
            return []
        return self.index.score(np.asarray(query, dtype=np.float32).reshape(-1), known)
