"""How a unit reads in a prompt: its date and speaker, then its text."""

from __future__ import annotations

from agents.analysis import annotate_dates, format_day
from agents.analysis.date_labels import labelled_spans
from memory.model import Granularity, MemoryUnit

__all__ = ["date_prefix", "present"]

_QUOTED = frozenset({Granularity.TURN, Granularity.SESSION})
"""Granularities whose text quotes the conversation as it was said."""


def present(unit: MemoryUnit) -> str:
    """A unit as it appears in a prompt: its day and speaker, then its text, as a dated log line
    ("8 May 2023 Sam: Yesterday (7 May 2023) I adopted a beagle.").

    Turns and segments quote what was said, so their relative dates get the absolute date beside
    them, resolved against the session's date. A fact whose text already names the day or period
    it happened in goes without the date in front: "Sam adopted a beagle yesterday (7 May 2023)."
    """
    day = date_prefix(unit)
    text = unit.text
    if unit.granularity in _QUOTED and unit.event_time is not None:
        text = annotate_dates(text, unit.event_time)  # "yesterday" → "yesterday (7 May 2023)"
    if unit.granularity == Granularity.TURN and unit.speaker:
        return f"{day}{unit.speaker}: {text}"
    return f"{day}{text}"


def date_prefix(unit: MemoryUnit) -> str:
    """What :func:`present` puts before a unit's text: its day, if it has one and, for a fact,
    its text does not already carry the resolved date that day came from.

    The day is followed by a space, as in a log ("8 May 2023 Sam adopted a beagle."), not put in
    brackets: in cl100k tokens the brackets took two of the six tokens of a turn's day, and days
    took a fifth of the tokens packed at 250 and at 1,000 tokens on the LoCoMo dev file. A text
    starting with a digit would read as part of the date, so the day is followed by a colon there.
    """
    if unit.event_time is None or _states_its_date(unit):
        return ""
    day = format_day(unit.event_time.date())
    return f"{day}: " if unit.text[:1].isdigit() else f"{day} "


def _states_its_date(unit: MemoryUnit) -> bool:
    """Whether a fact's text carries the resolved date its day was taken from.

    A fact's relative dates were resolved into its text when it was made ("last year (2022)"),
    and its day is the first day of the first one: put in front, that day would say the same
    again, or say more than the text knows ("1 January 2022" for "last year"). A label that does
    not start on the fact's day ("Barbie (2023)" said on 8 May 2023) leaves the day in front.
    """
    if unit.granularity != Granularity.FACT or unit.event_time is None:
        return False
    return any(start == unit.event_time.date() for start, _ in labelled_spans(unit.text))
