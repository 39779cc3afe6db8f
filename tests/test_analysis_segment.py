"""Sentence splitting, TextTiling topic segmentation and atomic fact rewriting."""

from __future__ import annotations

import itertools
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.analysis.segment import atomic_facts, segment_session, split_sentences
from memory.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Hey Mel! Good to see you! How have you been?",
            ["Hey Mel!", "Good to see you!", "How have you been?"],
        ),
        ("Wow!! That's great!!! 😊 See you soon", ["Wow!!", "That's great!!! 😊", "See you soon"]),
        (
            "I was nervous... but it went well. Then we left.",
            ["I was nervous... but it went well.", "Then we left."],
        ),
        ("I waited... Then it rained.", ["I waited...", "Then it rained."]),
        (
            "Dr. Smith met Mrs. Jones at 3.30 p.m. today. Nice!",
            ["Dr. Smith met Mrs. Jones at 3.30 p.m. today.", "Nice!"],
        ),
        ("J. K. Rowling wrote it. I loved it.", ["J. K. Rowling wrote it.", "I loved it."]),
        ("I love it 😍 It's so cute", ["I love it 😍", "It's so cute"]),
        ("first line\nsecond line", ["first line", "second line"]),
        ('He said "wow!" Then left.', ['He said "wow!"', "Then left."]),
        ("omg!! i can't believe it", ["omg!!", "i can't believe it"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab .!?\n…'\"", "Dr.", "😊", " I", "..."]), max_size=40).map("".join)
)
def test_split_sentences_keeps_every_character_in_order(text: str) -> None:
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join(sentences).replace(" ", "") == "".join(text.split())


GARDEN = [
    "I planted tomatoes in my garden this spring.",
    "Your garden tomatoes sound great, do you water the tomato plants daily?",
    "Yes, the garden needs water daily, and the tomatoes love sun.",
    "I also grow basil and peppers in the garden beds.",
    "Garden beds with basil and tomatoes smell wonderful.",
]
GUITAR = [
    "By the way, I started guitar lessons last week.",
    "Guitar lessons! Which songs does your guitar teacher give you?",
    "My teacher has me play chords and simple songs on the guitar.",
    "Practicing guitar chords daily hurts my fingers.",
    "Your fingers toughen up after a few weeks of guitar practice.",
]


def test_lexical_segmentation_finds_the_topic_change() -> None:
    assert segment_session(GARDEN + GUITAR, None) == [(0, 5), (5, 10)]


def test_embedding_segmentation_finds_the_topic_change() -> None:
    rng = np.random.default_rng(0)
    topic_a, topic_b = rng.normal(size=16), rng.normal(size=16)
    rows = [topic_a + 0.3 * rng.normal(size=16) for _ in range(6)]
    rows += [topic_b + 0.3 * rng.normal(size=16) for _ in range(5)]
    texts = ["same words"] * 11  # lexical overlap says nothing; the vectors decide
    assert segment_session(texts, np.stack(rows).astype(np.float32)) == [(0, 6), (6, 11)]


def test_segments_cover_the_session_and_respect_max_turns() -> None:
    texts = GARDEN * 4
    segments = segment_session(texts, None, max_turns=6)
    assert segments[0][0] == 0 and segments[-1][1] == len(texts)
    assert all(a < b and b - a <= 6 for a, b in segments)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(segments))


def test_segment_session_small_and_bad_inputs() -> None:
    assert segment_session([], None) == []
    assert segment_session(["only one"], None) == [(0, 1)]
    assert segment_session(["a", "b", "c"], None, max_turns=1) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(InvalidInputError, match="one row per turn"):
        segment_session(["a", "b"], np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(InvalidInputError, match="max_turns"):
        segment_session(["a", "b"], None, max_turns=0)


REF = datetime(2023, 5, 8, 13, 56)


@pytest.mark.parametrize(
    ("speaker", "text", "facts"),
    [
        (
            "Caroline",
            "I went to a support group yesterday and it was so powerful.",
            ["Caroline went to a support group yesterday and it was so powerful."],
        ),
        (
            "Melanie",
            "Yeah, I painted that lake sunrise last year! It's special to me.",
            ["Melanie painted that lake sunrise last year."],
        ),
        (
            "Melanie",
            "Hey Caroline! I'm swamped with the kids & work. What's up with you?",
            ["Melanie is swamped with the kids & work."],
        ),
        (
            "Caroline",
            "I'm keen on counseling - I'd love to support those with similar issues.",
            [
                "Caroline is keen on counseling.",
                "Caroline would love to support those with similar issues.",
            ],
        ),
        (
            "Caroline",
            "Gonna continue my edu and check out career options!",
            ["Caroline is gonna continue Caroline's edu and check out career options."],
        ),
        (
            "Caroline",
            "Researching adoption agencies — it's been a dream to have a family.",
            ["Caroline is researching adoption agencies."],
        ),
        (
            "Melanie",
            "My kids are so excited about summer break! "
            "We're thinking about going camping next month.",
            [
                "Melanie's kids are so excited about summer break.",
                "Melanie and others are thinking about going camping next month.",
            ],
        ),
        (
            "Nate",
            "The game was called Counter-Strike, and me and my team had a blast!",
            ["The game was called Counter-Strike, and Nate and Nate's team had a blast."],
        ),
        (
            "Joanna",
            "I first watched it around 3 years ago. I even went out and got a copy!",
            ["Joanna first watched it around 3 years ago.", "Joanna even went out and got a copy."],
        ),
        (
            "Joanna",
            "Besides writing, I also enjoy reading and exploring nature.",
            ["Besides writing, Joanna also enjoys reading and exploring nature."],
        ),
        (
            "Nate",
            "I have a dog. I go hiking and I try new recipes.",
            ["Nate has a dog.", "Nate goes hiking and Nate tries new recipes."],
        ),
        (
            "Nate",
            "I've been there, I don't like it and I'll never go back.",
            ["Nate has been there, Nate doesn't like it and Nate will never go back."],
        ),
        ("Jo", "Just finished my first screenplay 🎉", ["Jo just finished Jo's first screenplay."]),
        ("Jo", "Went hiking with Tim in Yosemite.", ["Jo went hiking with Tim in Yosemite."]),
    ],
)
def test_atomic_facts_resolve_the_speaker(speaker: str, text: str, facts: list[str]) -> None:
    assert atomic_facts(text, speaker) == facts


@pytest.mark.parametrize(
    "text",
    [
        "Hey Mel! Good to see you! How have you been?",
        "Wow, that's cool, Caroline! What happened that was so awesome?",
        "That's really cool. You've got guts. What now?",
        "You'd be a great counselor! Your empathy will really help people.",
        "Thanks, Melanie! That's really sweet. Is this your own painting?",
        "By the way, take a look at this. Check out this pic!",
        "Congrats on winning! Good luck! Talk to you soon!",
        "I'm so proud of you! Love it!",
        "It was so powerful. They are great.",
        "Taking care of ourselves is so important.",
    ],
)
def test_chit_chat_questions_and_unresolved_pronouns_state_no_fact(text: str) -> None:
    assert atomic_facts(text, "Caroline", listener="Melanie") == []


def test_listener_and_reference_make_facts_self_contained() -> None:
    facts = atomic_facts(
        "I'll send you my notes. I went to a LGBTQ support group yesterday.",
        "Caroline",
        listener="Melanie",
        reference=REF,
    )
    assert facts == [
        "Caroline will send Melanie Caroline's notes.",
        "Caroline went to a LGBTQ support group yesterday (7 May 2023).",
    ]


def test_atomic_facts_bad_input() -> None:
    assert atomic_facts("", "Caroline") == []
    with pytest.raises(InvalidInputError, match="speaker"):
        atomic_facts("I went home.", "  ")
    with pytest.raises(InvalidInputError, match="turn_text"):
        atomic_facts(None, "Caroline")  # type: ignore[arg-type]


def test_third_person_statements_are_kept_when_they_name_someone_else() -> None:
    assert atomic_facts("James went to Paris last week.", "Tim") == [
        "James went to Paris last week."
    ]
    assert atomic_facts("The Summer Sounds concert was amazing.", "Melanie") == [
        "The Summer Sounds concert was amazing."
    ]
    # Naming only the listener is a compliment, not a fact.
    assert atomic_facts("Caroline is so brave.", "Melanie", listener="Caroline") == []
    assert atomic_facts("i went to the beach with my dog", "Tim") == [
        "Tim went to the beach with Tim's dog."
    ]
