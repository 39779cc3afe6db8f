"""Stage 7 of the read path: fill the token budget in rank order.

A unit that does not fit is skipped, not cut. With provenance deduplication every source turn is
represented once: a unit whose source turns are all packed already is skipped — except a second
fact of a turn that so far only has a fact packed, which upgrades that fact to the whole turn
(the turn says both). A session segment, which quotes its turns a line each, is packed without
the lines of turns already quoted whole by a turn or a segment packed before it (at 1,000 tokens
on the LoCoMo dev file such lines were half of the tokens segments took).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from agents.retrieval.present import date_prefix
from agents.retrieval.types import Packed
from agents.retrieval.view import NamespaceView
from agents.state import Candidate
from memory.model import Granularity, MemoryUnit
from memory.tokens import count_tokens

__all__ = [
    "BUDGET_SPENT",
    "DUPLICATE",
    "MIN_ROOM",
    "NOT_CURRENT",
    "OVER_BUDGET",
    "PACKED",
    "PACKED_IN_PART",
    "REPLACED",
    "UPGRADED",
    "pack",
]

MIN_ROOM = 8
"""Packing stops when fewer tokens than this are left."""

# What packing did with a candidate (``pack(..., outcomes=...)`` records one per candidate read).
PACKED = "packed"
PACKED_IN_PART = "packed without the lines of turns already packed"
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
        text, tokens, quoted = view.presented(unit), view.token_count(unit), unit.provenance
        if dedupe_provenance and provenance & holder.keys():
            part = _unquoted_part(unit, text, _quoted_whole(packed, holder), view)
            if part is not None:
                text, quoted = part
                tokens = count_tokens(text)
        if used + tokens > budget:
            seen[unit.id] = OVER_BUDGET
            continue
        seen[unit.id] = PACKED if quoted == unit.provenance else PACKED_IN_PART
        packed.append(Packed(unit, c["score"], c["sources"], text, tokens, quoted))
        for turn_id in quoted:
            holder.setdefault(turn_id, len(packed) - 1)
        used += tokens
    return packed


def _quoted_whole(packed: Sequence[Packed], holder: dict[str, int]) -> set[str]:
    """The packed turns whose every word is in the packed text: quoted by a turn or a segment,
    not only told by a fact (which may keep one clause of the turn)."""
    whole = (Granularity.TURN, Granularity.SESSION)
    return {t for t, i in holder.items() if packed[i].unit.granularity in whole}


def _unquoted_part(
    unit: MemoryUnit, text: str, packed_turns: AbstractSet[str], view: NamespaceView
) -> tuple[str, tuple[str, ...]] | None:
    """A segment's presented ``text`` without the lines quoting ``packed_turns``, and the turns
    the lines left quote; None for a unit that is not a segment quoting each of its turns on a
    line of its own ("Speaker: what was said"), which is packed whole."""
    if unit.granularity != Granularity.SESSION or not unit.provenance:
        return None
    head = date_prefix(unit)
    if not text.startswith(head):
        return None
    lines = text[len(head) :].split("\n")
    if len(lines) != len(unit.provenance):
        return None
    for line, turn_id in zip(lines, unit.provenance, strict=True):
        turn = view.units.get(view.turn_units.get(turn_id, ""))
        if turn is None or not line.startswith(f"{turn.speaker}: "):
            return None
    kept = [
        (line, t) for line, t in zip(lines, unit.provenance, strict=True) if t not in packed_turns
    ]
    return head + "\n".join(line for line, _ in kept), tuple(t for _, t in kept)


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
        provenance=turn.provenance,
    )
    return extra
