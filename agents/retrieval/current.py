"""A ranking adjustment for questions about the present: the current value of what is asked wins.

"Where does Sam live now?" asks for the current value of an attribute slot (``sam|lives_in``, see
:mod:`agents.slots`). The facts that hold that slot now are the answer; older values are already
out of the ranking (superseded units are not current), but turns that mention the subject, the
place or the question's words often outscore the fact. So when a question asks, in the present
tense, for an attribute of someone it names, the current holders of that slot among the candidates
move to the head of the ranking (in their own order), the rest keeping theirs. A question in the
past tense ("Where did Sam live in May?") is left alone: its answer may be a superseded value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from agents.slots import current_slot_holders
from agents.state import Candidate
from memory.model import Namespace
from memory.store import MemoryStore

__all__ = ["asked_attributes", "asked_subjects", "current_holders", "prefer_current"]

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


def asked_attributes(question: str) -> tuple[str, ...]:
    """The slot attributes a present-tense question asks about (none for a past-tense one)."""
    if _PAST.search(question) or _NOT_A_VALUE.search(question) or not _PRESENT.search(question):
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
