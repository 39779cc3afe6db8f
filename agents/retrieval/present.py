"""How a unit reads in a prompt: its date and speaker, then its text."""

from __future__ import annotations

from agents.analysis import annotate_dates, format_day
from memory.model import Granularity, MemoryUnit

__all__ = ["date_prefix", "present"]

_QUOTED = frozenset({Granularity.TURN, Granularity.SESSION})
"""Granularities whose text quotes the conversation as it was said."""


def present(unit: MemoryUnit) -> str:
    """A unit as it appears in a prompt: its date and speaker, then its text.

    Turns and segments quote what was said, so their relative dates get the absolute date beside
    them, resolved against the session's date.
    """
    day = date_prefix(unit)
    text = unit.text
    if unit.granularity in _QUOTED and unit.event_time is not None:
        text = annotate_dates(text, unit.event_time)  # "yesterday" → "yesterday (7 May 2023)"
    if unit.granularity == Granularity.TURN and unit.speaker:
        return f"{day}{unit.speaker}: {text}"
    return f"{day}{text}"


def date_prefix(unit: MemoryUnit) -> str:
    """What :func:`present` puts before a unit's text: its day in brackets, if it has one."""
    return f"({format_day(unit.event_time.date())}) " if unit.event_time else ""
