"""What a routing policy sees of a question before the read path runs (see :mod:`agents.policy`).

Three groups, all independent of any one conversation's wording so that a router trained on some
conversations can route questions about others:

- the query analysis: question type, length, names, days, whether it asks when;
- a first-pass probe: the best dense similarity, how flat the dense scores of each granularity
  are (normalised entropy, as the entropy router measures them), each granularity's share of the
  best hits, the best BM25 score and how much the dense and lexical heads agree;
- the question embedding reduced to a few dimensions by a fixed random projection (seeded, so
  training and use see the same projection, and nothing is fitted to the training questions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import numpy as np

from agents.policy import RouteFeatures
from agents.recipes import Recipe
from agents.retrieval.analyse import cached_query_analysis
from agents.retrieval.route import TEMPERATURE
from agents.retrieval.types import QueryPlan
from agents.retrieval.view import NamespaceView
from memory.model import Granularity, Namespace, UnitFilter
from memory.store import MemoryStore

__all__ = ["EMBEDDING_DIMS", "PROBE", "route_features"]

PROBE = 40
"""Dense and lexical hits the probe looks at."""
EMBEDDING_DIMS = 8
"""Dimensions of the reduced question embedding."""
_PROJECTION_SEED = 20240612
_QTYPES = ("who", "what", "which", "when", "where", "why", "how", "how_many", "how_long", "yes_no")
_GRANULARITIES = (Granularity.TURN, Granularity.FACT, Granularity.SESSION, Granularity.INSIGHT)


def route_features(
    store: MemoryStore,
    ns: Namespace,
    view: NamespaceView,
    plan: QueryPlan,
    recipe: Recipe,
    reference: date | None = None,
) -> RouteFeatures:
    """The features of ``plan``'s query against the namespace's current units."""
    analysis = cached_query_analysis(plan.query, view.names, reference)
    values: dict[str, float] = {f"type:{t}": float(analysis.qtype == t) for t in _QTYPES}
    values["words"] = math.log1p(len(plan.query.split()))
    values["names"] = float(len(analysis.entities))
    values["days"] = float(len(analysis.dates))
    values["temporal"] = float(analysis.temporal)
    values["multi_hop"] = float(analysis.multi_hop)
    vector = store.embed([plan.search_text])[0]
    flt = UnitFilter(granularities=recipe.granularities, current_only=True)
    dense = [(h.unit.id, h.unit.granularity, h.score) for h in store.search(ns, vector, PROBE, flt)]
    lexical = store.lexical_search(ns, plan.search_text, PROBE, recipe.granularities)
    values.update(_dense_features(dense))
    values["lexical:top"] = math.log1p(lexical[0][1]) if lexical else 0.0
    head_d = {uid for uid, _, _ in dense[:10]}
    head_l = {uid for uid, _ in lexical[:10]}
    values["agreement"] = len(head_d & head_l) / max(1, len(head_d | head_l))
    for i, x in enumerate(_projection(vector.shape[0]) @ np.asarray(vector, dtype=np.float64)):
        values[f"embedding:{i}"] = float(x)
    return RouteFeatures(tuple(values), tuple(values.values()))


def _dense_features(dense: Sequence[tuple[str, Granularity, float]]) -> dict[str, float]:
    scores = [s for _, _, s in dense]
    out = {
        "dense:top": scores[0] if scores else 0.0,
        "dense:gap": scores[0] - scores[min(9, len(scores) - 1)] if scores else 0.0,
    }
    head = [g for _, g, _ in dense[:20]]
    for gran in _GRANULARITIES:
        own = [s for _, g, s in dense if g == gran]
        out[f"share:{gran.value}"] = head.count(gran) / max(1, len(head))
        out[f"entropy:{gran.value}"] = _entropy(own[:10])
    return out


def _entropy(scores: Sequence[float]) -> float:
    """Normalised entropy of a softmax over ``scores`` (1: flat; 1 also for fewer than two)."""
    if len(scores) < 2:
        return 1.0
    s = np.asarray(scores, dtype=np.float64)
    p = np.exp((s - s.max()) / TEMPERATURE)
    p /= p.sum()
    return float(-(p * np.log(p + 1e-12)).sum() / math.log(len(s)))


@lru_cache(maxsize=4)
def _projection(dim: int) -> np.ndarray:
    rng = np.random.default_rng(_PROJECTION_SEED)
    return rng.standard_normal((EMBEDDING_DIMS, dim)) / math.sqrt(EMBEDDING_DIMS)
