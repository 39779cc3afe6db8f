"""Backup and restore of one namespace as JSON lines, one memory unit per line.

Each line is ``MemoryUnit.model_dump_json()`` of one unit, current or superseded, as the store
keeps it; lines are ordered by ``recorded_at``, then id, so two exports of equal stores are equal
byte for byte and any two stores can be compared with ``diff``.

Raw turns are not written: a turn unit carries its turn (the first provenance id is the turn id;
session, speaker, session time, and the text with any image caption as ``text [shares caption]``),
so a restore journals the turns again from their units, in the order the units were recorded.
The engine needs them: the retriever reads neighbouring turns from the journal. The journal's
change history and retrieval counts are not part of a backup; a restored unit's history starts
with its import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pydantic import ValidationError

from memory.errors import InvalidInputError
from memory.model import Granularity, MemoryUnit, Namespace, Turn
from memory.store import MemoryStore

__all__ = ["export_lines", "parse_units", "restore", "turns_of"]

_SHARES = re.compile(r"(?s)(.+) \[shares (.+)\]")


def export_lines(store: MemoryStore, ns: Namespace) -> Iterator[str]:
    """Every unit of ``ns`` as one JSON line (no newline at the end), oldest first."""
    for unit in sorted(store.units(ns), key=lambda u: (u.recorded_at, u.id)):
        yield unit.model_dump_json()


def parse_units(data: bytes, ns: Namespace, source: str) -> list[MemoryUnit]:
    """The units of an export, all checked before any is written.

    A line that is not a unit, a unit of another namespace, an id given twice or a turn unit that
    does not carry its turn raises :class:`InvalidInputError` naming ``source`` and the line.
    Blank lines are skipped.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[: exc.start].count(b"\n") + 1
        raise InvalidInputError(f"{source} line {bad}: not UTF-8 text ({exc.reason})") from None
    units: list[MemoryUnit] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        unit = _unit(line, number, ns, source)
        if unit.id in seen:
            raise InvalidInputError(
                f"{source} line {number}: unit {unit.id} is also on line {seen[unit.id]}"
            )
        seen[unit.id] = number
        units.append(unit)
    turns_of(units, source=source, lines=list(seen.values()))
    return units


def turns_of(
    units: Sequence[MemoryUnit], *, source: str = "import", lines: Sequence[int] = ()
) -> list[Turn]:
    """The raw turns of the turn units among ``units``, in their order; a turn id held by two
    turn units (a turn remembered twice) keeps its first."""
    turns: dict[str, Turn] = {}
    counts: dict[str, int] = {}
    for at, unit in enumerate(units):
        if unit.granularity != Granularity.TURN:
            continue
        if unit.provenance and unit.provenance[0] in turns:
            continue
        where = f"{source} line {lines[at]}" if lines else f"{source} unit {unit.id}"
        if not unit.provenance or not unit.session_id or not unit.speaker:
            raise InvalidInputError(
                f"{where}: turn unit {unit.id} lacks its turn (provenance, session_id, speaker)"
            )
        turns[unit.provenance[0]] = _turn(unit, counts, where)
    return list(turns.values())


def restore(store: MemoryStore, ns: Namespace, units: Sequence[MemoryUnit]) -> list[Turn]:
    """Write ``units`` into the empty namespace ``ns`` as they are, with their raw turns; returns
    the turns journaled."""
    turns = turns_of(units)
    store.import_units(ns, units, turns)
    return turns


def _unit(line: str, number: int, ns: Namespace, source: str) -> MemoryUnit:
    try:
        unit = MemoryUnit.model_validate_json(line)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInputError(
            f"{source} line {number}: not a memory unit: {f'{loc}: ' if loc else ''}{msg}"
        ) from None
    if unit.namespace != ns:
        raise InvalidInputError(
            f"{source} line {number}: unit {unit.id} belongs to namespace {unit.namespace.key}, "
            f"not {ns.key} (import into the namespace it was exported from)"
        )
    return unit


def _turn(unit: MemoryUnit, counts: dict[str, int], where: str) -> Turn:
    """The turn a turn unit was made from; its index counts the session's turns so far."""
    text, caption = unit.text, None
    match = _SHARES.fullmatch(unit.text)
    if match and match.group(1).strip() and match.group(2).strip():
        text, caption = match.group(1), match.group(2)
    session = unit.session_id or ""
    index = counts.get(session, 0)
    counts[session] = index + 1
    try:
        return Turn(
            id=unit.provenance[0],
            session_id=session,
            speaker=unit.speaker or "",
            text=text,
            image_caption=caption,
            session_time=unit.event_time,
            index=index,
        )
    except (ValidationError, InvalidInputError) as exc:
        raise InvalidInputError(
            f"{where}: turn unit {unit.id} does not make a valid turn: {_one_line(exc)}"
        ) from None


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']}" if loc else str(err["msg"])
    return str(exc)
