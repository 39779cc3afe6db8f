"""A ranking adjustment for questions about the present: the current value of what is asked wins.

"Where does Sam live now?" asks for the current value of an attribute slot (``sam|lives_in``, see
:mod:`agents.slots`). The facts that hold that slot now are the answer; older values are already
out of the ranking (superseded units are not current), but turns that mention the subject, the
place or the question's words often outscore the fact. So when a question asks, in the present
tense, for an attribute of someone it names, the current holders of that slot among the candidates
move to the head of the ranking (in their own order), the rest keeping theirs. A question in the
past tense ("Where did Sam live in May?") is left alone: its answer may be a superseded value.

Beyond slots, a present-tense question ranks each fact that superseded another just above the
turn the old fact came from ("Does Lee drink coffee?": the June fact "Lee is back on two espressos
a day" above the March turn "I quit coffee completely", which still matches the words best).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from agents.retrieval.view import NamespaceView
from agents.slots import current_slot_holders
from agents.state import Candidate
from agents.state_change import topic_text
from memory.model import Granularity, MemoryUnit, Namespace
from memory.store import MemoryStore
from memory.text import content_tokens

__all__ = [
    "asked_attributes",
    "asked_subjects",
    "asks_about_now",
    "current_holders",
    "prefer_current",
    "prefer_successors",
    "stale_turn_successors",
]

_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "lives_in",
        re.compile(
            r"\bwhere\b[^?]*\b(?:live|lives|living|based|reside|resides|residing|stay|stays|"
            r"staying)\b|\b(?:which|what)\s+(?:city|town|country|state|place)\b[^?]*\b(?:live|"
            r"lives|living|based|reside|resides)\b|\bhome\s*town\b",
            re.IGNORECASE,
        ),
    ),
    (
        "job",
        re.compile(
            r"\b(?:job|occupation|profession|employer|line of work|do for a living)\b|"
            r"\bwhere\s+(?:does|do|is|are)\s+[\w' -]+?\s+work(?:ing)?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "relationship",
        re.compile(
            r"\b(?:married|engaged|divorced|single|relationship status|separated)\b", re.IGNORECASE
        ),
    ),
    ("age", re.compile(r"\bhow old\b|\bwhat age\b|\bage\b", re.IGNORECASE)),
)
_PAST = re.compile(
    r"\b(?:did|was|were|had|used to|previously|originally|formerly|before|at first|back then|"
    r"ago|last|first)\b|\bin (?:19|20)\d\d\b",
    re.IGNORECASE,
)
_NOT_A_VALUE = re.compile(r"^\W*(?:when|why|how\s+(?:long|often|many|much))\b", re.IGNORECASE)
"""Questions that ask when, why or how often something is, not what its value is now."""
_PRESENT = re.compile(
    r"\b(?:now|currently|current|these days|nowadays|at the moment|at present|still|anymore|"
    r"any more|does|do|is|are|has|have)\b",
    re.IGNORECASE,
)


def asks_about_now(question: str) -> bool:
    """Whether a question asks how things are now ("Does Lee drink coffee?"), not how they were
    or when, why or how often something happened."""
    if _PAST.search(question) or _NOT_A_VALUE.search(question):
        return False
    return _PRESENT.search(question) is not None


def asked_attributes(question: str) -> tuple[str, ...]:
    """The slot attributes a present-tense question asks about (none for a past-tense one)."""
    if not asks_about_now(question):
        return ()
    return tuple(attribute for attribute, pattern in _ASKS if pattern.search(question))


_OWNED = (
    r"(?:current\s+|new\s+|present\s+)?(?:job|occupation|profession|employer|age|relationship|"
    r"home\s*town|home|address|line of work)\b"
)
"""What follows an owner's name when the question asks for that person's attribute ("Sam's job")."""


def asked_subjects(question: str, names: Iterable[str]) -> list[str]:
    """The names a question asks about as its subject: right after the verb ("does Sam", "is
    Sam") or as the owner of the attribute ("Sam's job"). "Where does the person who helped Sam
    work?" and "Where does Maya's boyfriend work?" ask about someone else."""
    out = []
    for name in names:
        n = re.escape(name)
        pattern = rf"\b(?:does|do|is|are|has|have)\s+{n}\b(?!')|\b{n}'s?\s+{_OWNED}"
        if re.search(pattern, question, re.IGNORECASE):
            out.append(name)
    return out


def current_holders(
    store: MemoryStore, ns: Namespace, question: str, names: Iterable[str]
) -> frozenset[str]:
    """Ids of the current facts that hold a slot the question asks about, for its subject."""
    attributes = asked_attributes(question)
    subjects = asked_subjects(question, names) if attributes else []
    if not subjects:
        return frozenset()
    holders = current_slot_holders(store, ns)
    keys = {f"{name.casefold()}|{attribute}" for name in subjects for attribute in attributes}
    return frozenset(unit.id for key in keys for unit in holders.get(key, ()))


def prefer_current(candidates: Sequence[Candidate], holders: frozenset[str]) -> list[Candidate]:
    """``holders`` first: each gets the best score among ``candidates`` added to its own."""
    top = max((c["score"] for c in candidates), default=0.0)
    out = [
        Candidate(
            unit_id=c["unit_id"],
            score=c["score"] + (top if c["unit_id"] in holders else 0.0),
            sources=c["sources"],
        )
        for c in candidates
    ]
    return sorted(out, key=lambda c: -c["score"])


STALE_CHECKED = 20
"""How many of the best candidates are checked for quoting stale turns."""
_QUOTING = frozenset({Granularity.TURN, Granularity.SESSION})
"""Granularities whose units quote turns (their provenance is turn ids)."""
_CHAIN = 8
"""The longest supersede chain followed to a current successor."""


def stale_turn_successors(
    store: MemoryStore,
    ns: Namespace,
    view: NamespaceView,
    ranked: Sequence[Candidate],
    question: str,
    allowed: frozenset[Granularity],
) -> dict[str, tuple[str, ...]]:
    """Among the best candidates, each unit quoting a turn whose facts were all superseded
    (the turn itself, or a session segment holding it), with the current facts (of the
    ``allowed`` granularities) that superseded them ("I quit coffee" → "Lee is back on two
    espressos a day"). Only a turn whose superseded facts share a content word with the question
    counts: in a small namespace every turn is a candidate, and "What is Sam allergic to?" has
    nothing to do with where Sam lived before."""
    quoting = [
        view.units[c["unit_id"]]
        for c in ranked[:STALE_CHECKED]
        if view.units[c["unit_id"]].granularity in _QUOTING
    ]
    turn_ids = {p for u in quoting for p in u.provenance}
    if not turn_ids:
        return {}
    stale = _stale_turns(store, ns, view, turn_ids, set(content_tokens(question)), allowed)
    out: dict[str, tuple[str, ...]] = {}
    for unit in quoting:
        found = {uid for p in unit.provenance for uid in stale.get(p, ())}
        if found:
            out[unit.id] = tuple(sorted(found))
    return out


def _stale_turns(
    store: MemoryStore,
    ns: Namespace,
    view: NamespaceView,
    turn_ids: set[str],
    asked: set[str],
    allowed: frozenset[Granularity],
) -> dict[str, tuple[str, ...]]:
    """Turn id → the current successors of its facts, for each of ``turn_ids`` whose facts were
    all superseded and share a content word with the question (``asked``)."""
    derived = store.get(ns, sorted(store.units_derived_from(ns, turn_ids)), access=False)
    facts: dict[str, list[MemoryUnit]] = {}
    for fact in (u for u in derived if u.granularity == Granularity.FACT):
        for source in fact.provenance:
            if source in turn_ids:
                facts.setdefault(source, []).append(fact)
    out: dict[str, tuple[str, ...]] = {}
    for turn_id, held in facts.items():
        if any(f.is_current for f in held):
            continue
        if not asked & {t for f in held for t in content_tokens(topic_text(f))}:
            continue
        found = {_current_successor(store, ns, view, f) for f in held}
        successors = sorted(
            uid for uid in found if uid is not None and view.units[uid].granularity in allowed
        )
        if successors:
            out[turn_id] = tuple(successors)
    return out


def _current_successor(
    store: MemoryStore, ns: Namespace, view: NamespaceView, unit: MemoryUnit
) -> str | None:
    nxt = unit.superseded_by
    for _ in range(_CHAIN):
        if nxt is None or nxt in view.units:
            return nxt
        found = store.get(ns, [nxt], access=False)
        nxt = found[0].superseded_by if found else None
    return None


def prefer_successors(
    candidates: Sequence[Candidate], successors: Mapping[str, tuple[str, ...]]
) -> list[Candidate]:
    """Each stale turn's successors just above it (added when missing), the rest in order."""
    scores = {c["unit_id"]: c["score"] for c in candidates}
    sources = {c["unit_id"]: list(c["sources"]) for c in candidates}
    for c in candidates:
        for successor in successors.get(c["unit_id"], ()):
            above = c["score"] * (1 + 1e-6) + 1e-12
            if scores.get(successor, 0.0) < above:
                scores[successor] = above
                if "successor" not in sources.setdefault(successor, []):
                    sources[successor].append("successor")
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return [Candidate(unit_id=uid, score=s, sources=sources[uid]) for uid, s in ordered]
