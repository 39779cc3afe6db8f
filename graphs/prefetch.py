"""Embedding ahead of a bulk import: while the engine writes one window of items (sessions), a
worker thread embeds the texts the next window will need, into the store's embedding cache.

Two things make this pay. The encoder's cost per word piece falls as its batches grow, and one
window holds the texts of many sessions, where a write alone embeds a few dozen. And inference runs
outside the GIL, so it overlaps the engine's Python work on the window before (building, judging
and storing units). The writes then find their vectors in the cache. A text predicted wrongly
costs only its own embedding: a write embeds whatever it does not find, so results never depend
on the prediction, only the time does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from memory.errors import InvalidInputError

__all__ = ["DEFAULT_WINDOW_TEXTS", "embedded_ahead"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Texts per window: enough for full encoder batches (a LoCoMo session predicts ~50 texts), few
#: enough that the next window is ready soon and two in flight stay well inside the store's
#: embedding cache.
DEFAULT_WINDOW_TEXTS = 192


def embedded_ahead(
    items: Sequence[T],
    texts_of: Callable[[T], list[str]],
    embed: Callable[[list[str]], object],
    *,
    window_texts: int = DEFAULT_WINDOW_TEXTS,
) -> Iterator[T]:
    """Yield ``items`` in order; each window's texts (``texts_of`` of its items, at most
    ``2 * window_texts`` of them) are embedded before its first item is yielded, and the next
    window's while the caller works on this one.

    The first window is the first item alone (the caller waits for it); every later one ends at
    the first item that brings its texts to ``window_texts``. If embedding ahead
    fails, the failure is logged and the remaining items are yielded without it. Closing the
    iterator early waits for the embedding under way.
    """
    if not isinstance(window_texts, int) or window_texts < 1:
        raise InvalidInputError(f"window_texts must be a positive integer, not {window_texts!r}")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hypermnesia-prefetch")
    try:
        ahead = pool.submit(_embed_window, items, 0, texts_of, embed, 1, 2 * window_texts)
        start = 0
        while start < len(items):
            end = _window_end(ahead, len(items))
            if end < len(items):
                ahead = pool.submit(
                    _embed_window, items, end, texts_of, embed, window_texts, 2 * window_texts
                )
            yield from items[start:end]
            start = end
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _embed_window(
    items: Sequence[T],
    start: int,
    texts_of: Callable[[T], list[str]],
    embed: Callable[[list[str]], object],
    fill: int,
    cap: int,
) -> int:
    """Embed the texts of the window that starts at ``start`` and ends at the first item that
    brings them to ``fill`` (at most ``cap`` distinct ones); returns where it ends."""
    texts: list[str] = []
    end = start
    while end < len(items) and len(texts) < fill:
        texts += texts_of(items[end])
        end += 1
    distinct = list(dict.fromkeys(texts))[:cap]
    if distinct:
        embed(distinct)
    return end


def _window_end(ahead: Future[int], total: int) -> int:
    """Where the window embedded by ``ahead`` ends; after a failure, the end of the items (no
    more embedding ahead)."""
    error = ahead.exception()
    if error is None:
        return ahead.result()
    log.warning("embedding ahead failed; each write embeds its own texts: %r", error)
    return total
