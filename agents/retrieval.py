"""The retriever's algorithms: candidate sources, entropy routing, fusion and budget packing.

Candidates come from three sources, each a ranked list over one namespace's current units:
dense similarity (the store's in-process index), BM25 over unit texts, and personalized PageRank
over the hypergraph seeded by the question's entities and dates and by the other two's best hits.
The router weighs granularities by how peaked their similarity distributions are (low entropy =
a granularity that clearly matches); reciprocal-rank fusion combines the sources. Packing fills a
token budget in score order, skipping units whose source turns are already covered.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import bm25s
import numpy as np

from agents.analysis import (
    QueryAnalysis,
    analyze_query,
    annotate_dates,
    content_tokens,
    format_day,
)
from agents.recipes import Recipe
from memory.errors import InvalidInputError
from memory.model import Granularity, MemoryUnit, Namespace, UnitFilter, VertexKind, vertex_id
from memory.store import MemoryStore
from memory.tokens import count_tokens

__all__ = [
    "NamespaceView",
    "Packed",
    "cached_query_analysis",
    "fuse",
    "pack",
    "present",
    "route_weights",
    "spread_to_neighbours",
    "view_for",
]


@dataclass
class NamespaceView:
    """BM25 and token counts over one namespace's current units, at one store version."""

    version: int
    units: dict[str, MemoryUnit]
    order: list[str]
    bm25: bm25s.BM25 | None
    names: tuple[str, ...] = ()
    """Speakers and proper names mentioned anywhere in the namespace (for query analysis)."""
    adjacent: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Turn unit id → the turn units just before and after it in the same session."""
    turn_units: dict[str, str] = field(default_factory=dict)
    """Source turn id → the id of its turn unit."""
    tokens: dict[str, int] = field(default_factory=dict)

    def lexical(
        self, query: str, k: int, allowed: frozenset[Granularity]
    ) -> list[tuple[str, float]]:
        """Top-``k`` units by BM25 score (positive scores only)."""
        terms = content_tokens(query)
        if self.bm25 is None or not terms:
            return []
        vocab = self.bm25.vocab_dict
        known = [t for t in terms if t in vocab]
        if not known:
            return []
        scores = self.bm25.get_scores(known)
        if len(allowed) < len(Granularity):
            mask = np.fromiter(
                (self.units[i].granularity in allowed for i in self.order), bool, len(self.order)
            )
            scores = np.where(mask, scores, 0.0)
        top = min(k, int(np.count_nonzero(scores > 0)))
        if top == 0:
            return []
        idx = np.argpartition(-scores, top - 1)[:top]
        idx = idx[np.argsort(-scores[idx])]
        return [(self.order[i], float(scores[i])) for i in idx]

    def token_count(self, unit: MemoryUnit) -> int:
        if unit.id not in self.tokens:
            self.tokens[unit.id] = count_tokens(present(unit))
        return self.tokens[unit.id]


_QUOTED = frozenset({Granularity.TURN, Granularity.SESSION})
"""Granularities whose text quotes the conversation as it was said."""
_VIEWS: dict[tuple[int, str], NamespaceView] = {}
_VIEWS_LOCK = threading.Lock()


def view_for(store: MemoryStore, ns: Namespace) -> NamespaceView:
    """The view of a namespace, rebuilt only when the store has changed it."""
    version = store.version(ns)
    key = (id(store), ns.key)
    with _VIEWS_LOCK:
        cached = _VIEWS.get(key)
        if cached is not None and cached.version == version:
            return cached
    units = {u.id: u for u in store.hot(ns).units.values() if u.is_current}
    order = list(units)
    bm25: bm25s.BM25 | None = None
    corpus = [content_tokens(_index_text(units[i])) for i in order]
    if any(corpus):
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index([doc or ["_"] for doc in corpus], show_progress=False)
    names = {u.speaker for u in units.values() if u.speaker}
    names |= {e for u in units.values() for e in u.entities if e[:1].isupper()}
    view = NamespaceView(
        version=version,
        units=units,
        order=order,
        bm25=bm25,
        names=tuple(sorted(names)),
        adjacent=_adjacent_turn_units(store, ns, units),
        turn_units={
            u.provenance[0]: u.id
            for u in units.values()
            if u.granularity == Granularity.TURN and u.provenance
        },
    )
    with _VIEWS_LOCK:
        _VIEWS[key] = view
    return view


def _adjacent_turn_units(
    store: MemoryStore, ns: Namespace, units: dict[str, MemoryUnit]
) -> dict[str, tuple[str, ...]]:
    """Neighbours in conversation order, from the journal (which keeps turns as they came)."""
    by_turn = {
        u.provenance[0]: u.id
        for u in units.values()
        if u.granularity == Granularity.TURN and u.provenance
    }
    sequence = [(t.session_id, by_turn[t.id]) for t in store.journal.turns(ns) if t.id in by_turn]
    adjacent: dict[str, tuple[str, ...]] = {}
    for i, (session, uid) in enumerate(sequence):
        around = [
            other
            for j in (i - 1, i + 1)
            if 0 <= j < len(sequence) and (other := sequence[j])[0] == session
        ]
        adjacent[uid] = tuple(o[1] for o in around)
    return adjacent


def spread_to_neighbours(
    fused: Sequence[tuple[str, float, list[str]]], view: NamespaceView, share: float
) -> list[tuple[str, float, list[str]]]:
    """Each turn passes ``share`` of its score to the turns around it, then all are re-ranked.

    In conversation the answer is often the turn after the one that matches the question (or the
    question before the answer that matches), so a turn next to a strong match is worth more.
    """
    scores = {uid: score for uid, score, _ in fused}
    sources = {uid: list(src) for uid, _, src in fused}
    for uid, score, _ in fused:
        for other in view.adjacent.get(uid, ()):
            scores[other] = scores.get(other, 0.0) + share * score
            if "context" not in sources.setdefault(other, []):
                sources[other].append("context")
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(uid, score, sources[uid]) for uid, score in ordered]


@lru_cache(maxsize=4096)
def cached_query_analysis(question: str, known: tuple[str, ...] = ()) -> QueryAnalysis:
    """``analyze_query`` memoised: the retriever and the judge analyse the same text each pass."""
    return analyze_query(question, None, known)


def _index_text(unit: MemoryUnit) -> str:
    """What BM25 indexes: the text plus speaker and keyphrases."""
    return " ".join([unit.speaker or "", unit.text, " ".join(unit.keywords)])


def dense_candidates(
    store: MemoryStore, ns: Namespace, query_vector: np.ndarray, recipe: Recipe
) -> list[tuple[str, float]]:
    flt = UnitFilter(granularities=recipe.granularities, current_only=True)
    return store.hot(ns).search(query_vector, recipe.pool, flt)


def graph_candidates(
    store: MemoryStore,
    ns: Namespace,
    entities: Sequence[str],
    days: Sequence[date],
    seed_hits: Sequence[tuple[str, float]],
    recipe: Recipe,
) -> list[tuple[str, float]]:
    """Hyperedges ranked by personalized PageRank from the question's entities, dates and hits."""
    graph = store.hypergraph
    seed_vertices: dict[str, float] = {v.id: 1.0 for v in graph.find_vertices(ns, entities)}
    for day in days:
        seed_vertices[vertex_id(ns, VertexKind.TIME, day.isoformat())] = 1.0
    known = {v.id for v in graph.get_vertices(ns, list(seed_vertices))}
    seed_vertices = {v: w for v, w in seed_vertices.items() if v in known}
    seed_edges = {uid: 1.0 / (1 + rank) for rank, (uid, _) in enumerate(seed_hits)}
    if not seed_vertices and not seed_edges:
        return []
    try:
        edge_scores, _ = graph.personalized_pagerank(
            ns, seed_vertices=seed_vertices, seed_edges=seed_edges, current_only=True
        )
    except InvalidInputError:  # every seed left the current graph since the view was built
        return []
    ranked = sorted(edge_scores.items(), key=lambda kv: -kv[1])
    return ranked[: recipe.pool]


def route_weights(
    units: dict[str, MemoryUnit], dense: Sequence[tuple[str, float]], *, top: int = 10
) -> dict[str, float]:
    """Granularity weights in [0.5, 1.5] from the normalised entropy of each one's top scores.

    A granularity whose best similarities stand out from the rest (low entropy) is trusted more;
    one whose scores are flat is trusted less. Weights are rescaled to average 1.
    """
    by_gran: dict[str, list[float]] = {}
    for uid, score in dense:
        unit = units.get(uid)
        if unit is not None:
            by_gran.setdefault(unit.granularity.value, []).append(score)
    weights: dict[str, float] = {}
    for gran, scores in by_gran.items():
        s = np.sort(np.asarray(scores, dtype=np.float64))[::-1][:top]
        if len(s) < 2:
            weights[gran] = 1.0
            continue
        p = np.exp((s - s.max()) / 0.05)
        p /= p.sum()
        entropy = float(-(p * np.log(p + 1e-12)).sum() / math.log(len(s)))
        weights[gran] = 0.5 + (1.0 - entropy)
    if weights:
        mean = sum(weights.values()) / len(weights)
        weights = {g: w / mean for g, w in weights.items()}
    return weights


def fuse(
    lists: Mapping[str, tuple[float, Sequence[tuple[str, float]]]],
    units: dict[str, MemoryUnit],
    *,
    rrf_k: float,
    route: dict[str, float],
    in_range: Iterable[tuple[date, date]] = (),
) -> list[tuple[str, float, list[str]]]:
    """Weighted reciprocal-rank fusion; returns (unit id, score, sources) best first."""
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for name, (weight, ranked) in lists.items():
        for rank, (uid, _) in enumerate(ranked):
            if uid not in units:
                continue
            scores[uid] = scores.get(uid, 0.0) + weight / (rrf_k + rank + 1)
            sources.setdefault(uid, []).append(name)
    ranges = list(in_range)
    for uid in scores:
        unit = units[uid]
        scores[uid] *= route.get(unit.granularity.value, 1.0)
        if ranges and unit.event_time is not None:
            day = unit.event_time.date()
            if any(start <= day <= end for start, end in ranges):
                scores[uid] *= 1.3
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(uid, score, sources[uid]) for uid, score in ordered]


def present(unit: MemoryUnit) -> str:
    """A unit as it appears in a prompt: its date and speaker, then its text.

    Turns and segments quote what was said, so their relative dates get the absolute date beside
    them, resolved against the session's date.
    """
    day = f"({format_day(unit.event_time.date())}) " if unit.event_time else ""
    text = unit.text
    if unit.granularity in _QUOTED and unit.event_time is not None:
        text = annotate_dates(text, unit.event_time)  # "yesterday" → "yesterday (7 May 2023)"
    if unit.granularity == Granularity.TURN and unit.speaker:
        return f"{day}{unit.speaker}: {text}"
    return f"{day}{text}"


@dataclass(frozen=True)
class Packed:
    unit: MemoryUnit
    score: float
    sources: list[str]
    tokens: int


def pack(
    ranked: Sequence[tuple[str, float, list[str]]],
    view: NamespaceView,
    budget: int,
    *,
    dedupe_provenance: bool,
) -> list[Packed]:
    """Fill ``budget`` tokens in rank order; a unit that does not fit is skipped, not cut.

    With ``dedupe_provenance`` every source turn is represented once: a unit whose source turns
    are all represented already is skipped — except a second fact of a turn that so far only
    has a fact packed, which upgrades that fact to the whole turn (it says both).
    """
    packed: list[Packed] = []
    holder: dict[str, int] = {}  # source turn id -> index in packed of the unit representing it
    used = 0
    for uid, score, sources in ranked:
        if budget - used < 8:
            break
        unit = view.units.get(uid)
        if unit is None:
            continue
        provenance = set(unit.provenance)
        if dedupe_provenance and provenance and provenance <= holder.keys():
            used += _upgrade_to_turn(unit, packed, holder, view, budget - used)
            continue
        tokens = view.token_count(unit)
        if used + tokens > budget:
            continue
        packed.append(Packed(unit=unit, score=score, sources=sources, tokens=tokens))
        for turn_id in provenance:
            holder.setdefault(turn_id, len(packed) - 1)
        used += tokens
    return packed


def _upgrade_to_turn(
    unit: MemoryUnit,
    packed: list[Packed],
    holder: dict[str, int],
    view: NamespaceView,
    room: int,
) -> int:
    """Replace a packed fact by its whole turn when another fact of that turn comes up.

    Returns the extra tokens used (0 when nothing changed).
    """
    if unit.granularity != Granularity.FACT or len(unit.provenance) != 1:
        return 0
    turn_id = unit.provenance[0]
    current = packed[holder[turn_id]]
    turn = view.units.get(view.turn_units.get(turn_id, ""))
    if current.unit.granularity != Granularity.FACT or turn is None:
        return 0
    extra = view.token_count(turn) - current.tokens
    if extra > room:
        return 0
    packed[holder[turn_id]] = Packed(
        unit=turn, score=current.score, sources=current.sources, tokens=current.tokens + extra
    )
    return extra


def day_ranges(spans: Iterable[tuple[date, date]], *, max_days: int = 31) -> list[date]:
    """Every day of short spans (long spans name no particular day)."""
    days: list[date] = []
    for start, end in spans:
        if (end - start).days <= max_days:
            days.extend(start + timedelta(n) for n in range((end - start).days + 1))
    return days
