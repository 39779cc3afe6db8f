"""``AsyncHypermnesia``: the engine for event loops (the REST service, the MCP server).

The engine is synchronous and CPU-bound; each call here runs it on a worker thread, so a recall in
flight never stalls the loop that serves other requests. Each namespace has a read-write lock:
its reads run side by side while a write to it (remember, reflect) runs alone, since the write
graph judges new facts against what is stored (two writes at once could both decide a fact is
new) and a recall should see a write whole or not at all. Calls on different namespaces do not
wait for one another: the engine keeps namespaces apart and is safe for threads. Erasing
(``forget``, which may rewrite shared files) and closing wait for every call in flight and run
alone. Waiting happens on the loop, not on a thread.

Use it from one event loop; open it with :meth:`AsyncHypermnesia.open` and close it with
:meth:`aclose` (or ``async with``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiorwlock
import anyio
import anyio.to_thread

from agents.results import RecallResult, RememberResult
from graphs.client import Hypermnesia
from memory.errors import UnitNotFoundError
from memory.model import MemoryUnit, Namespace, Turn
from memory.settings import Settings
from memory.store import DeleteReport, HistoryEvent
from memory.traces import TraceRun

__all__ = ["AsyncHypermnesia"]

T = TypeVar("T")

#: Threads the engine may use at once, over all namespaces.
DEFAULT_THREADS = 4


class AsyncHypermnesia:
    """The engine's calls as coroutines that never block the event loop."""

    def __init__(self, engine: Hypermnesia, *, threads: int = DEFAULT_THREADS) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.engine = engine
        self._threads = threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock: aiorwlock.RWLock | None = None
        # namespace key -> (its lock, calls holding or waiting for it); dropped at zero calls
        self._spaces: dict[str, tuple[aiorwlock.RWLock, int]] = {}

    @classmethod
    async def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        settings: Settings | None = None,
        threads: int = DEFAULT_THREADS,
        **engine_options: Any,
    ) -> AsyncHypermnesia:
        """Open the engine (on a thread: opening loads models and replays the journal)."""

        def opened() -> Hypermnesia:
            return Hypermnesia.open(data_dir, settings=settings, **engine_options)

        return cls(await anyio.to_thread.run_sync(opened), threads=threads)

    async def __aenter__(self) -> AsyncHypermnesia:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the engine once the calls in flight are done."""
        async with self._rwlock().writer_lock:
            await self._run(self.engine.close)

    # -- the engine's calls --------------------------------------------------------------------

    async def remember(
        self, ns: Namespace, turns: Sequence[Turn], *, session_end: bool = True
    ) -> RememberResult:
        return await self._write(
            ns, lambda: self.engine.remember(ns, turns, session_end=session_end)
        )

    async def reflect(self, ns: Namespace) -> RememberResult:
        return await self._write(ns, lambda: self.engine.reflect(ns))

    async def forget(
        self, ns: Namespace, unit_ids: Sequence[str], *, dry_run: bool = False
    ) -> DeleteReport:
        def call() -> DeleteReport:
            return self.engine.forget(ns, unit_ids, dry_run=dry_run)

        return await (self._read(ns, call) if dry_run else self._alone(call))

    async def recall(
        self,
        ns: Namespace,
        question: str,
        *,
        budget: int = 1000,
        max_iterations: int = 3,
        recipe: str = "full",
    ) -> RecallResult:
        return await self._read(
            ns,
            lambda: self.engine.recall(
                ns, question, budget=budget, max_iterations=max_iterations, recipe=recipe
            ),
        )

    async def history(self, ns: Namespace, unit_id: str) -> list[HistoryEvent]:
        return await self._read(ns, lambda: self.engine.history(ns, unit_id))

    async def units(self, ns: Namespace, unit_ids: Sequence[str]) -> list[MemoryUnit]:
        """Units by id, in the order asked; ids not in ``ns`` are absent."""
        return await self._read(ns, lambda: self.engine.store.get(ns, unit_ids))

    async def runs(self, ns: Namespace, *, limit: int = 20) -> list[TraceRun]:
        """The namespace's most recent runs, without their steps."""
        return await self._read(
            ns, lambda: self.engine.traces.list_runs(namespace=ns.key, limit=limit)
        )

    async def run(self, ns: Namespace, run_id: str) -> TraceRun:
        """One run with its steps; another namespace's run is reported as missing, exactly like
        a run that does not exist, so its existence is not revealed."""
        run = await self._read(ns, lambda: self.engine.traces.get(run_id))
        if run.namespace != ns.key:
            raise UnitNotFoundError(f"no trace run {run_id!r}")
        return run

    async def read(self, fn: Callable[[Hypermnesia], T]) -> T:
        """``fn(engine)`` on a worker thread, beside other calls and never during an erasure: for
        a caller that reads several things at once, across namespaces (the trace viewer's pages).
        A write under way in some namespace may show as a run not yet finished."""
        async with self._rwlock().reader_lock:
            return await self._run(lambda: fn(self.engine))

    # -- scheduling ----------------------------------------------------------------------------

    def _rwlock(self) -> aiorwlock.RWLock:
        if self._lock is None:  # made on first use, inside the loop that uses it
            self._lock = aiorwlock.RWLock()
        return self._lock

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)

    @asynccontextmanager
    async def _space(self, ns: Namespace) -> AsyncIterator[aiorwlock.RWLock]:
        """``ns``'s lock, shared by every call on ``ns`` in flight (made for the first, dropped
        after the last), inside the whole engine's reader lock."""
        async with self._rwlock().reader_lock:
            lock, users = self._spaces.get(ns.key) or (aiorwlock.RWLock(), 0)
            self._spaces[ns.key] = (lock, users + 1)
            try:
                yield lock
            finally:
                lock, users = self._spaces[ns.key]
                if users == 1:
                    del self._spaces[ns.key]
                else:
                    self._spaces[ns.key] = (lock, users - 1)

    async def _read(self, ns: Namespace, fn: Callable[[], T]) -> T:
        async with self._space(ns) as lock, lock.reader_lock:
            return await self._run(fn)

    async def _write(self, ns: Namespace, fn: Callable[[], T]) -> T:
        async with self._space(ns) as lock, lock.writer_lock:
            return await self._run(fn)

    async def _alone(self, fn: Callable[[], T]) -> T:
        async with self._rwlock().writer_lock:
            return await self._run(fn)
