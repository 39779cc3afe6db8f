"""Stage 2 of the read path: candidates from each source, each a ranking of current units.

- dense: cosine similarity in the store's in-process index (also read by the ``topic`` source,
  :mod:`agents.retrieval.topic`);
- lexical: BM25 over unit texts, speakers and keyphrases (the store's full-text index);
- graph: personalized PageRank over the hypergraph, seeded by the query's names and days and by
  the best fused hits of the sources above.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np

from agents.recipes import Recipe
from agents.retrieval.types import DateSpan, Hit
from agents.retrieval.view import NamespaceView
from memory.model import Namespace, UnitFilter
from memory.store import MemoryStore

__all__ = ["day_range", "dense_hits", "graph_hits", "lexical_hits"]

MAX_SEED_HITS = 5
"""Best fused hits of the dense and lexical sources that seed the graph walk."""


def dense_hits(
    store: MemoryStore, ns: Namespace, query_vector: np.ndarray, recipe: Recipe
) -> list[Hit]:
    """The ``recipe.pool`` current units of the allowed granularities nearest the query."""
    flt = UnitFilter(granularities=recipe.granularities, current_only=True)
    return [Hit(h.unit.id, h.score) for h in store.search(ns, query_vector, recipe.pool, flt)]


def lexical_hits(store: MemoryStore, ns: Namespace, text: str, recipe: Recipe) -> list[Hit]:
    """The ``recipe.pool`` best current units of the allowed granularities by BM25."""
    allowed = recipe.granularities
    return [Hit(u, s) for u, s in store.lexical_search(ns, text, recipe.pool, allowed)]


def graph_hits(
    store: MemoryStore,
    ns: Namespace,
    view: NamespaceView,
    *,
    entities: Sequence[str],
    spans: Sequence[DateSpan],
    seeds: Sequence[Hit],
    recipe: Recipe,
) -> list[Hit]:
    """Units ranked by a walk from the named entities, the days of short spans and ``seeds``.

    Seed hits weigh 1 / (1 + rank); only current units of the allowed granularities are kept.
    """
    seed_units = {h.unit_id: 1.0 / (1 + rank) for rank, h in enumerate(seeds)}
    ranked = store.related(
        ns, entities=entities, days=day_range(spans), seed_units=seed_units, limit=recipe.pool
    )
    allowed = recipe.granularities
    kept = [
        Hit(uid, score)
        for uid, score in ranked
        if uid in view.units and view.units[uid].granularity in allowed
    ]
    return kept


def day_range(spans: Iterable[DateSpan], *, max_days: int = 31) -> list[date]:
    """Every day of the short spans (a long span names no particular day)."""
    days: list[date] = []
    for start, end in spans:
        if (end - start).days <= max_days:
            days.extend(start + timedelta(n) for n in range((end - start).days + 1))
    return days
