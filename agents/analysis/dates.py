"""Time expressions in chat text, resolved to absolute date ranges.

Relative expressions ("yesterday", "last Saturday", "two weeks ago", "next month") resolve
against a *reference* — the date of the session the text was said in, never the processing time.
Every mention is a closed range ``start..end`` with the granularity it was said at; vague words
that name no time ("recently", "a while ago") are not mentions.

Conventions: weeks run Monday to Sunday; "last <weekday>" is the latest one strictly before the
reference, "next <weekday>" the first strictly after it, a bare weekday or month the nearest
occurrence (the past one on a tie); seasons are northern-hemisphere meteorological seasons.
Fuzzy counts ("a few weeks ago") give a range flagged ``approximate``. Regular expressions do the
matching (a general date parser such as dateparser is ~2 ms per turn here and reads "we" as
Wednesday); python-dateutil does the calendar arithmetic.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from dateutil.easter import easter
from dateutil.parser import ParserError
from dateutil.parser import parse as _dateutil_parse
from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict

from agents.analysis.keywords import wordset
from memory.errors import InvalidInputError

__all__ = [
    "DateGranularity",
    "DateMention",
    "annotate_dates",
    "format_day",
    "parse_session_datetime",
    "resolve_dates",
]

DateGranularity = Literal["day", "week", "month", "year"]


def format_day(d: date) -> str:
    """A day as people write it: ``7 May 2023``."""
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


class DateMention(BaseModel):
    """A time expression found in a text and the absolute date range it denotes."""

    model_config = ConfigDict(frozen=True)

    surface: str
    """The expression as written ("last Saturday")."""
    start: date
    end: date
    """Inclusive bounds of the range."""
    granularity: DateGranularity
    relative: bool
    """True when the range depends on the reference date."""
    approximate: bool = False
    """True for fuzzy counts ("a few weeks ago"): the range is a plausible span, not exact."""
    span: tuple[int, int] = (0, 0)
    """Character offsets of ``surface`` in the text."""

    def label(self) -> str:
        """The range in words: ``7 May 2023``, ``the week of 1 May 2023``, ``May 2023``..."""
        s, e = self.start, self.end
        prefix = "about " if self.approximate else ""
        full_months = s.day == 1 and (e + timedelta(days=1)).day == 1
        if s.month == 1 and s.day == 1 and e.month == 12 and e.day == 31:
            text = str(s.year) if s.year == e.year else f"{s.year}–{e.year}"
        elif full_months and (s.year, s.month) == (e.year, e.month):
            text = f"{calendar.month_name[s.month]} {s.year}"
        elif full_months:
            left = calendar.month_name[s.month] + ("" if s.year == e.year else f" {s.year}")
            text = f"{left}–{calendar.month_name[e.month]} {e.year}"
        elif s == e:
            text = format_day(s)
        elif self.granularity == "week" and s.weekday() == 0 and e == s + timedelta(days=6):
            text = f"the week of {format_day(s)}"
        elif (s.year, s.month) == (e.year, e.month):
            text = f"{s.day}–{format_day(e)}"
        else:
            text = f"{format_day(s)} – {format_day(e)}"
        return prefix + text


# ---------------------------------------------------------------------------- calendar helpers

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8}
_MONTHS |= {"sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAYS |= {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3}
_WEEKDAYS |= {"fri": 4, "sat": 5, "sun": 6}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
}  # fmt: skip
_FUZZY = {"couple": (2, 3), "few": (2, 5), "several": (3, 7)}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}

Span = tuple[date, date]


def _week(d: date) -> Span:
    monday = d - timedelta(days=d.weekday())
    return monday, monday + timedelta(days=6)


def _month(year: int, month: int) -> Span:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _year(year: int) -> Span:
    return date(year, 1, 1), date(year, 12, 31)


def _season(year: int, first_month: int) -> Span:
    start = date(year, first_month, 1)
    last = start + relativedelta(months=2)
    return start, _month(last.year, last.month)[1]


def _weekend_of(d: date) -> Span:
    saturday = _week(d)[0] + timedelta(days=5)
    return saturday, saturday + timedelta(days=1)


def _days_between(span: Span, d: date) -> int:
    """Days from ``d`` to the nearest day of ``span`` (0 inside it)."""
    if span[0] <= d <= span[1]:
        return 0
    return min(abs((span[0] - d).days), abs((span[1] - d).days))


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _pick(candidates: list[date], ref: date, which: str) -> date | None:
    """``last``: latest before ref; ``next``: first after; otherwise the nearest (past on a tie)."""
    valid = sorted(candidates)
    if which == "last":
        past = [c for c in valid if c < ref]
        return past[-1] if past else None
    if which == "next":
        future = [c for c in valid if c > ref]
        return future[0] if future else None
    return min(valid, key=lambda c: (abs((c - ref).days), c > ref)) if valid else None


# ---------------------------------------------------------------------------- patterns

_MONTH_RE = (
    r"(?P<month>january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_DAY_RE = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR_RE = r"(?P<year>(?:19|20)\d\d)"
_WD_RE = (
    r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)"
)
_NUM_RE = (
    r"(?P<num>\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|(?:a\s+)?couple(?:\s+of)?|(?:a\s+)?few|several)"
)
_UNIT_RE = r"(?P<unit>day|week|weekend|month|year|decade)s?"
_HOLIDAY_RE = (
    r"(?P<holiday>christmas\s+eve|christmas|xmas|new\s+year'?s\s+eve|new\s+year'?s(?:\s+day)?|"
    r"halloween|valentine'?s(?:\s+day)?|thanksgiving|easter|independence\s+day|"
    r"the\s+fourth\s+of\s+july|fourth\s+of\s+july|4th\s+of\s+july|july\s+4th)"
)
_WHICH_RE = r"(?P<which>last|this\s+past|past|this|next|coming|this\s+coming)"

Match = re.Match[str]
Resolved = tuple[date, date, DateGranularity, bool] | None  # start, end, granularity, approximate
Handler = Callable[[Match, date | None], Resolved]


def _which(m: Match) -> str:
    word = " ".join((m.groupdict().get("which") or "").lower().split())
    return {"this past": "last", "past": "last", "coming": "next", "this coming": "next"}.get(
        word, word
    )


def _count(m: Match) -> tuple[int, int, bool]:
    raw = " ".join(m.group("num").lower().split())
    for key, (lo, hi) in _FUZZY.items():
        if key in raw:
            return lo, hi, True
    return (int(raw), int(raw), False) if raw.isdigit() else (_NUMBERS[raw], _NUMBERS[raw], False)


def _shift(ref: date, unit: str, n: int) -> tuple[Span, DateGranularity]:
    """The unit-sized period ``n`` units away from ``ref`` (negative = past)."""
    if unit == "day":
        d = ref + timedelta(days=n)
        return (d, d), "day"
    if unit in ("week", "weekend"):
        d = ref + timedelta(weeks=n)
        return (_weekend_of(d) if unit == "weekend" else _week(d)), (
            "day" if unit == "weekend" else "week"
        )
    if unit == "month":
        d = ref + relativedelta(months=n)
        return _month(d.year, d.month), "month"
    years = n * (10 if unit == "decade" else 1)
    return _year(ref.year + years), "year"


def _h_iso(m: Match, ref: date | None) -> Resolved:
    d = _safe_date(int(m.group("year")), int(m.group("m")), int(m.group("day")))
    return (d, d, "day", False) if d else None


def _h_slash(m: Match, ref: date | None) -> Resolved:
    a, b, y = int(m.group("a")), int(m.group("b")), int(m.group("y"))
    y += 2000 if y < 100 else 0
    month, day = (b, a) if a > 12 else (a, b)
    d = _safe_date(y, month, day)
    return (d, d, "day", False) if d else None


def _h_full_date(m: Match, ref: date | None) -> Resolved:
    d = _safe_date(int(m.group("year")), _MONTHS[m.group("month").lower()], int(m.group("day")))
    return (d, d, "day", False) if d else None


def _h_day_month(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    month, day = _MONTHS[m.group("month").lower()], int(m.group("day"))
    cands = [d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := _safe_date(y, month, day))]
    d = _pick(cands, ref, "")
    return (d, d, "day", False) if d else None


def _h_month_year(m: Match, ref: date | None) -> Resolved:
    return (*_month(int(m.group("year")), _MONTHS[m.group("month").lower()]), "month", False)


def _h_year(m: Match, ref: date | None) -> Resolved:
    return (*_year(int(m.group("year"))), "year", False)


def _h_month(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    month, which = _MONTHS[m.group("month").lower()], _which(m)
    if which == "this":
        return (*_month(ref.year, month), "month", False)
    firsts = [date(y, month, 1) for y in (ref.year - 1, ref.year, ref.year + 1)]
    this_month = date(ref.year, ref.month, 1)
    d = _pick(firsts, this_month, which) if which else _pick(firsts, this_month, "")
    return (*_month(d.year, d.month), "month", False) if d else None


def _h_season(m: Match, ref: date | None) -> Resolved:
    first = _SEASONS[m.group("season").lower()]
    if m.group("year"):
        return (*_season(int(m.group("year")), first), "month", False)
    if ref is None:
        return None
    which = _which(m)
    spans = [_season(y, first) for y in (ref.year - 2, ref.year - 1, ref.year, ref.year + 1)]
    if which == "last":
        chosen = [s for s in spans if s[1] < ref][-1]
    elif which == "next":
        chosen = next(s for s in spans if s[0] > ref)
    else:  # this: the season of that name nearest to the reference
        chosen = min(spans, key=lambda s: _days_between(s, ref))
    return (*chosen, "month", False)


_DAY_WORDS = {
    "today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
    "earlier today": 0, "yesterday": -1, "last night": -1, "tomorrow": 1,
    "the day before yesterday": -2, "the day after tomorrow": 2,
}  # fmt: skip


def _h_day_word(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    d = ref + timedelta(days=_DAY_WORDS[" ".join(m.group(0).lower().split())])
    return d, d, "day", False


def _h_ago(m: Match, ref: date | None, sign: int = -1) -> Resolved:
    if ref is None:
        return None
    lo, hi, approx = _count(m)
    unit = m.group("unit").lower()
    (a, _), gran = _shift(ref, unit, sign * (hi if sign < 0 else lo))
    (_, b), _ = _shift(ref, unit, sign * (lo if sign < 0 else hi))
    return a, b, gran, approx


def _h_in(m: Match, ref: date | None) -> Resolved:
    return _h_ago(m, ref, sign=1)


def _h_period(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    unit, which = m.group("unit").lower(), _which(m)
    offset = {"last": -1, "next": 1}.get(which, 0)
    (start, end), gran = _shift(ref, unit, offset)
    return start, end, gran, False


def _h_edge_of_period(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    (start, end), gran = _shift(ref, m.group("unit").lower(), 0)
    if m.group("edge").lower() == "earlier":
        return start, ref, gran, False
    return ref, end, gran, False


def _h_past_span(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    unit = m.group("unit").lower().rstrip("s")
    _, hi, approx = _count(m) if m.group("num") else (*_FUZZY["few"], True)
    back = {
        "day": relativedelta(days=hi),
        "week": relativedelta(weeks=hi),
        "month": relativedelta(months=hi),
    }.get(unit, relativedelta(years=hi))
    granularity: DateGranularity = "year" if unit == "year" else unit  # type: ignore[assignment]
    return ref - back, ref, granularity, approx


def _h_the_weekend(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    sat, sun = _weekend_of(ref if ref.weekday() >= 5 else ref - timedelta(weeks=1))
    return sat, sun, "day", False


def _h_week_before_last(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    (start, end), _ = _shift(ref, "week", -2)
    return start, end, "week", False


def _h_weekday(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    wd, which = _WEEKDAYS[m.group("wd").lower()], _which(m)
    if which == "this":
        d = _week(ref)[0] + timedelta(days=wd)
    else:
        cands = [ref + timedelta(days=k) for k in range(-7, 8) if (ref.weekday() + k) % 7 == wd]
        found = _pick(cands, ref, which)
        if found is None:
            return None
        d = found
    return d, d, "day", False


def _holiday(name: str, year: int) -> date:
    name = " ".join(name.lower().replace("'", "").split())
    if name == "easter":
        day: date = easter(year)
        return day
    if name == "thanksgiving":
        first = date(year, 11, 1)
        return first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    if name.startswith("christmas eve"):
        return date(year, 12, 24)
    if name.startswith(("christmas", "xmas")):
        return date(year, 12, 25)
    if name.startswith("new years eve"):
        return date(year, 12, 31)
    if name.startswith("new year"):
        return date(year, 1, 1)
    if name == "halloween":
        return date(year, 10, 31)
    if name.startswith("valentine"):
        return date(year, 2, 14)
    return date(year, 7, 4)  # Independence Day, the Fourth of July


def _h_holiday(m: Match, ref: date | None) -> Resolved:
    name = m.group("holiday")
    if m.group("year"):
        d = _holiday(name, int(m.group("year")))
        return d, d, "day", False
    if ref is None:
        return None
    found = _pick([_holiday(name, y) for y in range(ref.year - 1, ref.year + 2)], ref, _which(m))
    return (found, found, "day", False) if found else None


def _h_the_nth(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    day = int(m.group("day"))
    cands = []
    for k in (-1, 0, 1):
        first = date(ref.year, ref.month, 1) + relativedelta(months=k)
        if (d := _safe_date(first.year, first.month, day)) is not None:
            cands.append(d)
    d = _pick(cands, ref, "")
    return (d, d, "day", False) if d else None


def _h_part_of_month(m: Match, ref: date | None) -> Resolved:
    month = _MONTHS[m.group("month").lower()]
    if m.group("year"):
        start, end = _month(int(m.group("year")), month)
    elif ref is None:
        return None
    else:
        firsts = [date(y, month, 1) for y in (ref.year - 1, ref.year, ref.year + 1)]
        first = _pick(firsts, date(ref.year, ref.month, 1), "")
        assert first is not None
        start, end = _month(first.year, month)
    part = m.group("part").lower()
    if part == "early":
        return start, start + timedelta(days=9), "week", True
    if part.startswith("mid"):
        return start + timedelta(days=10), start + timedelta(days=19), "week", True
    return start + timedelta(days=20), end, "week", True


def _h_other_day(m: Match, ref: date | None) -> Resolved:
    if ref is None:
        return None
    return ref - timedelta(days=7), ref - timedelta(days=1), "day", True


_MONTH_NAMES = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_DAY_WORD_RE = (
    r"the\s+day\s+before\s+yesterday|the\s+day\s+after\s+tomorrow|earlier\s+today|yesterday|"
    r"today|tonight|tomorrow|last\s+night|this\s+morning|this\s+afternoon|this\s+evening"
)
_NOT_A_DAY = r"(?!\s*(?:%|percent|people|years?|kids|times|dollars|miles))"


class _Rule(NamedTuple):
    """A pattern over the lowercased text and the handler that resolves its matches."""

    needs: frozenset[str]
    """The rule runs only on texts with one of these words ("#" stands for any digit)."""
    pattern: str
    handler: Handler
    relative: bool
    capital: str | None = None
    """A group that must be capitalised in the original text (a bare "May", "Sunday")."""


_DIGIT = frozenset("#")
_MONTH_WORDS = frozenset(_MONTH_NAMES.split("|"))
_WEEKDAY_WORDS = frozenset(_WEEKDAYS)
_FULL_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_SEASON_WORDS = frozenset(_SEASONS)
_UNIT_WORDS = frozenset(
    u + s for u in ("day", "week", "weekend", "month", "year", "decade") for s in ("", "s")
)
_HOLIDAY_WORDS = wordset(
    "christmas xmas year halloween valentine thanksgiving easter independence fourth july"
)
_DAY_WORD_WORDS = wordset("yesterday today tonight tomorrow night morning afternoon evening")

_RULE_SPECS: list[_Rule] = [
    _Rule(_DIGIT, rf"{_YEAR_RE}-(?P<m>[01]?\d)-(?P<day>[0-3]?\d)", _h_iso, False),
    _Rule(_DIGIT, r"(?P<a>[0-3]?\d)/(?P<b>[0-3]?\d)/(?P<y>(?:19|20)?\d\d)", _h_slash, False),
    _Rule(_DIGIT, rf"{_DAY_RE}\s+(?:of\s+)?{_MONTH_RE},?\s+{_YEAR_RE}", _h_full_date, False),
    _Rule(_DIGIT, rf"{_MONTH_RE}\s+{_DAY_RE},?\s+{_YEAR_RE}", _h_full_date, False),
    _Rule(_DIGIT, rf"{_DAY_RE}\s+(?:of\s+)?{_MONTH_RE}", _h_day_month, True),
    _Rule(_DIGIT, rf"{_MONTH_RE}\s+{_DAY_RE}(?![\w']){_NOT_A_DAY}", _h_day_month, True),
    _Rule(_DIGIT, rf"{_MONTH_RE},?\s+{_YEAR_RE}", _h_month_year, False),
    _Rule(
        _DIGIT,
        r"(?:(?:back\s+)?in|since|from|until|till|by|during|of|around|circa|before|after|year)"
        rf"\s+{_YEAR_RE}(?![\w']){_NOT_A_DAY}",
        _h_year,
        False,
    ),
    _Rule(
        _SEASON_WORDS,
        rf"{_WHICH_RE}\s+(?P<season>spring|summer|fall|autumn|winter)(?:\s+(?:of\s+)?{_YEAR_RE})?",
        _h_season,
        True,
    ),
    _Rule(
        _SEASON_WORDS,
        rf"(?P<season>spring|summer|fall|autumn|winter)\s+(?:of\s+)?{_YEAR_RE}",
        _h_season,
        True,
    ),
    _Rule(
        _MONTH_WORDS,
        rf"(?:{_WHICH_RE}|in|since|until|by|during|of)\s+(?P<month>{_MONTH_NAMES})"
        r"(?!,?\s+(?:[0-3]?\d(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d)",
        _h_month,
        True,
        "month",
    ),
    _Rule(_MONTH_WORDS, rf"(?P<month>{_MONTH_NAMES.replace('may|', '')})", _h_month, True, "month"),
    _Rule(
        frozenset({"early", "mid", "late"}),
        rf"(?P<part>early|mid|late)(?:-|\s+)(?:in\s+)?{_MONTH_RE}(?:,?\s+{_YEAR_RE})?",
        _h_part_of_month,
        True,
    ),
    _Rule(_DAY_WORD_WORDS, _DAY_WORD_RE, _h_day_word, True),
    _Rule(frozenset({"ago"}), rf"{_NUM_RE}\s+(?:more\s+)?{_UNIT_RE}\s+ago", _h_ago, True),
    _Rule(_UNIT_WORDS, rf"(?:in|within)\s+{_NUM_RE}\s+{_UNIT_RE}", _h_in, True),
    _Rule(frozenset({"now"}), rf"{_NUM_RE}\s+{_UNIT_RE}\s+from\s+now", _h_in, True),
    _Rule(
        frozenset({"earlier", "later"}),
        rf"(?P<edge>earlier|later)\s+this\s+{_UNIT_RE}",
        _h_edge_of_period,
        True,
    ),
    _Rule(
        frozenset({"days", "weeks", "months", "years"}),
        rf"(?:the\s+|this\s+)?(?:past|last)\s+(?:{_NUM_RE}\s+)?(?P<unit>days|weeks|months|years)",
        _h_past_span,
        True,
    ),
    _Rule(_UNIT_WORDS, rf"{_WHICH_RE}\s+(?P<unit>week|weekend|month|year)", _h_period, True),
    _Rule(
        frozenset({"weekend"}), r"(?:over|on|at|for|during)\s+the\s+weekend", _h_the_weekend, True
    ),
    _Rule(frozenset({"before"}), r"the\s+week\s+before\s+last", _h_week_before_last, True),
    _Rule(_WEEKDAY_WORDS, rf"{_WHICH_RE}\s+{_WD_RE}", _h_weekday, True),
    _Rule(_WEEKDAY_WORDS, rf"on\s+(?P<wd>{_FULL_WEEKDAYS})", _h_weekday, True),
    _Rule(_WEEKDAY_WORDS, rf"(?P<wd>{_FULL_WEEKDAYS})", _h_weekday, True, "wd"),
    _Rule(
        _HOLIDAY_WORDS,
        rf"(?:{_WHICH_RE}\s+)?{_HOLIDAY_RE}(?:\s+{_YEAR_RE})?",
        _h_holiday,
        True,
    ),
    _Rule(
        _DIGIT,
        rf"on\s+the\s+{_DAY_RE}(?![\w'])(?!\s+(?:of|floor|grade|place|time|anniversary))",
        _h_the_nth,
        True,
    ),
    _Rule(frozenset({"other"}), r"the\s+other\s+day", _h_other_day, True),
]
_RULES = [(re.compile(rf"(?<![\w']){rule.pattern}(?![\w'])"), rule) for rule in _RULE_SPECS]
_WORD = re.compile(r"[a-z]+|\d")


def _as_date(reference: datetime | date | None) -> date | None:
    if reference is None:
        return None
    if isinstance(reference, datetime):
        return reference.date()
    if isinstance(reference, date):
        return reference
    raise InvalidInputError(f"reference must be a date or datetime, not {reference!r}")


def resolve_dates(text: str, reference: datetime | date | None) -> list[DateMention]:
    """Every time expression in ``text``, resolved against ``reference``, in text order.

    With ``reference=None`` only absolute expressions ("8 May 2023", "in 2022") are returned.
    Where expressions overlap, the longest one wins ("last Saturday night" over "Saturday").
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")
    ref = _as_date(reference)
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lowercase to two; keep offsets aligned
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    lowered = lowered.replace("’", "'")
    words = {"#" if w.isdigit() else w for w in _WORD.findall(lowered)}
    found: list[tuple[int, int, tuple[date, date, DateGranularity, bool], bool]] = []
    for pattern, rule in _RULES:
        if rule.needs.isdisjoint(words):
            continue
        for m in pattern.finditer(lowered):
            if rule.capital is not None and not text[m.start(rule.capital)].isupper():
                continue
            resolved = rule.handler(m, ref)
            if resolved is not None:
                is_relative = rule.relative and m.groupdict().get("year") is None
                found.append((m.start(), m.end(), resolved, is_relative))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    mentions: list[DateMention] = []
    taken_until = -1
    for start, end, resolved, is_relative in found:
        if start < taken_until:
            continue
        if is_relative and _RECURRING.search(lowered[max(0, start - 40) : start]):
            taken_until = end  # "every June" names no particular June: left unresolved
            continue
        first, last, granularity, approximate = resolved
        mentions.append(
            DateMention(
                surface=text[start:end],
                start=first,
                end=last,
                granularity=granularity,
                relative=is_relative,
                approximate=approximate,
                span=(start, end),
            )
        )
        taken_until = end
    return mentions


_RECURRING = re.compile(
    r"\b(?:every|each|most|per)\s+(?:other\s+|single\s+|\w+\s+(?:on|in|at)\s+)?"
    r"(?:(?:the|this)\s+)?$"
)
"""What comes just before a repeated time, not a dated one: "every June", "each Monday", "every
year on June 5", "most Sundays"."""


def annotate_dates(text: str, reference: datetime | date | None) -> str:
    """``text`` with each relative expression followed by its absolute date in parentheses.

    "I went there yesterday" on 8 May 2023 → "I went there yesterday (7 May 2023)".
    """
    out: list[str] = []
    pos = 0
    for mention in resolve_dates(text, reference):
        if not mention.relative:
            continue
        out.append(text[pos : mention.span[1]])
        out.append(f" ({mention.label()})")
        pos = mention.span[1]
    out.append(text[pos:])
    return "".join(out)


_LOCOMO = re.compile(
    r"^\s*(?P<h>\d{1,2}):(?P<min>\d\d)\s*(?P<ampm>[ap])\.?m\.?\s+on\s+(?P<day>\d{1,2})\s+"
    r"(?P<month>[A-Za-z]+),?\s+(?P<year>\d{4})\s*$",
    re.IGNORECASE,
)


def parse_session_datetime(s: str) -> datetime:
    """Parse a session timestamp: LoCoMo's ``1:56 pm on 8 May, 2023``, ISO 8601, or another
    common form that names a year ("May 8, 2023 1:56 PM"). Naive unless the text gives a zone.
    """
    if not isinstance(s, str) or not s.strip():
        raise InvalidInputError(f"session datetime must be a non-empty string, not {s!r}")
    m = _LOCOMO.match(s)
    if m:
        month = _MONTHS.get(m.group("month").lower())
        hour, minute = int(m.group("h")), int(m.group("min"))
        if month is None or not 1 <= hour <= 12:
            raise InvalidInputError(f"cannot read session datetime {s!r}")
        hour = hour % 12 + (12 if m.group("ampm").lower() == "p" else 0)
        try:
            return datetime(int(m.group("year")), month, int(m.group("day")), hour, minute)
        except ValueError as exc:
            raise InvalidInputError(f"cannot read session datetime {s!r}: {exc}") from exc
    try:
        return datetime.fromisoformat(s.strip())
    except ValueError:
        pass
    if not re.search(r"(?<!\d)(?:19|20)\d\d(?!\d)", s):
        raise InvalidInputError(f"cannot read session datetime {s!r}: it names no year")
    try:
        parsed: datetime = _dateutil_parse(s, default=datetime(2000, 1, 1))
    except (ParserError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"cannot read session datetime {s!r}") from exc
    return parsed
