"""Tokens, stemmed content words and RAKE keyphrases."""

from __future__ import annotations

import agents.analysis as analysis
from agents.analysis.keywords import (
    FILLER_WORDS,
    STOPWORDS,
    content_tokens,
    keyphrases,
    phrase_candidates,
    stem,
    tokenize,
    wordset,
)


def test_tokenize_lowercases_and_keeps_contractions_and_hyphenations() -> None:
    assert tokenize("I’m SO into self-care, Mel's kids!") == [
        "i'm",
        "so",
        "into",
        "self-care",
        "mel's",
        "kids",
    ]


def test_content_tokens_drop_stopwords_and_possessives_and_stem() -> None:
    assert content_tokens("I went to the LGBTQ support groups with Caroline's kids") == [
        "went",
        "lgbtq",
        "support",
        "group",
        "carolin",
        "kid",
    ]
    assert content_tokens("running runs ran") == ["run", "run", "ran"]
    assert content_tokens("self-care is key") == ["self", "care", "key"]
    assert content_tokens("We did it in 2022!") == ["2022"]


def test_content_tokens_match_across_inflections() -> None:
    question = set(content_tokens("When did Melanie paint a sunrise?"))
    turn = set(content_tokens("Yeah, I painted that lake sunrise last year!"))
    assert {"paint", "sunris"} <= question & turn


def test_stem_is_the_snowball_english_stem() -> None:
    assert [stem(w) for w in ["adoption", "agencies", "pottery", "swimming"]] == [
        "adopt",
        "agenc",
        "potteri",
        "swim",
    ]


def test_stopword_lists_are_lowercase_and_hold_chat_fillers() -> None:
    for words in (STOPWORDS, FILLER_WORDS):
        assert all(w == w.lower() for w in words)
    assert {"gonna", "yeah", "i'm", "the"} <= STOPWORDS
    assert {"awesome", "yesterday", "thanks"} <= FILLER_WORDS
    assert not {"pottery", "adoption", "violin"} & (STOPWORDS | FILLER_WORDS)
    assert wordset(" a  b\nc ") == frozenset({"a", "b", "c"})


def test_phrase_candidates_cut_at_stopwords_fillers_punctuation_and_possessives() -> None:
    assert phrase_candidates("I took my kids to a pottery class yesterday, it was awesome!") == [
        ["kids"],
        ["pottery", "class"],
    ]
    assert phrase_candidates("Mel's kids love the beach") == [["Mel"], ["kids"], ["beach"]]
    assert phrase_candidates("an amazing new state park trail loop") == [["park", "trail", "loop"]]


def test_keyphrases_rank_multiword_phrases_first_and_skip_contained_ones() -> None:
    text = "I went to a LGBTQ support group yesterday and it was so powerful. The group helped."
    phrases = keyphrases(text)
    assert phrases[0] == "lgbtq support group"
    assert "group" not in phrases
    assert "powerful" in phrases
    assert keyphrases("Researching adoption agencies is a dream.", k=1) == [
        "researching adoption agencies"
    ]


def test_keyphrases_edge_cases() -> None:
    assert keyphrases("") == []
    assert keyphrases("Hey! Wow, that's so awesome!!") == []
    assert keyphrases("pottery class and pottery", k=0) == []
    text = "camping trip, violin lessons, pottery class, dog park, beach walk"
    assert keyphrases(text, k=2) == ["camping trip", "violin lessons"]
    assert keyphrases(text) == keyphrases(text)


def test_public_names() -> None:
    assert set(analysis.__all__) == {
        "FILLER_WORDS",
        "STOPWORDS",
        "DateGranularity",
        "DateMention",
        "QueryAnalysis",
        "QuestionType",
        "analyze_query",
        "annotate_dates",
        "atomic_facts",
        "content_tokens",
        "entity_key",
        "extract_entities",
        "format_day",
        "keyphrases",
        "normalize_entity",
        "parse_session_datetime",
        "phrase_candidates",
        "resolve_dates",
        "segment_session",
        "split_sentences",
        "stem",
        "tokenize",
    }
    assert all(hasattr(analysis, name) for name in analysis.__all__)
