"""Embedding ahead of a bulk import: while the engine writes one window of items (sessions), worker
threads embed the texts the next windows will need, into the store's embedding cache.

Two things make this pay. The encoder's cost per word piece falls as its batches grow, and one
window holds the texts of many sessions, where a write alone embeds a few dozen. And inference runs
outside the GIL, so it overlaps the engine's Python work on the window before (building, judging
and storing units). The writes then find their vectors in the cache. A text predicted wrongly
costs only its own embedding: a write embeds whatever it does not find, so results never depend
on the prediction, only the time does.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from memory.errors import InvalidInputError

__all__ = ["DEFAULT_WINDOWS_AHEAD", "DEFAULT_WINDOW_TEXTS", "embedded_ahead"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Texts per window: enough for full encoder batches (a LoCoMo session predicts ~50 texts), few
#: enough that the next window is ready soon and those in flight stay well inside the store's
#: embedding cache.
DEFAULT_WINDOW_TEXTS = 192
#: Windows embedded ahead of the one being written. With two, the encoder always has a window
#: queued behind the one it is running, so it never waits for the writer to ask for more.
DEFAULT_WINDOWS_AHEAD = 2

_Pending = deque[tuple[int, int, Future[object]]]
"""Windows submitted and not yet yielded: (start, end, their embedding), oldest first."""


def embedded_ahead(
    items: Sequence[T],
    texts_of: Callable[[T], list[str]],
    embed: Callable[[list[str]], object],
    *,
    window_texts: int = DEFAULT_WINDOW_TEXTS,
    ahead: int = DEFAULT_WINDOWS_AHEAD,
) -> Iterator[T]:
    """Yield ``items`` in order; each window's texts (``texts_of`` of its items, at most
    ``2 * window_texts`` of them) are embedded before its first item is yielded, and up to
    ``ahead`` later windows' while the caller works on this one.

    The first window is the first item alone (the caller waits for it); every later one ends at
    the first item that brings its texts to ``window_texts``. Two worker threads embed, so the
    encoder can start on a window while the one before finishes. If embedding ahead fails, the
    failure is logged and the remaining items are yielded without it. Closing the iterator early
    waits for the embedding under way and drops what was not started.
    """
    for name, value in (("window_texts", window_texts), ("ahead", ahead)):
        if not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")
    windows = _windows(items, texts_of, window_texts)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hypermnesia-prefetch")
    pending: _Pending = deque()
    try:
        for _ in range(ahead + 1):
            _submit(pool, pending, windows, embed)
        while pending:
            start, end, future = pending.popleft()
            if not _embedded(future):
                pool.shutdown(wait=False, cancel_futures=True)
                yield from items[start:]
                return
            _submit(pool, pending, windows, embed)
            yield from items[start:end]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _windows(
    items: Sequence[T], texts_of: Callable[[T], list[str]], fill: int
) -> Iterator[tuple[int, int, list[str]]]:
    """``(start, end, distinct texts)`` of each window: the first item alone, then runs of items
    that end at the first one bringing their texts to ``fill`` (at most ``2 * fill`` kept)."""
    start = 0
    while start < len(items):
        texts: list[str] = []
        end = start
        while end < len(items) and len(texts) < (fill if start else 1):
            texts += texts_of(items[end])
            end += 1
        yield start, end, list(dict.fromkeys(texts))[: 2 * fill]
        start = end


def _submit(
    pool: ThreadPoolExecutor,
    pending: _Pending,
    windows: Iterator[tuple[int, int, list[str]]],
    embed: Callable[[list[str]], object],
) -> None:
    """Start embedding the next window, if there is one."""
    window = next(windows, None)
    if window is not None:
        start, end, texts = window
        pending.append((start, end, pool.submit(embed, texts) if texts else _done()))


def _done() -> Future[object]:
    future: Future[object] = Future()
    future.set_result(None)
    return future


def _embedded(future: Future[object]) -> bool:
    """Wait for a window's embedding; after a failure, log it and say so (False)."""
    error = future.exception()
    if error is None:
        return True
    log.warning("embedding ahead failed; each write embeds its own texts: %r", error)
    return False
