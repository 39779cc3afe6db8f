"""Entity extraction on chat lines: known names, proper nouns, topics, canonical forms."""

from __future__ import annotations

import pytest

from agents.analysis.entities import entity_key, extract_entities, normalize_entity

SPEAKERS = ("Caroline", "Melanie")


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Caroline's", "Caroline"),
        ("caroline’s", "caroline"),
        ("James'", "James"),
        ("  the Smoky   Mountains!", "Smoky Mountains"),
        ('"Finding Home"', "Finding Home"),
        ("my violin", "violin"),
        ("The", "The"),
        ("Lord of the Rings", "Lord of the Rings"),
    ],
)
def test_normalize_entity(name: str, canonical: str) -> None:
    assert normalize_entity(name) == canonical


def test_entity_key_is_case_insensitive() -> None:
    assert entity_key("The LGBTQ Support Group") == entity_key("lgbtq support group's")


def test_known_names_with_possessives_and_any_case() -> None:
    text = "I saw caroline's painting and Melanie's kids at the park."
    assert extract_entities(text, SPEAKERS, topics=0) == ["Caroline", "Melanie"]


def test_a_nickname_resolves_to_the_one_known_name_it_starts() -> None:
    assert extract_entities("Hey Mel! Good to see you!", SPEAKERS) == ["Melanie"]
    assert extract_entities("Hey Mel!", ("Melanie", "Melissa"), topics=0) == ["Mel"]
    assert extract_entities("Jon said hi", ("Jon", "Jonathan"), topics=0) == ["Jon"]


def test_proper_noun_spans_inside_sentences() -> None:
    text = "We watched Lord of the Rings and then drove to New York with Caroline."
    assert extract_entities(text, SPEAKERS, topics=0) == [
        "Lord of the Rings",
        "New York",
        "Caroline",
    ]


def test_sentence_initial_words_need_support() -> None:
    # "Researching" starts a sentence and is not a name; "Paris" is only a name when seen
    # capitalised again or known.
    assert extract_entities("Researching adoption agencies now.", topics=0) == []
    assert extract_entities("Paris was lovely.", topics=0) == []
    assert extract_entities("Paris was lovely. I miss Paris.", topics=0) == ["Paris"]
    assert extract_entities("Paris was lovely.", ("Paris",), topics=0) == ["Paris"]
    assert extract_entities("Star Wars is my fav.", topics=0) == ["Star Wars"]
    assert extract_entities("LGBTQ folks are welcome.", topics=0) == ["LGBTQ"]


@pytest.mark.parametrize(
    "text",
    [
        "Thanks! I'm so happy. Wow, Great job!",
        "I went there on Monday in May, OK?",
        "LOL that's SO funny",
        "Sounds great, Congrats!",
    ],
)
def test_pronouns_interjections_days_months_are_never_entities(text: str) -> None:
    assert extract_entities(text, topics=0) == []


def test_topics_are_noun_phrases_without_the_names() -> None:
    assert extract_entities(
        "I went to a LGBTQ support group yesterday and it was so powerful.", SPEAKERS
    ) == ["LGBTQ", "support group"]
    assert extract_entities("I took my kids to a pottery class, they loved it!") == [
        "pottery class",
        "kids",
    ]
    entities = extract_entities(
        "Researching adoption agencies — it's been a dream to have a family.", SPEAKERS
    )
    assert "adoption agencies" in entities[0]
    assert extract_entities("That's really cool. You've got guts.") == []


def test_each_entity_appears_once_in_order_of_appearance() -> None:
    text = "Melanie met Caroline. Caroline's dog met Melanie's dog in Central Park."
    assert extract_entities(text, SPEAKERS, topics=0) == ["Melanie", "Caroline", "Central Park"]
    assert extract_entities(text, SPEAKERS) == extract_entities(text, SPEAKERS)


def test_multiword_known_entities_match_case_insensitively() -> None:
    known = ("support group", "Caroline")
    assert extract_entities("Caroline loves her Support Group.", known, topics=0) == [
        "Caroline",
        "support group",
    ]


def test_image_captions_yield_topics() -> None:
    entities = extract_entities("a photo of a dog walking on a beach at sunset", topics=4)
    assert entities[0] == "dog walking"
    assert {"beach", "sunset"} <= set(entities)
