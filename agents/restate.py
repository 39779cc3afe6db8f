"""Which stored insight a new insight replaces: one it restates or one it contradicts, else none.

Insights accumulate. Reflection re-clusters every fact it may use each time it runs, so a new
insight often covers ground an earlier one covered; it supersedes that one only when

- it **restates** it: more than half of the stored insight's source facts (``derived_from``) are
  among its own — the same cluster seen again, usually with newer facts; or
- it **contradicts** it: one of its source facts superseded one the stored insight rests on
  ("moved to Denver" after "lives in Boston"), or the two rest on facts that give one attribute
  slot of one subject different values.

Two insights about the same person that rest on different facts both stay current. Near-identical
wording is the gate's duplicate test (:mod:`agents.gate`), which merges instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from agents.slots import slot_of
from memory.model import MemoryUnit

__all__ = ["RESTATE_SHARE", "contradiction", "replaced_insight", "restated_share"]

RESTATE_SHARE = 0.5
"""A new insight restates a stored one when it shares more than this share of its source facts."""


def replaced_insight(
    new: MemoryUnit,
    stored: Sequence[MemoryUnit],
    facts: Mapping[str, MemoryUnit],
    taken: AbstractSet[str] = frozenset(),
) -> tuple[MemoryUnit, str] | None:
    """The stored insight ``new`` supersedes, with the reason, or None (both stay current).

    ``stored`` are the current insights, ``facts`` the source facts of both sides by id (current
    or closed); insights in ``taken`` (replaced earlier in the same write) are left alone. A
    contradiction wins over a restatement; of several restated insights, the largest share wins.
    """
    best: tuple[float, MemoryUnit] | None = None
    for old in stored:
        if old.id == new.id or old.id in taken:
            continue
        why = contradiction(new, old, facts)
        if why is not None:
            return old, f"contradicts it: {why}"
        share = restated_share(new, old)
        if share > RESTATE_SHARE and (best is None or share > best[0]):
            best = (share, old)
    if best is None:
        return None
    share, old = best
    shared = round(share * len(set(old.derived_from)))
    return old, f"restates it: {shared} of its {len(set(old.derived_from))} source facts"


def restated_share(new: MemoryUnit, old: MemoryUnit) -> float:
    """The share of ``old``'s source facts that ``new`` rests on too (0 when ``old`` has none)."""
    sources = set(old.derived_from)
    return len(sources & set(new.derived_from)) / len(sources) if sources else 0.0


def contradiction(new: MemoryUnit, old: MemoryUnit, facts: Mapping[str, MemoryUnit]) -> str | None:
    """Why the facts under ``new`` contradict the facts under ``old``, or None."""
    cited = set(new.derived_from)
    for fact in _sources(old, facts):
        if fact.superseded_by is not None and fact.superseded_by in cited:
            return f"{fact.superseded_by}, which it rests on, superseded {fact.id}"
    held = _slots(_sources(old, facts))
    for key, value in _slots(_sources(new, facts)).items():
        if key in held and held[key] != value:
            return f"{key} is {value!r} where it rested on {held[key]!r}"
    return None


def _sources(unit: MemoryUnit, facts: Mapping[str, MemoryUnit]) -> list[MemoryUnit]:
    return [facts[i] for i in unit.derived_from if i in facts]


def _slots(facts: Iterable[MemoryUnit]) -> dict[str, str]:
    return {slot[0]: slot[1] for f in facts if (slot := slot_of(f)) is not None}
