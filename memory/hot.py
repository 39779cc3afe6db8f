"""The in-process hot copy of one namespace: its units by id and a dense index over their vectors.

It is loaded from the vector store the first time a namespace is used and kept in step with the
durable stores by version: this process's own writes are applied as they happen, and writes
committed by other processes are fetched on the next call that finds the namespace's durable
version ahead of the copy's. It is never the only copy: dropping it loses nothing.

A lock guards every read and write of the index, so threads can search while another writes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from memory.model import MemoryUnit, Namespace, UnitFilter
from memory.native_index import IndexFilter, VectorIndex, open_index

__all__ = ["HotNamespace"]


class HotNamespace:
    """Units and dense index of one namespace, at a known durable version."""

    def __init__(self, ns: Namespace, dim: int) -> None:
        self.namespace = ns
        self.version = 0
        """The durable version this copy reflects (see ``MemoryStore.version``)."""
        self._ahead: set[int] = set()
        self._units: dict[str, MemoryUnit] = {}
        self._index: VectorIndex = open_index(dim)
        self.lock = threading.RLock()

    def applied(self, version: int) -> None:
        """This process applied the write that brought the namespace to ``version``. The copy's
        version moves up through every version so applied without a gap; a gap (a write by
        another process, not yet fetched) holds it back until the next sync."""
        with self.lock:
            self._ahead.add(version)
            self._advance()

    def synced(self, version: int) -> None:
        """The copy was brought up to ``version`` from the durable stores."""
        with self.lock:
            self.version = version
            self._ahead = {v for v in self._ahead if v > version}
            self._advance()

    def _advance(self) -> None:
        while self.version + 1 in self._ahead:
            self.version += 1
            self._ahead.discard(self.version)

    @property
    def units(self) -> MappingProxyType[str, MemoryUnit]:
        """Every unit of the namespace (current and closed), by id; a live read-only view."""
        return MappingProxyType(self._units)

    def unit(self, unit_id: str) -> MemoryUnit | None:
        return self._units.get(unit_id)

    def upsert(self, units: Sequence[MemoryUnit], embeddings: np.ndarray) -> None:
        if not units:
            return
        with self.lock:
            self._index.upsert(
                [u.id for u in units],
                np.ascontiguousarray(embeddings, dtype=np.float32),
                namespace=[self.namespace.key] * len(units),
                granularity=[u.granularity.value for u in units],
                current=[u.is_current for u in units],
            )
            self._units.update({u.id: u for u in units})

    def remove(self, ids: Sequence[str]) -> None:
        with self.lock:
            present = [i for i in ids if i in self._units]
            if present:
                self._index.remove(present)
            for uid in present:
                del self._units[uid]

    def search(
        self, query: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[tuple[str, float]]:
        """Top-``k`` (id, cosine) pairs; fields the index cannot filter are checked afterwards."""
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
        with self.lock:
            if not self._units:
                return []
            wanted = k if exact else min(len(self._units), k * 4)
            hits = self._index.search(
                np.asarray(query, dtype=np.float32).reshape(-1), wanted, index_filter
            )
            if exact:
                return hits
            return [(uid, s) for uid, s in hits if flt.matches(self._units[uid])][:k]

    def score(self, query: np.ndarray, ids: Sequence[str]) -> list[tuple[str, float]]:
        with self.lock:
            known = [i for i in ids if i in self._units]
            if not known:
                return []
            return self._index.score(np.asarray(query, dtype=np.float32).reshape(-1), known)
