"""Rebuild an embedded Chroma index from the journal when Chroma can no longer read it.

A process killed while embedded Chroma writes its HNSW files can leave them torn; Chroma then
fails every later call on the collection ("Error in compaction: Failed to apply logs to the hnsw
segment writer", "Error getting embedding", ...) and the data folder would never open again. The
journal (SQLite or PostgreSQL) holds every unit each write stored (see
:meth:`~memory.backends.JournalStore.unit_states`), so the vectors are derived data:
:class:`RebuildingBackend` answers such a failure by deleting Chroma's files, storing every unit
again with freshly computed embeddings, and retrying the call once. Only embedded Chroma is wrapped:
a Chroma server owns its files, and its operator its repairs.

A marker file beside the data stays while a rebuild runs, so a process killed part-way finishes
the rebuild on the next open instead of serving a half-filled index.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from memory.backends import JournalStore
from memory.embeddings import Embedder
from memory.errors import VectorIndexError
from memory.model import MemoryUnit, Namespace, UnitFilter
from memory.segment_vectors import vectors_with_pooled_segments
from memory.vector_store import ChromaBackend, VectorBackend, VectorRecord

__all__ = ["REBUILD_MARKER", "RebuildingBackend"]

_log = logging.getLogger(__name__)
REBUILD_MARKER = "chroma.rebuilding"
"""The file (in the data folder) that says a rebuild started and has not finished."""
_BATCH = 256
_T = TypeVar("_T")


class RebuildingBackend(VectorBackend):
    """An embedded :class:`ChromaBackend` that rebuilds itself from the journal when broken."""

    def __init__(self, inner: ChromaBackend, journal: JournalStore, embedder: Embedder, root: Path):
        self._inner = inner
        self._journal = journal
        self._embedder = embedder
        self._marker = root / REBUILD_MARKER
        self.rebuilds = 0
        """How many times this process rebuilt the index."""
        if self._marker.exists():
            _log.warning("a rebuild of the vector index at %s did not finish; redoing it", root)
            self.rebuild()

    @property
    def inner(self) -> ChromaBackend:
        return self._inner

    def rebuild(self) -> int:
        """Empty the index and store every unit the journal holds; returns how many."""
        self._marker.write_text("rebuilding the vector index from the journal\n")
        _fsync(self._marker)
        self._inner.reset()
        states = self._journal.unit_states()
        total = 0
        for ns_key, units in states.items():
            ns = Namespace.parse(ns_key)
            batch = [MemoryUnit.model_validate(u) for u in units.values()]
            # segments get their turns' mean, as when they were written
            vectors = vectors_with_pooled_segments(batch, {}, self._embed, self._embed)
            for start in range(0, len(batch), _BATCH):
                rows = vectors[start : start + _BATCH]
                chunk = zip(batch[start : start + _BATCH], rows, strict=True)
                self._inner.upsert(ns, [VectorRecord(u, v) for u, v in chunk])
            total += len(batch)
        self._marker.unlink()
        self.rebuilds += 1
        _log.warning("rebuilt the vector index: %d units in %d namespaces", total, len(states))
        return total

    def _embed(self, units: Sequence[MemoryUnit]) -> np.ndarray:
        return self._embedder.embed([u.text for u in units])

    def _healing(self, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except VectorIndexError as exc:
            _log.warning("%s; rebuilding it from the journal", exc)
            self.rebuild()
            return call()

    # -- the backend contract, each call healed once -------------------------------------------

    def upsert(self, ns: Namespace, records: Sequence[VectorRecord]) -> None:
        self._healing(lambda: self._inner.upsert(ns, records))

    def get(
        self,
        ns: Namespace,
        ids: Sequence[str] | None = None,
        flt: UnitFilter | None = None,
        *,
        with_embeddings: bool = False,
        limit: int | None = None,
    ) -> list[VectorRecord]:
        return self._healing(
            lambda: self._inner.get(ns, ids, flt, with_embeddings=with_embeddings, limit=limit)
        )

    def query(
        self, ns: Namespace, vectors: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[list[tuple[VectorRecord, float]]]:
        return self._healing(lambda: self._inner.query(ns, vectors, k, flt))

    def delete(self, ns: Namespace, ids: Sequence[str]) -> int:
        return self._healing(lambda: self._inner.delete(ns, ids))

    def count(self, ns: Namespace | None = None) -> int:
        return self._healing(lambda: self._inner.count(ns))

    def namespaces(self) -> list[Namespace]:
        return self._healing(self._inner.namespaces)

    def compact(self) -> None:
        self._healing(self._inner.compact)

    def close(self) -> None:
        self._inner.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
