"""Decay: newer and more used memories weigh more, where that helps.

Two recipe knobs, each a score factor over the best candidates of a pass:

- ``recency`` — for a question about the present (:func:`~agents.retrieval.current.asks_about_now`)
  only: ``1 + recency × r``, with ``r`` the unit's event time placed between the oldest (0) and
  the newest (1) among those candidates. "Does Lee drink coffee?" is asked about now; the newest
  evidence is the likelier answer. A question about the past, or about when, is left alone.
- ``access`` — for every question: ``1 + access × a``, with ``a`` the unit's recall count on a log
  scale against the most recalled candidate (``access_count`` is kept by every recall that
  returns the unit). A memory people keep coming back to is worth keeping near the top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.state import Candidate
from memory.model import MemoryUnit, Namespace
from memory.store import MemoryStore

__all__ = ["DECAYED", "decay_factors", "decayed"]

DECAYED = 30
"""How many of the best candidates decay reorders (the rest keep their order below them)."""


def decay_factors(
    units: Sequence[MemoryUnit], *, recency: float, access: float
) -> dict[str, float]:
    """Each unit's score factor (see the module docstring); 1 for every unit when both are 0."""
    times = [u.event_time.timestamp() for u in units if u.event_time is not None]
    oldest, newest = (min(times), max(times)) if times else (0.0, 0.0)
    span = newest - oldest
    most_used = max((u.access_count for u in units), default=0)
    factors: dict[str, float] = {}
    for unit in units:
        factor = 1.0
        if recency and span > 0 and unit.event_time is not None:
            factor += recency * (unit.event_time.timestamp() - oldest) / span
        if access and most_used > 0:
            factor += access * math.log1p(unit.access_count) / math.log1p(most_used)
        factors[unit.id] = factor
    return factors


def decayed(
    store: MemoryStore,
    ns: Namespace,
    ranked: Sequence[Candidate],
    *,
    recency: float,
    access: float,
) -> list[Candidate]:
    """The best :data:`DECAYED` candidates rescored by their decay factors, the rest after them."""
    head, tail = list(ranked[:DECAYED]), list(ranked[DECAYED:])
    units = store.get(ns, [c["unit_id"] for c in head])  # with their access statistics
    factors = decay_factors(units, recency=recency, access=access)
    rescored = [  # factors are at least 1, so the head stays above the tail
        Candidate(
            unit_id=c["unit_id"],
            score=c["score"] * factors.get(c["unit_id"], 1.0),
            sources=c["sources"],
        )
        for c in head
    ]
    rescored.sort(key=lambda c: -c["score"])
    return [*rescored, *tail]
