"""Reading back the date labels that :meth:`DateMention.label` writes into text.

When a relative expression is resolved, its absolute range is written beside it in parentheses
("yesterday (7 May 2023)", "last year (2022)", "last weekend (15–16 July 2023)"). This module
turns such a label back into the range it names, so a reader of the text can tell which days it
already states.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

__all__ = ["label_span", "labelled_spans"]

Span = tuple[date, date]

_MONTHS = {name: number for number, name in enumerate(calendar.month_name) if name}
_MONTH_NAMES = "|".join(_MONTHS)


def _day(prefix: str) -> str:
    """A day as :func:`format_day` writes it, its parts named ``<prefix>d``, ``m`` and ``y``."""
    return rf"(?P<{prefix}d>\d{{1,2}}) (?P<{prefix}m>{_MONTH_NAMES}) (?P<{prefix}y>\d{{4}})"


_FORMS = [
    re.compile(p)
    for p in (
        r"(?P<y1>\d{4})(?:–(?P<y2>\d{4}))?",  # 2022, 2021–2022
        rf"(?P<m1>{_MONTH_NAMES})(?: (?P<y1>\d{{4}}))?(?:–(?P<m2>{_MONTH_NAMES}))? (?P<y2>\d{{4}})",
        rf"(?:the week of )?(?:(?P<d1>\d{{1,2}})–)?{_day('e')}",  # 7 May 2023, 15–16 May …
        rf"{_day('s')} – {_day('e')}",  # 30 April 2023 – 2 May 2023
    )
]
_PARENTHESISED = re.compile(r"\(([^()]{4,60})\)")


def _span(form: int, m: re.Match[str]) -> Span:
    g = m.groupdict()
    if form == 0:
        return date(int(g["y1"]), 1, 1), date(int(g["y2"] or g["y1"]), 12, 31)
    if form == 1:
        first, last = _MONTHS[g["m1"]], _MONTHS[g["m2"] or g["m1"]]
        end_year = int(g["y2"])
        start_year = int(g["y1"]) if g["y1"] else end_year
        return date(start_year, first, 1), date(
            end_year, last, calendar.monthrange(end_year, last)[1]
        )
    end = date(int(g["ey"]), _MONTHS[g["em"]], int(g["ed"]))
    if form == 3:
        return date(int(g["sy"]), _MONTHS[g["sm"]], int(g["sd"])), end
    if m.group(0).startswith("the week of "):
        return end, date.fromordinal(end.toordinal() + 6)
    return (end.replace(day=int(g["d1"])) if g["d1"] else end), end


def label_span(label: str) -> Span | None:
    """The days a label names ("7 May 2023", "the week of 1 May 2023", "May–June 2023",
    "about 2022"…), or None for text that is not such a label."""
    text = label.removeprefix("about ").strip()
    for form, pattern in enumerate(_FORMS):
        m = pattern.fullmatch(text)
        if m is not None:
            try:
                return _span(form, m)
            except ValueError:  # "31 February 2023"
                return None
    return None


def labelled_spans(text: str) -> list[Span]:
    """The ranges of the date labels written in parentheses in ``text``, in order."""
    spans = (label_span(m.group(1)) for m in _PARENTHESISED.finditer(text))
    return [s for s in spans if s is not None]
