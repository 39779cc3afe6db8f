"""This process's copy of each namespace: hot units and dense index, and values derived from them.

The durable stores (journal, vector store) are the truth, and several processes may write them.
The replica keeps, per namespace, a :class:`~memory.hot.HotNamespace` at a known durable version
and a cache of derived values (the retriever's view, the graph walk…) each at the version it was
computed for. Every read first asks the journal for the namespace's durable version — one indexed
read — and, when it moved, fetches just the units the journal's change feed names as changed
since; versions reached by this process's own writes need no fetch (their units are applied as
they are written). A derived value is brought forward by its ``update`` function with those unit
ids, or rebuilt when it has none; either way the cost is in proportion to what changed, not to
the namespace. Inside :meth:`Replica.snapshot` (one recall) the version and the change feed are
read once per namespace, not once per read: the call sees the namespace as its first read did.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import numpy as np

from memory.backends import ChangeFeed
from memory.hot import HotNamespace
from memory.model import MemoryUnit, Namespace, UnitFilter
from memory.vector_store import VectorStore

__all__ = ["DerivedUpdate", "Replica"]

T = TypeVar("T")
DerivedUpdate = Callable[[T, Sequence[str], Mapping[str, MemoryUnit]], T]
"""Brings a derived value forward: (old value, ids of the units changed since, every unit now by
id — a changed id that is absent was deleted) → the new value. Must not mutate the old value, and
applying the same ids twice must be harmless."""

_DERIVED_CACHE_SIZE = 64


class Replica:
    """Hot copies and derived values of the namespaces this process uses."""

    def __init__(self, journal: ChangeFeed, vectors: VectorStore, dim: int) -> None:
        self._journal = journal
        self._vectors = vectors
        self._dim = dim
        self._lock = threading.RLock()
        self._hot: dict[str, HotNamespace] = {}
        self._derived: OrderedDict[tuple[str, str], tuple[int, Any]] = OrderedDict()
        self._snapshot: ContextVar[dict[tuple[str, int], Any] | None] = ContextVar(
            "replica_snapshot", default=None
        )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Within the block, read each namespace's durable version (and its changes since a
        version) once and reuse it. For a read-only call: it sees the writes completed before it
        began, and a write that lands meanwhile is seen by the next call. Nested blocks share the
        outer snapshot; the state is per context, so concurrent calls never share one."""
        if self._snapshot.get() is not None:
            yield
            return
        token = self._snapshot.set({})
        try:
            yield
        finally:
            self._snapshot.reset(token)

    def _version(self, ns: Namespace) -> int:
        return cast(int, self._memoized((ns.key, -1), lambda: self._journal.version(ns)))

    def _changed_since(self, ns: Namespace, version: int) -> tuple[int, list[str]]:
        feed = self._journal
        changes = self._memoized((ns.key, version), lambda: feed.changed_since(ns, version))
        return cast(tuple[int, list[str]], changes)

    def _memoized(self, key: tuple[str, int], read: Callable[[], Any]) -> Any:
        """``read()``, once per ``key`` inside a snapshot; every time outside one."""
        memo = self._snapshot.get()
        if memo is None:
            return read()
        if key not in memo:
            memo[key] = read()
        return memo[key]

    def loaded(self, ns: Namespace) -> HotNamespace | None:
        """The namespace's hot copy if this process has loaded it (not brought up to date)."""
        return self._hot.get(ns.key)

    def hot(self, ns: Namespace) -> HotNamespace:
        """The namespace's hot copy at its durable version, loaded on first use."""
        hot = self._hot.get(ns.key)
        if hot is None:
            with self._lock:
                hot = self._hot.get(ns.key)
                if hot is None:
                    hot = self._load(ns)
                    self._hot[ns.key] = hot
                    return hot
        self.sync(ns)
        return hot

    def _load(self, ns: Namespace) -> HotNamespace:
        hot = HotNamespace(ns, self._dim)
        hot.version = self._version(ns)  # read first: anything newer is fetched later
        records = self._vectors.all_records(ns, None, with_embeddings=True)
        if records:
            matrix = np.stack([np.asarray(r.embedding, dtype=np.float32) for r in records])
            hot.upsert([r.unit for r in records], matrix)
        return hot

    def sync(self, ns: Namespace) -> int:
        """Bring the loaded hot copy up to the durable version; returns the version it is at."""
        version = self._version(ns)
        hot = self._hot.get(ns.key)
        if hot is None or hot.version >= version:
            return version
        with hot.lock:
            if hot.version >= version:
                return hot.version
            now, changed = self._changed_since(ns, hot.version)
            flt = UnitFilter(ids=frozenset(changed))
            records = self._vectors.all_records(ns, flt, with_embeddings=True) if changed else []
            if records:
                matrix = np.stack([np.asarray(r.embedding, dtype=np.float32) for r in records])
                hot.upsert([r.unit for r in records], matrix)
            found = {r.unit.id for r in records}
            hot.remove([uid for uid in changed if uid not in found])
            hot.synced(now)
        return hot.version

    def written(
        self, ns: Namespace, units: Sequence[MemoryUnit], embeddings: np.ndarray, version: int
    ) -> None:
        """This process stored ``units``; the write brought the namespace to ``version``."""
        hot = self._hot.get(ns.key)
        if hot is not None:
            with hot.lock:
                if version <= hot.version:  # a sync already fetched this write, or a later one
                    return
                hot.upsert(units, embeddings)
                hot.applied(version)

    def deleted(self, ns: Namespace, ids: Sequence[str], version: int) -> None:
        """This process deleted ``ids``; the write brought the namespace to ``version``."""
        hot = self._hot.get(ns.key)
        if hot is not None:
            with hot.lock:
                if version <= hot.version:
                    return
                hot.remove(ids)
                hot.applied(version)

    def derived(
        self,
        ns: Namespace,
        name: str,
        build: Callable[[], T],
        update: DerivedUpdate[T] | None = None,
    ) -> T:
        """The value ``name`` of ``ns`` at the durable version: cached, brought forward by
        ``update`` with the units changed since it was computed, or built anew."""
        hot = self.hot(ns)
        version = hot.version
        key = (ns.key, name)
        with self._lock:
            cached = self._derived.get(key)
            if cached is not None:
                self._derived.move_to_end(key)
        if cached is not None and cached[0] == version:
            return cast(T, cached[1])
        if cached is not None and update is not None and cached[0] < version:
            _, changed = self._changed_since(ns, cached[0])
            with hot.lock:
                value = update(cast(T, cached[1]), changed, hot.units)
        else:
            value = build()
        with self._lock:
            self._derived[key] = (version, value)
            self._derived.move_to_end(key)
            while len(self._derived) > _DERIVED_CACHE_SIZE:
                self._derived.popitem(last=False)
        return value

    def forget(self, ns: Namespace) -> None:
        """Drop every derived value of ``ns`` (they are rebuilt on next use)."""
        with self._lock:
            for key in [k for k in self._derived if k[0] == ns.key]:
                del self._derived[key]
