"""Stage 7 of the read path: fill the token budget in rank order.

A unit that does not fit is skipped, not cut. With provenance deduplication every source turn is
represented once: a unit whose source turns are all packed already is skipped — except a second
fact of a turn that so far only has a fact packed, which upgrades that fact to the whole turn
(the turn says both).
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.retrieval.types import Packed
from agents.retrieval.view import NamespaceView
from agents.state import Candidate
from memory.model import Granularity, MemoryUnit

__all__ = [
    "BUDGET_SPENT",
    "DUPLICATE",
    "MIN_ROOM",
    "NOT_CURRENT",
    "OVER_BUDGET",
    "PACKED",
    "REPLACED",
    "UPGRADED",
    "pack",
]

MIN_ROOM = 8
"""Packing stops when fewer tokens than this are left."""

# What packing did with a candidate (``pack(..., outcomes=...)`` records one per candidate read).
PACKED = "packed"
OVER_BUDGET = "skipped: over budget"
BUDGET_SPENT = "not reached: budget spent"
DUPLICATE = "skipped: duplicate provenance"
UPGRADED = "upgraded its turn's fact to the whole turn"
REPLACED = "replaced by its whole turn"
NOT_CURRENT = "skipped: not current"


def pack(
    ranked: Sequence[Candidate],
    view: NamespaceView,
    budget: int,
    *,
    dedupe_provenance: bool,
    outcomes: dict[str, str] | None = None,
) -> list[Packed]:
    """The units of ``ranked`` that fit ``budget`` tokens, in rank order.

    ``outcomes``, when given, receives what packing did with each candidate it read (unit id →
    ``PACKED``, ``OVER_BUDGET``…), for the trace; candidates after the budget ran out are absent.
    """
    packed: list[Packed] = []
    holder: dict[str, int] = {}  # source turn id -> index in packed of the unit representing it
    used = 0
    seen = outcomes if outcomes is not None else {}
    for c in ranked:
        if budget - used < MIN_ROOM:
            break
        unit = view.units.get(c["unit_id"])
        if unit is None:
            seen[c["unit_id"]] = NOT_CURRENT
            continue
        provenance = set(unit.provenance)
        if dedupe_provenance and provenance and provenance <= holder.keys():
            before = packed[holder[min(provenance)]].unit.id
            used += _upgrade_to_turn(unit, packed, holder, view, budget - used)
            upgraded = packed[holder[min(provenance)]].unit.id != before
            seen[unit.id] = UPGRADED if upgraded else DUPLICATE
            if upgraded:
                seen[before] = REPLACED
            continue
        tokens = view.token_count(unit)
        if used + tokens > budget:
            seen[unit.id] = OVER_BUDGET
            continue
        seen[unit.id] = PACKED
        text = view.presented(unit)
        packed.append(
            Packed(unit=unit, score=c["score"], sources=c["sources"], text=text, tokens=tokens)
        )
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
        unit=turn,
        score=current.score,
        sources=current.sources,
        text=view.presented(turn),
        tokens=current.tokens + extra,
    )
    return extra
