"""Work the engine defers past the call that made it due: one worker thread, one queue; and work
it repeats on a thread of its own (:class:`Periodic`).

A due reflection runs here after the ``remember`` that made it due has returned, so a chat turn
does not wait for clustering; it starts once no call has been in progress for ``quiet_s``
(:meth:`Deferred.foreground` marks a call), waiting at most ``idle_wait_s``, so the recall a
chatbot makes right after remembering does not share the CPU with it. Jobs are keyed by
namespace, and the engine waits for a namespace's pending job before it writes to that namespace
again: writes and their reflections reach a namespace in the same order as if the reflection had
run inline, so results do not depend on timing. Closing cancels the jobs that have not started
(they are recorded as pending work in the journal and resume when the data folder is next
opened) and waits for the one that has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress

__all__ = ["Deferred", "Periodic"]

log = logging.getLogger(__name__)


class Deferred:
    """A single-thread queue of jobs, at most one pending per key, each started once the engine
    has been idle for ``quiet_s`` (or after ``idle_wait_s``, or at once when someone waits for
    it)."""

    def __init__(self, idle_wait_s: float = 2.0, quiet_s: float = 0.05) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hypermnesia-deferred")
        self._jobs: dict[str, Future[None]] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._busy = 0
        self._urgent: set[str] = set()
        self._idle_wait_s = idle_wait_s
        self._quiet_s = quiet_s
        self._last_call_end = 0.0

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark a call in progress: jobs not yet started wait for it to end."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._last_call_end = time.monotonic()
                self._lock.notify_all()

    def _when_idle(self, key: str, job: Callable[[], None]) -> None:
        deadline = time.monotonic() + self._idle_wait_s
        with self._lock:
            while not (self._closed or key in self._urgent):
                now = time.monotonic()
                quiet_for = now - self._last_call_end
                if now >= deadline or (self._busy == 0 and quiet_for >= self._quiet_s):
                    break
                self._lock.wait(min(deadline - now, max(self._quiet_s - quiet_for, 0.001)))
            self._urgent.discard(key)
            if self._closed:  # not started: it stays pending work and resumes on open
                return
        job()

    def submit(self, key: str, job: Callable[[], None]) -> None:
        """Queue ``job`` for ``key`` unless one is already waiting for it."""
        with self._lock:
            if self._closed:
                return
            pending = self._jobs.get(key)
            if pending is not None and not pending.done():
                return
            future = self._pool.submit(self._when_idle, key, job)
            self._jobs[key] = future
        future.add_done_callback(_report)

    def wait(self, key: str) -> None:
        """Return once ``key``'s job (if any) has finished, whatever its outcome."""
        with self._lock:
            future = self._jobs.get(key)
            if future is not None and not future.done():
                self._urgent.add(key)
                self._lock.notify_all()
        if future is not None:
            _settle(future)

    def wait_all(self) -> None:
        """Return once every job queued so far has finished."""
        with self._lock:
            futures = list(self._jobs.values())
            self._urgent.update(k for k, f in self._jobs.items() if not f.done())
            self._lock.notify_all()
        for future in futures:
            _settle(future)

    def close(self) -> None:
        """Cancel the jobs not started, wait for the running one, stop the worker."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)


class Periodic:
    """``job`` every ``interval`` seconds on a daemon thread, until :meth:`close`; a job that
    fails is logged and tried again at the next tick."""

    def __init__(self, interval: float, job: Callable[[], object], name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval, job), name=name, daemon=True
        )
        self._thread.start()

    def _run(self, interval: float, job: Callable[[], object]) -> None:
        while not self._stop.wait(interval):
            try:
                job()
            except Exception as exc:
                log.warning("periodic job failed (tried again in %g s): %r", interval, exc)

    def close(self) -> None:
        """Stop ticking; waits for a job under way."""
        self._stop.set()
        self._thread.join()


def _settle(future: Future[None]) -> None:
    with suppress(Exception, CancelledError):  # reported by _report; the caller only waits
        future.result()


def _report(future: Future[None]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.warning("deferred job failed (it stays pending and resumes on open): %r", error)
