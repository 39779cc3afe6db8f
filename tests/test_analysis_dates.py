"""Date resolution against a session date: relative and absolute forms, labels, parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.analysis.dates import (
    DateMention,
    annotate_dates,
    format_day,
    parse_session_datetime,
    resolve_dates,
)
from memory.errors import InvalidInputError

#: LoCoMo's first session: "1:56 pm on 8 May, 2023", a Monday.
REF = datetime(2023, 5, 8, 13, 56)
D = date
PLUS_TWO = timezone(timedelta(hours=2))
_PIECES = [*"abcdefghijklmnopqrstuvwxyz0123456789 ,./-'"]
_PIECES += ["last ", "next ", " ago", "week", " May ", "Friday", "in 20", "2023", "the "]


def only(text: str, reference: datetime | date | None = REF) -> DateMention:
    mentions = resolve_dates(text, reference)
    assert len(mentions) == 1, mentions
    return mentions[0]


@pytest.mark.parametrize(
    ("text", "surface", "start", "end", "granularity"),
    [
        ("I went to a support group yesterday.", "yesterday", D(2023, 5, 7), D(2023, 5, 7), "day"),
        ("It was so busy last week", "last week", D(2023, 5, 1), D(2023, 5, 7), "week"),
        ("I ran a race last Saturday!", "last Saturday", D(2023, 5, 6), D(2023, 5, 6), "day"),
        ("We camp this weekend", "this weekend", D(2023, 5, 13), D(2023, 5, 14), "day"),
        ("I got it two days ago", "two days ago", D(2023, 5, 6), D(2023, 5, 6), "day"),
        ("going camping next month", "next month", D(2023, 6, 1), D(2023, 6, 30), "month"),
        ("I painted it last year", "last year", D(2022, 1, 1), D(2022, 12, 31), "year"),
        ("We dined out last night", "last night", D(2023, 5, 7), D(2023, 5, 7), "day"),
        ("Movie night tonight!", "tonight", D(2023, 5, 8), D(2023, 5, 8), "day"),
        ("I ran this morning", "this morning", D(2023, 5, 8), D(2023, 5, 8), "day"),
        ("I'll call you tomorrow", "tomorrow", D(2023, 5, 9), D(2023, 5, 9), "day"),
        ("It's due on the 5th", "on the 5th", D(2023, 5, 5), D(2023, 5, 5), "day"),
        ("a party last weekend", "last weekend", D(2023, 5, 6), D(2023, 5, 7), "day"),
        ("in a class last Tues", "last Tues", D(2023, 5, 2), D(2023, 5, 2), "day"),
        ("see you next Friday", "next Friday", D(2023, 5, 12), D(2023, 5, 12), "day"),
        ("met them two weekends ago", "two weekends ago", D(2023, 4, 29), D(2023, 4, 30), "day"),
        ("it was three years ago", "three years ago", D(2020, 1, 1), D(2020, 12, 31), "year"),
        ("a trip last summer", "last summer", D(2022, 6, 1), D(2022, 8, 31), "month"),
        ("it happened in May", "in May", D(2023, 5, 1), D(2023, 5, 31), "month"),
        ("the week before last", "the week before last", D(2023, 4, 24), D(2023, 4, 30), "week"),
        ("We went on Friday", "on Friday", D(2023, 5, 5), D(2023, 5, 5), "day"),
        ("a meetup later this month", "later this month", D(2023, 5, 8), D(2023, 5, 31), "month"),
        ("we had fun over the weekend", "over the weekend", D(2023, 5, 6), D(2023, 5, 7), "day"),
        ("last Christmas was cold", "last Christmas", D(2022, 12, 25), D(2022, 12, 25), "day"),
    ],
)
def test_relative_expressions_resolve_against_the_session_date(
    text: str, surface: str, start: date, end: date, granularity: str
) -> None:
    mention = only(text)
    assert (mention.surface, mention.start, mention.end) == (surface, start, end)
    assert mention.granularity == granularity
    assert mention.relative
    assert text[mention.span[0] : mention.span[1]] == surface


@pytest.mark.parametrize(
    ("text", "start", "end", "granularity"),
    [
        ("back in 2022 we moved", D(2022, 1, 1), D(2022, 12, 31), "year"),
        ("since May 2023", D(2023, 5, 1), D(2023, 5, 31), "month"),
        ("on 8 May, 2023 we met", D(2023, 5, 8), D(2023, 5, 8), "day"),
        ("on May 8th, 2023 we met", D(2023, 5, 8), D(2023, 5, 8), "day"),
        ("on 1st of June 2021", D(2021, 6, 1), D(2021, 6, 1), "day"),
        ("the 2023-05-01 release", D(2023, 5, 1), D(2023, 5, 1), "day"),
        ("signed 05/03/2023", D(2023, 5, 3), D(2023, 5, 3), "day"),
        ("signed 25/03/2023", D(2023, 3, 25), D(2023, 3, 25), "day"),
        ("during the summer of 2021", D(2021, 6, 1), D(2021, 8, 31), "month"),
        ("Easter 2024 was early", D(2024, 3, 31), D(2024, 3, 31), "day"),
        ("What happened on October 24, 2023?", D(2023, 10, 24), D(2023, 10, 24), "day"),
    ],
)
def test_absolute_expressions_need_no_reference(
    text: str, start: date, end: date, granularity: str
) -> None:
    for reference in (REF, None):
        mention = only(text, reference)
        assert (mention.start, mention.end, mention.granularity) == (start, end, granularity)
        assert not mention.relative


@pytest.mark.parametrize(
    ("text", "start", "end", "granularity"),
    [
        ("a few weeks ago", D(2023, 4, 3), D(2023, 4, 30), "week"),
        ("a couple of days ago", D(2023, 5, 5), D(2023, 5, 6), "day"),
        ("in a few days", D(2023, 5, 10), D(2023, 5, 13), "day"),
        ("the other day", D(2023, 5, 1), D(2023, 5, 7), "day"),
        ("over the past few weeks", D(2023, 4, 3), D(2023, 5, 8), "week"),
        ("early June", D(2023, 6, 1), D(2023, 6, 10), "week"),
    ],
)
def test_fuzzy_expressions_give_an_approximate_range(
    text: str, start: date, end: date, granularity: str
) -> None:
    mention = only(text)
    assert (mention.start, mention.end, mention.granularity) == (start, end, granularity)
    assert mention.approximate


@pytest.mark.parametrize(
    "text",
    [
        "I've been so busy recently",
        "That was a while ago",
        "May I ask you something?",
        "I sat on the sun lounger",
        "I'm 18 years old and have 3 kids",
        "Check out my new hat, it's 24/7 fun",
        "Since we last talked, a lot changed. Last time was fun.",
        "in march we march",
        "2000 people were there",
    ],
)
def test_vague_or_non_date_words_are_not_mentions(text: str) -> None:
    assert resolve_dates(text, REF) == []


def test_relative_expressions_need_a_reference() -> None:
    mentions = resolve_dates("I went there yesterday, last week and in 2022", None)
    assert [(m.surface, m.start, m.relative) for m in mentions] == [
        ("in 2022", D(2022, 1, 1), False)
    ]


def test_longest_overlapping_expression_wins_and_mentions_come_in_text_order() -> None:
    mentions = resolve_dates("In July 2022 we met, then last Saturday night again.", REF)
    assert [m.surface for m in mentions] == ["July 2022", "last Saturday"]
    assert mentions[0].span < mentions[1].span


def test_dates_around_a_year_boundary() -> None:
    ref = date(2024, 1, 2)  # a Tuesday
    assert only("last month", ref).start == D(2023, 12, 1)
    assert only("last week", ref).start == D(2023, 12, 25)
    assert only("last Christmas", ref).start == D(2023, 12, 25)
    assert only("in December", ref).start == D(2023, 12, 1)
    assert only("this winter", ref).start == D(2023, 12, 1)


def test_weekday_on_the_reference_day() -> None:
    monday = date(2023, 5, 8)
    assert only("last Monday", monday).start == D(2023, 5, 1)
    assert only("next Monday", monday).start == D(2023, 5, 15)
    assert only("on Monday", monday).start == monday


@pytest.mark.parametrize(
    ("mention", "label"),
    [
        ("yesterday", "7 May 2023"),
        ("last week", "the week of 1 May 2023"),
        ("next month", "June 2023"),
        ("last year", "2022"),
        ("last weekend", "6–7 May 2023"),
        ("last summer", "June–August 2022"),
        ("a few weeks ago", "about 3–30 April 2023"),
    ],
)
def test_labels(mention: str, label: str) -> None:
    assert only(mention).label() == label


def test_annotate_dates_appends_absolute_dates_to_relative_expressions_only() -> None:
    text = "I went to a support group yesterday and moved in 2022."
    assert annotate_dates(text, REF) == (
        "I went to a support group yesterday (7 May 2023) and moved in 2022."
    )
    assert annotate_dates(text, None) == text


def test_format_day() -> None:
    assert format_day(date(2023, 5, 7)) == "7 May 2023"
    assert format_day(datetime(2023, 12, 25, 8, 0)) == "25 December 2023"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),
        ("12:09 am on 13 September, 2023", datetime(2023, 9, 13, 0, 9)),
        ("12:30 pm on 1 Jan, 2024", datetime(2024, 1, 1, 12, 30)),
        ("2023-05-08T13:56:00", datetime(2023, 5, 8, 13, 56)),
        ("2023-05-08T13:56:00+00:00", datetime(2023, 5, 8, 13, 56, tzinfo=UTC)),
        (
            "2023-05-08T13:56:00+02:00",
            datetime(2023, 5, 8, 13, 56, tzinfo=PLUS_TWO),
        ),
        ("May 8, 2023 1:56 PM", datetime(2023, 5, 8, 13, 56)),
    ],
)
def test_parse_session_datetime(text: str, expected: datetime) -> None:
    assert parse_session_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "yesterday", "1:56 pm on 31 February, 2023", "13:56 pm on 8 May, 2023"]
)
def test_parse_session_datetime_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_session_datetime(text)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="reference"):
        resolve_dates("yesterday", "2023-05-08")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="text"):
        resolve_dates(None, REF)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(_PIECES),
        max_size=40,
    ).map("".join),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31)),
)
def test_any_text_gives_well_formed_mentions(text: str, reference: date) -> None:
    mentions = resolve_dates(text, reference)
    ends = [m.span[1] for m in mentions]
    for m in mentions:
        assert m.start <= m.end
        assert text[m.span[0] : m.span[1]] == m.surface
    assert all(a <= b.span[0] for a, b in zip(ends, mentions[1:], strict=False))


@pytest.mark.parametrize(
    "text",
    [
        "I visit her every June",
        "We meet every Monday for lunch",
        "each June I swim in the lake",
        "every year on June 5 we have a party",
        "Most Sundays I call my mom",
        "every other Friday we play chess",
    ],
)
def test_recurring_times_are_not_dates(text: str) -> None:
    assert resolve_dates(text, date(2026, 12, 1)) == []
    assert annotate_dates(text, date(2026, 12, 1)) == text  # no false date written into memory


def test_a_dated_time_next_to_a_recurring_one_still_resolves() -> None:
    mentions = resolve_dates("I swim every Monday, but last Monday I skipped it", date(2026, 12, 1))
    assert [(m.surface, m.start) for m in mentions] == [("last Monday", date(2026, 11, 30))]
    assert [m.surface for m in resolve_dates("We met on Monday", date(2026, 12, 1))] == [
        "on Monday"
    ]
