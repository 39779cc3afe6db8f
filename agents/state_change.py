"""Updates beyond attribute slots: a fact that says a state changed replaces the fact it changes.

"I'm back on two espressos a day" after "I quit coffee completely" is an update, though no slot
pattern covers coffee. Without an LLM, a new fact is read as a change of an earlier one when:

- its subject makes a change ("no longer", "not … anymore", "quit …", "stopped …", "gave up …",
  "left the …", "switched to", "back on …", "sold my …", "broke up": :func:`change_cue`);
- the earlier fact is a current fact about the same subject (its first entity), said before it,
  from other turns, by someone who may replace it (:mod:`agents.trust`);
- the two are about the same thing: their *topics* — each text without its names, dates and
  change cues (:func:`topic_text`) — are the closest pair, with cosine at least
  :data:`TOPIC_SIMILARITY`. Comparing whole texts would not do: the shared subject name makes
  every pair of facts about one person look alike.

In LLM mode the judge decides updates instead (``judge.write``), from the similar stored units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from memory.model import Granularity, MemoryUnit, UnitKind

__all__ = ["TOPIC_SIMILARITY", "change_cue", "changed_fact", "topic_text"]

TOPIC_SIMILARITY = 0.2
"""Least cosine between two facts' topics for one to count as a change of the other."""

_NOT_NEGATED = r"(?<!n't )(?<!not )(?<!never )(?<!won't )"
_CUE = re.compile(
    r"\bno longer\b|\b(?:not|n't)\b[^.;!?]{0,40}?\b(?:anymore|any more)\b"
    rf"|{_NOT_NEGATED}\b(?:quit|quitting|stopped|gave up|given up|giving up)(?=\s+(?!on\b)\w)"
    rf"|{_NOT_NEGATED}(?<!looking )(?<!look )\bback on(?=\s+(?!track\b)\w)"
    rf"|{_NOT_NEGATED}\bswitched\s+(?:to|from|over)\b"
    rf"|{_NOT_NEGATED}\bsold\s+(?:my|his|her|their|our|the)\b"
    rf"|{_NOT_NEGATED}\bleft\s+(?:the|my|his|her|their|our)(?=\s+\w)"
    r"|\b(?:broke up|split up|moved on from)\b",
    re.IGNORECASE,
)
"""Words saying that a state of whoever precedes them changed. Negated ("won't quit"), idle
("back on track", "gave up on …") and figurative uses ("changed my view") are not cues."""
_ACTOR_WORDS = 4
"""At most this many words between the subject's name and the change cue."""
_NOISE = re.compile(
    r"\((?:[^)]*\d{4})\)"  # a resolved date, "(March 2024)"
    r"|\b(?:no longer|not|anymore|any more|quit|quits|quitting|stopped|stop|gave up|given up|"
    r"left|switched|swapped|changed|back on|back to|sold|broke up|split up|instead of|replaced|"
    r"dropped out|moved on|again|now|these days|started|starts|start)\b",
    re.IGNORECASE,
)


def change_cue(text: str, subject: str | None = None) -> str | None:
    """The words in ``text`` that say a state changed, if any; with ``subject``, only a change
    that ``subject`` makes ("Lee is back on coffee", not "it changed Lee's mind")."""
    for match in _CUE.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        actor = (
            rf"\b{re.escape(subject)}\b(?!'s)(?:\s+\S+){{0,{_ACTOR_WORDS}}}\s*$" if subject else ""
        )
        if not actor or re.search(actor, before, re.IGNORECASE):
            return match.group(0).strip()
    return None


def topic_text(unit: MemoryUnit) -> str:
    """What a fact is about: its text without its entities' names, dates and change cues."""
    text = _NOISE.sub(" ", unit.text)
    for name in sorted(unit.entities, key=len, reverse=True):
        if name[:1].isupper():
            text = re.sub(rf"\b{re.escape(name)}(?:'s)?\b", " ", text)
    return re.sub(r"\s+", " ", text).strip(" ,.;")


def changed_fact(
    unit: MemoryUnit,
    stored: Sequence[MemoryUnit],
    embed: Callable[[Sequence[str]], np.ndarray],
    may_replace: Callable[[MemoryUnit, MemoryUnit], bool],
) -> tuple[MemoryUnit, float] | None:
    """The stored fact ``unit`` changes, and their topics' cosine; None when it changes none."""
    if unit.granularity != Granularity.FACT or unit.kind != UnitKind.EVIDENCE:
        return None
    if not unit.entities or change_cue(unit.text, unit.entities[0]) is None:
        return None
    subject = unit.entities[0].casefold()
    earlier = [
        old
        for old in stored
        if old.granularity == Granularity.FACT
        and old.is_current
        and old.entities
        and old.entities[0].casefold() == subject
        and _before(old, unit)
        and not set(old.provenance) & set(unit.provenance)
        and may_replace(unit, old)
    ]
    topic = topic_text(unit)
    candidates = [(old, topic_text(old)) for old in earlier]
    candidates = [(old, text) for old, text in candidates if text]
    if not topic or not candidates:
        return None
    vectors = embed([topic, *(text for _, text in candidates)])
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    if float(scores[best]) < TOPIC_SIMILARITY:
        return None
    return candidates[best][0], float(scores[best])


def _before(old: MemoryUnit, new: MemoryUnit) -> bool:
    if old.event_time is not None and new.event_time is not None:
        return old.event_time < new.event_time
    return old.recorded_at < new.recorded_at
