"""Updates beyond attribute slots: a fact saying a state changed supersedes the fact it changes,
and a question about the present ranks the newer fact above the turn of the older one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.retrieval.current import asks_about_now, prefer_successors, stale_turn_successors
from agents.retrieval.view import view_for
from agents.state import Candidate
from agents.state_change import change_cue, changed_fact, topic_text
from agents.trust import may_supersede
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder, embedder_from_settings
from memory.model import Granularity, MemoryUnit, Namespace, Turn, make_unit
from memory.settings import Settings

LEE = Namespace(user_id="lee")
MARCH, JUNE = datetime(2024, 3, 5, 10, tzinfo=UTC), datetime(2024, 6, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Lee is back on two espressos a day.", "back on"),
        ("Lee started eating fish, so Lee is not vegetarian anymore.", "not vegetarian anymore"),
        ("Maya left the jazz band in November.", "left the"),
        ("Iris stopped using the app.", "stopped"),
        ("Lee no longer drives to work.", "no longer"),
        ("Lee sold the Civic and took up cycling.", "sold the"),
        ("Jon won't quit, no matter what.", None),
        ("Joanna loves looking back on fond memories.", None),
        ("Jon is back on track.", None),
        ("It really changed Tim's perspective.", None),
        ("Lee drinks two espressos a day.", None),
        ("Lee is not sure about the trip.", None),
        ("Maya plays the saxophone on Thursdays.", None),
    ],
)
def test_change_cues(text: str, cue: str | None) -> None:
    assert change_cue(text) == cue


def test_the_subject_must_make_the_change() -> None:
    assert change_cue("Lee is back on two espressos a day.", "Lee") == "back on"
    assert change_cue("Maria said Lee's brother quit smoking.", "Lee") is None
    assert change_cue("The new boss quit smoking, Lee says.", "Lee") is None


def _fact(text: str, when: datetime, turn: str, speaker: str = "Lee") -> MemoryUnit:
    return make_unit(
        LEE,
        Granularity.FACT,
        text,
        provenance=[turn],
        speaker=speaker,
        event_time=when,
        entities=("Lee", *(w for w in ("Jo", "Civic") if w in text)),
    )


def test_the_topic_leaves_out_names_dates_and_cues() -> None:
    fact = _fact("Lee quit coffee completely this month (March 2024), Jo said.", MARCH, "D1:1")
    assert topic_text(fact) == "coffee completely this month , said"


STORED = [
    _fact("Lee is vegetarian these days, mostly lentils and tofu.", MARCH, "D1:1"),
    _fact("Lee drives a grey Civic to work.", MARCH, "D1:2"),
    _fact("Lee's partner Jo runs a cafe.", MARCH, "D1:3"),
]


def _changed(unit: MemoryUnit, stored: list[MemoryUnit]) -> MemoryUnit | None:
    found = changed_fact(unit, stored, HashingEmbedder().embed, may_supersede)
    return None if found is None else found[0]


def test_a_state_change_finds_the_fact_it_changes() -> None:
    fish = _fact("Lee eats fish again, so Lee is not vegetarian anymore.", JUNE, "D3:1")
    bike = _fact("Lee sold the Civic and rides a bike to work.", JUNE, "D3:2")
    assert _changed(fish, STORED) == STORED[0]
    assert _changed(bike, STORED) == STORED[1]


def test_what_is_not_a_change_of_a_stored_fact() -> None:
    no_cue = _fact("Lee eats fish, Lee is vegetarian mostly.", JUNE, "D3:1")
    earlier = _fact("Lee is not vegetarian anymore.", datetime(2024, 1, 1, tzinfo=UTC), "D0:1")
    same_turn = _fact("Lee is not vegetarian anymore.", MARCH, "D1:1")
    other_speaker = _fact("Lee is not vegetarian anymore.", JUNE, "D3:1", speaker="Ravi")
    off_topic = _fact("Lee no longer enjoys opera.", JUNE, "D3:1")
    assert _changed(no_cue, STORED) is None  # says nothing changed
    assert _changed(earlier, STORED) is None  # said before the fact it would change
    assert _changed(same_turn, STORED) is None  # from the same turn
    assert _changed(other_speaker, STORED) is None  # Ravi cannot rewrite Lee's own statement
    assert _changed(off_topic, STORED) is None  # no stored fact shares its topic


def test_successors_go_just_above_the_stale_turn() -> None:
    ranked = [
        Candidate(unit_id="march-turn", score=0.9, sources=["lexical"]),
        Candidate(unit_id="other", score=0.5, sources=["dense"]),
        Candidate(unit_id="june-fact", score=0.1, sources=["dense"]),
    ]
    out = prefer_successors(ranked, {"march-turn": ("june-fact",), "gone": ("new",)})
    assert [c["unit_id"] for c in out] == ["june-fact", "march-turn", "other"]
    assert out[0]["sources"] == ["dense", "successor"]


@pytest.mark.parametrize(
    ("question", "now"),
    [
        ("Does Lee drink coffee?", True),
        ("Is Maya in a band?", True),
        ("When did Lee quit coffee?", False),
        ("Did Lee drink coffee in March?", False),
        ("How often does Lee drink coffee?", False),
    ],
)
def test_questions_about_now(question: str, now: bool) -> None:
    assert asks_about_now(question) is now


SESSIONS = [
    (
        MARCH,
        [
            "I quit coffee completely this month, my sleep was terrible.",
            "My partner Jo runs a cafe.",
        ],
    ),
    (datetime(2024, 4, 12, tzinfo=UTC), ["Work at the library is quiet lately."]),
    (JUNE, ["Confession: I'm back on two espressos a day, the new project is brutal."]),
]


@pytest.fixture(scope="module")
def lee(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypermnesia]:
    """Lee's three sessions, on the real default embedder (coffee and espressos share no word)."""
    root: Path = tmp_path_factory.mktemp("lee")
    settings = Settings(llm_model=None)
    with Hypermnesia.open(root, settings=settings, embedder=embedder_from_settings(settings)) as hm:
        for n, (when, texts) in enumerate(SESSIONS, 1):
            turns = [
                Turn(id=f"D{n}:{i}", session_id=f"S{n}", speaker="Lee", text=t, session_time=when)
                for i, t in enumerate(texts, 1)
            ]
            hm.remember(LEE, turns)
        yield hm


def test_the_change_supersedes_with_history(lee: Hypermnesia) -> None:
    facts = lee.store.units(LEE)
    old = next(u for u in facts if u.granularity == Granularity.FACT and "quit coffee" in u.text)
    assert not old.is_current
    new = lee.store.get_one(LEE, old.superseded_by or "")
    assert "espressos" in new.text and new.is_current
    events = lee.store.history(LEE, old.id)
    assert any(e.op == "supersede" and "state change" in (e.reason or "") for e in events)


def test_the_present_gets_the_new_state_and_the_past_the_old(lee: Hypermnesia) -> None:
    now = lee.recall(LEE, "Does Lee drink coffee?").evidence
    assert "espressos" in now[0].text and "successor" in now[0].source
    assert any("quit coffee" in e.text for e in now[1:])  # still there, below the new state
    then = lee.recall(LEE, "When did Lee quit coffee?").evidence
    assert "quit coffee" in then[0].text


def test_a_stale_turn_off_the_question_promotes_nothing(lee: Hypermnesia) -> None:
    """The March coffee turn is stale, but a question about Jo's cafe is not about coffee."""
    evidence = lee.recall(LEE, "Does Jo run a cafe?").evidence
    assert "cafe" in evidence[0].text
    assert not any("successor" in e.source for e in evidence)


def test_a_segment_quoting_a_stale_turn_gets_the_successor_above_it(lee: Hypermnesia) -> None:
    """A session segment that holds the March turn is as stale as the turn itself."""
    units = lee.store.units(LEE)
    segment = next(
        u for u in units if u.granularity == Granularity.SESSION and "D1:1" in u.provenance
    )
    espressos = next(
        u
        for u in units
        if u.granularity == Granularity.FACT and u.is_current and "espressos" in u.text
    )
    view = view_for(lee.store, LEE)
    ranked = [Candidate(unit_id=segment.id, score=1.0, sources=["dense"])]
    found = stale_turn_successors(
        lee.store, LEE, view, ranked, "Does Lee drink coffee?", frozenset(Granularity)
    )
    assert found == {segment.id: (espressos.id,)}
    assert [c["unit_id"] for c in prefer_successors(ranked, found)] == [espressos.id, segment.id]
    off_topic = stale_turn_successors(
        lee.store, LEE, view, ranked, "Does Jo run a cafe?", frozenset(Granularity)
    )
    assert off_topic == {}
