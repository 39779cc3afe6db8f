"""Question analysis: type, entities, dates, keywords, temporal and multi-hop cues."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from agents.analysis.query import QueryAnalysis, analyze_query
from memory.errors import InvalidInputError

KNOWN = ("Caroline", "Melanie")


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("When did Caroline go to the LGBTQ support group?", "when"),
        ("In what year did Melanie paint a sunrise?", "when"),
        ("What month did they go camping?", "when"),
        ("How long has Caroline had her friends?", "how_long"),
        ("How many children does Melanie have?", "how_many"),
        ("How often does Melanie run?", "how_many"),
        ("Who supports Caroline when she has a negative experience?", "who"),
        ("Where did Caroline move from 4 years ago?", "where"),
        ("Why did Caroline choose the adoption agency?", "why"),
        ("Which city have both Jean and John visited?", "which"),
        ("What did Melanie paint recently?", "what"),
        ("How did Melanie feel about the race?", "how"),
        ("Would Caroline pursue writing as a career?", "yes_no"),
        ("Did Melanie go camping in June?", "yes_no"),
        ("So, what are Melanie's hobbies?", "what"),
        ("Caroline moved from where?", "where"),
        ("Tell me about Caroline.", "other"),
    ],
)
def test_question_type(question: str, qtype: str) -> None:
    assert analyze_query(question, None, KNOWN).qtype == qtype


def test_a_temporal_question_with_entities_and_keywords() -> None:
    analysis = analyze_query("When did Caroline go to the LGBTQ support group?", None, KNOWN)
    assert isinstance(analysis, QueryAnalysis)
    assert analysis.entities[:2] == ("Caroline", "LGBTQ")
    assert "support group" in analysis.entities
    assert analysis.temporal and analysis.temporal_cues == ("when",)
    assert analysis.keywords == ("carolin", "go", "lgbtq", "support", "group")
    assert analysis.dates == ()
    assert not analysis.multi_hop


def test_absolute_dates_resolve_without_a_reference() -> None:
    analysis = analyze_query("What movie did Joanna watch on 1 May, 2022?", None, ("Joanna",))
    assert [(m.start, m.granularity) for m in analysis.dates] == [(date(2022, 5, 1), "day")]
    assert analysis.entities[0] == "Joanna"
    assert not analysis.temporal  # it is constrained by a date but asks for a movie


def test_relative_dates_resolve_against_the_reference() -> None:
    analysis = analyze_query("What did Melanie do last weekend?", datetime(2023, 5, 8), KNOWN)
    assert [(m.start, m.end) for m in analysis.dates] == [(date(2023, 5, 6), date(2023, 5, 7))]
    assert analysis.temporal
    assert analyze_query("What did Melanie do last weekend?", None, KNOWN).dates == ()


@pytest.mark.parametrize(
    ("question", "cue"),
    [
        ("Which city have both Jean and John visited?", "both"),
        ("What activities has Melanie done with her family?", "plural answer"),
        ("What outdoor activities has Andrew done other than hiking?", "exclusion"),
        ("How many games has John mentioned winning?", "count"),
        ("What are the names of John's children?", "enumeration"),
        ("What might John's financial status be?", "inference"),
        ("What do Jon and Gina have in common?", "comparison"),
    ],
)
def test_multi_hop_cues(question: str, cue: str) -> None:
    analysis = analyze_query(question, None, ())
    assert cue in analysis.multi_hop_cues
    assert analysis.multi_hop


def test_two_people_alone_do_not_make_a_question_multi_hop() -> None:
    analysis = analyze_query("What does Melanie tell Caroline she won't do?", None, KNOWN)
    assert analysis.multi_hop_cues == ("several entities",)
    assert not analysis.multi_hop


def test_ordering_words_make_a_question_temporal() -> None:
    analysis = analyze_query("What did Caroline do after the parade?", None, KNOWN)
    assert analysis.temporal and analysis.temporal_cues == ("after",)
    assert not analyze_query("What did Caroline paint?", None, KNOWN).temporal


def test_whitespace_is_normalised_and_empty_questions_are_rejected() -> None:
    assert analyze_query("  When   did\nCaroline  go? ", None).question == "When did Caroline go?"
    for bad in ("", "   "):
        with pytest.raises(InvalidInputError, match="question"):
            analyze_query(bad, None)
