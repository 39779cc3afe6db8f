"""Questions about the present put the current value of the attribute they ask about first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.retrieval.current import asked_attributes, asked_subjects, prefer_current
from agents.slots import _by_slot, _slots_after, current_slot_holders
from agents.state import Candidate
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Turn, make_unit

from .agent_fixtures import SAM, ingest_sample


@pytest.mark.parametrize(
    ("question", "attributes"),
    [
        ("Where does Sam live now?", ("lives_in",)),
        ("Where does Sam live?", ("lives_in",)),
        ("Which city is Sam based in these days?", ("lives_in",)),
        ("What is Sam's job?", ("job",)),
        ("Where does Maya work now?", ("job",)),
        ("Is Sam still married?", ("relationship",)),
        ("How old is Sam now?", ("age",)),
        ("Where did Sam live in May 2023?", ()),
        ("What was Sam's first job?", ()),
        ("Where did Sam use to work before the move?", ()),
        ("What does Sam like to cook?", ()),
        ("When has Sam lost his job?", ()),
        ("How long has Sam worked at the hospital?", ()),
        ("How often does Sam work out?", ()),
    ],
)
def test_present_tense_questions_name_the_attribute_they_ask_about(
    question: str, attributes: tuple[str, ...]
) -> None:
    assert asked_attributes(question) == attributes


@pytest.mark.parametrize(
    ("question", "subjects"),
    [
        ("Where does Sam live now?", ["Sam"]),
        ("What is Sam's job?", ["Sam"]),
        ("How old is Sam?", ["Sam"]),
        ("Where does the person who helped Sam pick Biscuit work?", []),
        ("Where does Maya's boyfriend work?", []),
    ],
)
def test_the_subject_is_the_name_the_question_asks_about(
    question: str, subjects: list[str]
) -> None:
    assert asked_subjects(question, ["Sam", "Biscuit", "Maya"]) == subjects


def _c(uid: str, score: float) -> Candidate:
    return Candidate(unit_id=uid, score=score, sources=["dense"])


def test_current_holders_go_first_in_their_own_order_and_the_rest_keep_theirs() -> None:
    ranked = [_c("a", 0.9), _c("b", 0.5), _c("c", 0.4), _c("d", 0.2), _c("e", 0.1)]
    out = prefer_current(ranked, frozenset({"d", "c"}))
    assert [c["unit_id"] for c in out] == ["c", "d", "a", "b", "e"]
    assert prefer_current(ranked, frozenset()) == ranked


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypermnesia]:
    with Hypermnesia.open(tmp_path_factory.mktemp("current"), embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        yield hm


def test_where_someone_lives_now_is_answered_by_the_current_fact_first(
    engine: Hypermnesia,
) -> None:
    first = engine.recall(SAM, "Where does Sam live now?").evidence[0]
    assert "Denver" in first.text and first.granularity == "fact"
    job = engine.recall(SAM, "What is Sam's job now?").evidence[0]
    assert "Denver Health" in job.text


def test_the_stage_is_traced_and_can_be_switched_off(engine: Hypermnesia) -> None:
    on = engine.recall(SAM, "Where does Sam live now?")
    off = engine.recall(SAM, "Where does Sam live now?", recipe="no-current")
    assert on.evidence[0].unit_id != off.evidence[0].unit_id
    step = next(s for s in engine.traces.get(on.run_id).steps if s.agent == "retriever")
    top = step.candidates[0]
    assert top.unit_id == on.evidence[0].unit_id
    assert top.stages["current"] > top.stages["fused"]


def test_slot_holders_brought_forward_by_a_write_equal_a_rebuild(tmp_path: Path) -> None:
    """The cached slot holders follow each write by what it changed, not by a rebuild."""
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        before = current_slot_holders(hm.store, SAM)  # cached at this version
        when = datetime(2023, 11, 2, 10, tzinfo=UTC)
        moved = Turn(id="D9:1", session_id="S9", speaker="Sam", text="I moved to Austin.")
        hm.remember(SAM, [moved.model_copy(update={"session_time": when})])
        after = current_slot_holders(hm.store, SAM)
        rebuilt = _by_slot(hm.store.current_units(SAM).values())

        def ids(holders: Mapping[str, tuple[MemoryUnit, ...]]) -> dict[str, set[str]]:
            return {key: {u.id for u in group} for key, group in holders.items()}

        assert ids(after) == ids(rebuilt) != ids(before)
        assert any("Austin" in u.text for u in after["sam|lives_in"])


def test_slots_after_drops_closed_and_deleted_holders_and_adds_new_ones() -> None:
    boston = make_unit(SAM, Granularity.FACT, "Sam lives in Boston.", entities=("Sam",))
    boston = boston.model_copy(update={"attribute": "lives_in=boston"})
    nurse = make_unit(SAM, Granularity.FACT, "Sam works as a nurse.", entities=("Sam",))
    nurse = nurse.model_copy(update={"attribute": "job=a nurse"})
    denver = make_unit(SAM, Granularity.FACT, "Sam moved to Denver.", entities=("Sam",))
    denver = denver.model_copy(update={"attribute": "lives_in=denver"})
    old = _by_slot([boston, nurse])
    closed = boston.closed(datetime(2023, 9, 1, tzinfo=UTC), denver.id)
    now = {closed.id: closed, denver.id: denver}  # the nurse fact was deleted
    after = _slots_after(old, [boston.id, denver.id, nurse.id], now)
    assert after == {"sam|lives_in": (denver,)}
    assert old == {"sam|lives_in": (boston,), "sam|job": (nurse,)}  # not mutated
