"""The trace's account of one retrieval pass, candidate by candidate
(:class:`~memory.traces.CandidateTrace`).

For the head of the merged ranking it keeps where each source ranked a candidate in this pass (and
with what score), the router's weight of its granularity, its score after each ranking stage, its
score in the merged ranking, and what packing did with it. Everything here was computed by the
stages already (:func:`~agents.retrieval.pipeline.rank_candidates` and
:func:`~agents.retrieval.pack.pack` record it when asked); this module only arranges it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.retrieval.pack import BUDGET_SPENT, PACKED, PACKED_IN_PART, REPLACED
from agents.retrieval.types import Packed, SourceHits
from agents.state import Candidate
from memory.model import Granularity, MemoryUnit

__all__ = ["MAX_EXPLAINED", "explain_candidates"]

MAX_EXPLAINED = 200
"""Candidates explained per pass (the head of the merged ranking, plus any packed beyond it)."""
_DIGITS = 6


def explain_candidates(
    merged: Sequence[Candidate],
    lists: Sequence[SourceHits],
    stages: Mapping[str, Sequence[Candidate]],
    route: Mapping[str, float],
    units: Mapping[str, MemoryUnit],
    outcomes: Mapping[str, str],
    packed: Sequence[Packed],
    *,
    limit: int = MAX_EXPLAINED,
) -> list[dict[str, Any]]:
    """One :class:`CandidateTrace`, in its JSON form (what a trace step holds), per candidate
    of ``merged`` among the first ``limit`` (and every packed one), in ranking order.

    Plain dicts, not models: a read explains up to 200 candidates, and building models only to
    dump them again cost a tenth of a recall; the trace is validated once, when it is stored."""
    found = _source_positions(lists)
    in_pack = {p.unit.id for p in packed}
    wanted = {c["unit_id"] for c in merged[:limit]} | in_pack
    scored = _stage_scores(stages, wanted)
    weights = {g: round(route.get(g.value, 1.0), _DIGITS) for g in Granularity} if route else {}
    out: list[dict[str, Any]] = []
    for rank, c in _explained(merged, limit, in_pack):
        uid = c["unit_id"]
        unit = units.get(uid)
        weight = weights.get(unit.granularity) if unit is not None else None
        sources = found.get(uid, {})
        out.append(  # the fields of CandidateTrace, in order
            {
                "unit_id": uid,
                "rank": rank,
                "score": round(c["score"], _DIGITS),
                "source_ranks": {s: r for s, (r, _) in sources.items()},
                "source_scores": {s: round(v, _DIGITS) for s, (_, v) in sources.items()},
                "weight": weight,
                "stages": scored.get(uid, {}),
                "outcome": _outcome(uid, outcomes, in_pack),
            }
        )
    return out


def _stage_scores(
    stages: Mapping[str, Sequence[Candidate]], wanted: set[str]
) -> dict[str, dict[str, float]]:
    """Unit id → stage → its rounded score after that stage (stages in order), for ``wanted``
    units only: the stages rank every candidate, the trace explains the head."""
    scores: dict[str, dict[str, float]] = {uid: {} for uid in wanted}
    for name, ranking in stages.items():
        final = {c["unit_id"]: c["score"] for c in ranking}  # a unit listed twice: its last
        for uid in wanted & final.keys():
            scores[uid][name] = round(final[uid], _DIGITS)
    return scores


def _explained(
    merged: Sequence[Candidate], limit: int, in_pack: set[str]
) -> list[tuple[int, Candidate]]:
    """(1-based rank, candidate) of the first ``limit`` candidates and of every packed one
    beyond them, in ranking order; the tail is read only when a packed unit lies in it."""
    head = list(enumerate(merged[:limit], start=1))
    if in_pack <= {c["unit_id"] for _, c in head}:
        return head
    tail = enumerate(merged[limit:], start=limit + 1)
    return head + [(rank, c) for rank, c in tail if c["unit_id"] in in_pack]


def _source_positions(lists: Sequence[SourceHits]) -> dict[str, dict[str, tuple[int, float]]]:
    """Unit id → source → (1-based rank, the source's score), the first time a source lists it."""
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for source in lists:
        for rank, (uid, score) in enumerate(source.hits, start=1):
            found.setdefault(uid, {}).setdefault(source.name, (rank, score))
    return found


def _outcome(uid: str, outcomes: Mapping[str, str], in_pack: set[str]) -> str:
    """What packing did; a unit packed in the end (a turn that replaced its fact) says packed,
    and a segment packed without some of its lines says so."""
    said = outcomes.get(uid, BUDGET_SPENT)
    if uid in in_pack and said not in (REPLACED, PACKED_IN_PART):
        return PACKED
    return said
