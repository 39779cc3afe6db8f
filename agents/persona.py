"""Persona statements: what a person's own facts say they are, do, have, like and aim for.

Each fact is read for statements about the person (:func:`agents.persona_read.read_fact`: "Ann
loves hiking" → ``likes hiking``, "Ann's sister Maya" → ``has a sister (Maya)``, "Ann swims every
morning" → ``swims every morning``). Statements read from several facts merge and keep every
source; within a facet the best supported come first, then the latest, up to a cap per facet.
:func:`profile_text` joins them into one line a reader can use:
``Ann: works as a nurse; has a sister (Maya); likes hiking; usually cycles to work.``
Which facts may be read at all is the reflector's decision (:func:`agents.reflector.admissible`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.persona_read import Facet, Reading, read_fact
from agents.slots import slot_of
from memory.model import MemoryUnit

__all__ = ["FACETS", "Statement", "profile_text", "statements"]

FACETS: tuple[Facet, ...] = (
    "is",
    "work",
    "home",
    "relation",
    "likes",
    "favourite",
    "dislikes",
    "habit",
    "aims",
)
"""Facets in the order a profile lists them."""
_CAP: dict[Facet, int] = {
    "is": 2,
    "work": 2,
    "home": 1,
    "relation": 4,
    "likes": 5,
    "favourite": 2,
    "dislikes": 2,
    "habit": 3,
    "aims": 2,
}
"""Most statements of each facet a profile keeps."""
_NAMES_SHOWN = 3


@dataclass(frozen=True)
class Statement:
    """One thing a profile says about a person, and the ids of the facts that say it."""

    facet: Facet
    phrase: str
    """Without the person's name: ``likes hiking``, ``has a sister (Maya)``."""
    sources: tuple[str, ...]


@dataclass
class _Group:
    """The readings of one statement across facts."""

    phrases: Counter[str]
    names: dict[str, None]
    sources: dict[str, None]
    latest: float


def statements(person: str, facts: Iterable[MemoryUnit]) -> list[Statement]:
    """What ``facts`` say about ``person``, merged, in profile order and within the caps."""
    groups: dict[tuple[Facet, str], _Group] = {}
    for fact in facts:
        when = (fact.event_time or fact.recorded_at).timestamp()
        for reading in read_fact(person, fact.text, slot_of(fact)):
            group = groups.setdefault((reading.facet, reading.key), _new_group(when))
            _add(group, reading, fact.id, when)
    ordered: list[Statement] = []
    for facet in FACETS:
        keys = [k for k in groups if k[0] == facet]
        keys.sort(key=lambda k: (-len(groups[k].sources), -groups[k].latest, k[1]))
        ordered += [_statement(facet, groups[k]) for k in keys[: _CAP[facet]]]
    return ordered


def profile_text(person: str, found: Sequence[Statement]) -> str:
    """``Person: phrase; phrase; ….``, one clause per statement, in the order given."""
    return f"{person}: {'; '.join(s.phrase for s in found)}."


def _new_group(when: float) -> _Group:
    return _Group(Counter(), {}, {}, when)


def _add(group: _Group, reading: Reading, fact_id: str, when: float) -> None:
    group.phrases[reading.phrase] += 1
    if reading.name is not None:
        group.names[reading.name] = None
    group.sources[fact_id] = None
    group.latest = max(group.latest, when)


def _statement(facet: Facet, group: _Group) -> Statement:
    """The group's most frequent wording (first seen on a tie), with the names it gave."""
    phrase = group.phrases.most_common(1)[0][0]
    names = list(group.names)[:_NAMES_SHOWN]
    if names:
        phrase += f" ({', '.join(names)})"
    return Statement(facet, phrase, tuple(group.sources))
