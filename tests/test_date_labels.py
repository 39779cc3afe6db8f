"""The date labels written beside resolved expressions read back as the ranges they name."""

from __future__ import annotations

from datetime import date

import pytest

from agents.analysis import resolve_dates
from agents.analysis.date_labels import label_span, labelled_spans

MAY_8 = date(2023, 5, 8)


@pytest.mark.parametrize(
    "expression",
    [
        "yesterday",
        "last week",
        "last year",
        "last weekend",
        "two weeks ago",
        "next month",
        "a few weeks ago",
        "last summer",
        "last Saturday",
        "three years ago",
        "a couple of months ago",
        "next week",
    ],
)
def test_every_label_of_a_resolved_expression_reads_back_as_its_range(expression: str) -> None:
    (mention,) = resolve_dates(f"We met {expression}.", MAY_8)
    assert label_span(mention.label()) == (mention.start, mention.end)


@pytest.mark.parametrize(
    ("label", "span"),
    [
        ("2021–2022", (date(2021, 1, 1), date(2022, 12, 31))),
        ("December 2022–January 2023", (date(2022, 12, 1), date(2023, 1, 31))),
        ("30 April 2023 – 2 May 2023", (date(2023, 4, 30), date(2023, 5, 2))),
        ("about 3 May 2023", (date(2023, 5, 3), date(2023, 5, 3))),
    ],
)
def test_labels_across_years_months_and_approximate_ones(
    label: str, span: tuple[date, date]
) -> None:
    assert label_span(label) == span


@pytest.mark.parametrize("text", ["Barbie", "31 February 2023", "May", "7 May", "in 2023"])
def test_text_that_is_not_a_label_names_no_range(text: str) -> None:
    assert label_span(text) is None


def test_labelled_spans_reads_only_parenthesised_labels() -> None:
    text = "Sam ran on 2 May 2023 and again last weekend (6–7 May 2023) (with Maya)."
    assert labelled_spans(text) == [(date(2023, 5, 6), date(2023, 5, 7))]
