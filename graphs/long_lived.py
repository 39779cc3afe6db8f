"""Full garbage collections that walk what is new, not the whole memory, while an engine is open.

CPython's cycle collector walks every tracked object in a full (generation 2) collection. An open
engine keeps its memory as Python objects (units, lexical documents, adjacency): about 220,000 of
them for 8,000 units, which a full collection walks in about 140 ms on a 2-core machine. Full
collections come whenever enough objects have survived young ones, so one lands inside a random
call: in ``app.py bench graph --one-namespace`` they were the recalls that took 180 ms instead
of 35.

While an engine is open, the survivors of each full collection are frozen (``gc.freeze``), so
the next full collection walks only what survived since. Right after a full collection every
object left is reachable, so freezing them hides no garbage. Frozen objects are still freed by
reference counting; only a garbage *cycle* among them waits for a sweep: every
``SWEEP_EVERY``-th full collection unfreezes everything first and walks it all. Closing the
last open engine unfreezes.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

__all__ = ["SWEEP_EVERY", "hold", "release"]

SWEEP_EVERY = 32
"""One full collection in this many walks every object (frozen ones included)."""

_lock = threading.Lock()
_holders = 0
_full_collections = 0


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: sweep every ``SWEEP_EVERY``-th full collection, freeze after each."""
    global _full_collections
    if info.get("generation") != 2:
        return
    if phase == "start":
        _full_collections += 1
        if _full_collections % SWEEP_EVERY == 0:
            gc.unfreeze()
    else:
        gc.freeze()


def hold() -> None:
    """An engine opened: freeze the survivors of full collections from now on."""
    global _holders
    with _lock:
        if _holders == 0:
            gc.callbacks.append(_on_collection)
        _holders += 1


def release() -> None:
    """An engine closed; the last one to close stops freezing and unfreezes everything."""
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.callbacks.remove(_on_collection)
            gc.unfreeze()
