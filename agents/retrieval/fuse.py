"""Stages 4 and 5 of the read path: fuse the sources' rankings, then adjust scores.

Fusion blends each source's reciprocal ranks with its normalised scores, weighted per source and
scaled by the router's granularity weights. The
adjustments each multiply or add to fused scores and re-rank (stably, so ties keep their order):
units dated inside the days the question names, turns next to a strong match, and units said by a
person the question names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from agents.retrieval.types import DateSpan, Hit, SourceHits
from agents.retrieval.view import NamespaceView
from agents.state import Candidate
from memory.model import MemoryUnit

__all__ = [
    "IN_RANGE_BOOST",
    "answers_before_questions",
    "boost_in_range",
    "favour_speakers",
    "favour_time_words",
    "fuse",
    "normalised",
    "says_when",
    "spread_to_neighbours",
]

IN_RANGE_BOOST = 1.3
"""Score factor of a unit whose event day lies inside a span the question names."""

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_SAYS_WHEN = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|last|next|recently|earlier|later|since|weekend|"
    rf"week|month|year|{_MONTHS}|{_WEEKDAYS}|\d{{4}})\b",
    re.IGNORECASE,
)
"""Words that place an event in time (a resolved date such as "(20 June 2023)" included)."""


def fuse(
    lists: Sequence[SourceHits],
    units: Mapping[str, MemoryUnit],
    *,
    rrf_k: float,
    route: Mapping[str, float],
    score_share: float = 0.0,
) -> list[Candidate]:
    """Σ weight × blend over the lists, times the unit's granularity weight; best first.

    A hit's blend is ``(1 - score_share) / (rrf_k + rank)`` plus ``score_share`` times its score
    min-max normalised within its list, scaled to the first rank's reciprocal ``1 / (rrf_k + 1)``
    so that the two parts weigh alike. Ranks alone treat a clear best match like a near tie;
    normalised scores keep the gap. Units not in ``units`` (no longer current) are dropped;
    ``sources`` lists where each was found.
    """
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for source in lists:
        hits = [h for h in source.hits if h.unit_id in units]
        for rank, (hit, norm) in enumerate(zip(hits, normalised(hits), strict=True)):
            blend = (1.0 - score_share) / (rrf_k + rank + 1) + score_share * norm / (rrf_k + 1)
            scores[hit.unit_id] = scores.get(hit.unit_id, 0.0) + source.weight * blend
            sources.setdefault(hit.unit_id, []).append(source.name)
    for uid in scores:
        scores[uid] *= route.get(units[uid].granularity.value, 1.0)
    return _ranked(scores, sources)


def normalised(hits: Sequence[Hit]) -> list[float]:
    """Each hit's score mapped onto [0, 1] by the list's lowest and highest (all 1 if equal)."""
    if not hits:
        return []
    low = min(h.score for h in hits)
    spread = max(h.score for h in hits) - low
    return [(h.score - low) / spread if spread > 0 else 1.0 for h in hits]


def boost_in_range(
    candidates: Sequence[Candidate],
    units: Mapping[str, MemoryUnit],
    spans: Iterable[DateSpan],
    factor: float = IN_RANGE_BOOST,
) -> list[Candidate]:
    """Scores of units whose event day falls inside one of ``spans``, times ``factor``."""
    ranges = list(spans)
    if not ranges:
        return list(candidates)

    def inside(unit: MemoryUnit) -> bool:
        event = unit.event_time
        return event is not None and any(a <= event.date() <= b for a, b in ranges)

    return _boosted(candidates, units, inside, factor)


def spread_to_neighbours(
    candidates: Sequence[Candidate], view: NamespaceView, share: float
) -> list[Candidate]:
    """Each turn gains ``share`` of its best-scoring neighbour's score, then all are re-ranked.

    In conversation the answer is often the turn after the one that matches the question (or the
    question before the answer that matches), so a turn next to a strong match is worth more.
    Only the strongest neighbour counts: summing both would favour a turn for sitting between
    two middling matches, which in a short session (where every turn scores alike) ranks turns by
    position rather than by the question. A neighbour reached this way lists ``context`` among
    its sources.
    """
    scores = {c["unit_id"]: c["score"] for c in candidates}
    sources = {c["unit_id"]: list(c["sources"]) for c in candidates}
    gained: dict[str, float] = {}
    for c in candidates:
        for other in view.neighbours(c["unit_id"]):
            gained[other] = max(gained.get(other, 0.0), share * c["score"])
            if "context" not in sources.setdefault(other, []):
                sources[other].append("context")
    for uid, gain in gained.items():
        scores[uid] = scores.get(uid, 0.0) + gain
    return _ranked(scores, sources)


def answers_before_questions(
    candidates: Sequence[Candidate], view: NamespaceView, reply_share: float, question_keep: float
) -> list[Candidate]:
    """A reply scores at least ``reply_share`` of the question it answers, which keeps
    ``question_keep`` of its own score; then all are re-ranked.

    A turn that ends asking something matches a question about the same thing, but the answer
    is in the reply (the next turn, said by someone else): "What inspired you to write it?" is
    followed by what did.

    A floor rather than a share added on top, so that a reply never gains more than its question
    is worth: in a short session every turn scores alike, and adding would lift every reply
    above every statement. A reply lifted this way lists ``reply`` among its sources. (Sparing
    turns that mostly tell something and only end asking was tried: on the LoCoMo dev file it
    cost 0.001 MRR and 0.004 recall at 1000 tokens.)
    """
    scores = {c["unit_id"]: c["score"] for c in candidates}
    sources = {c["unit_id"]: list(c["sources"]) for c in candidates}
    for c in candidates:
        reply = view.reply_to(c["unit_id"])
        if reply is None:
            continue
        scores[c["unit_id"]] *= question_keep
        floor = reply_share * c["score"]
        if floor > scores.get(reply, 0.0):
            scores[reply] = floor
            if "reply" not in sources.setdefault(reply, []):
                sources[reply].append("reply")
    return _ranked(scores, sources)


def favour_time_words(
    candidates: Sequence[Candidate], view: NamespaceView, boost: float
) -> list[Candidate]:
    """Scores of units whose text places something in time, times ``boost`` (for "when" questions).

    "When did Nate win his second tournament?" is answered by "Last week Nate won his second
    tournament", not by "Nate's tournament wins cheer him up".
    """
    return _boosted(candidates, view.units, lambda unit: says_when(view, unit), boost)


def says_when(view: NamespaceView, unit: MemoryUnit) -> bool:
    """Whether the unit's text places something in time ("last week", "in May", "2023")."""
    return view.holds(unit, "says when", lambda text: _SAYS_WHEN.search(text) is not None)


def favour_speakers(
    candidates: Sequence[Candidate], view: NamespaceView, named: set[str], boost: float
) -> list[Candidate]:
    """Scores of units said by a person in ``named`` (casefolded), times ``boost``.

    "What does Caroline like?" is mostly answered by what Caroline said.
    """

    def said(unit: MemoryUnit) -> bool:
        return unit.speaker is not None and unit.speaker.casefold() in named

    return _boosted(candidates, view.units, said, boost)


def _ranked(scores: Mapping[str, float], sources: Mapping[str, list[str]]) -> list[Candidate]:
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return [Candidate(unit_id=uid, score=s, sources=sources[uid]) for uid, s in ordered]


def _boosted(
    candidates: Sequence[Candidate],
    units: Mapping[str, MemoryUnit],
    holds: Callable[[MemoryUnit], bool],
    factor: float,
) -> list[Candidate]:
    """Scores of the candidates whose unit ``holds``, times ``factor``; re-ranked stably."""
    out = []
    for c in candidates:
        score = c["score"] * (factor if holds(units[c["unit_id"]]) else 1.0)
        out.append(Candidate(unit_id=c["unit_id"], score=score, sources=c["sources"]))
    return sorted(out, key=lambda c: -c["score"])
