"""The write path: constructor → judge gate → refresher (→ reflector), deterministic mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.constructor import split_clauses
from agents.slots import detect_slot, fact_subject
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Turn, UnitFilter, UnitKind

from .agent_fixtures import SAM, ingest_sample

FACTS = UnitFilter(granularities=frozenset({Granularity.FACT}))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        yield hm


def test_relative_dates_resolve_against_the_session_date(engine: Hypermnesia) -> None:
    ingest_sample(engine)
    adopted = [u for u in engine.store.units(SAM, FACTS) if "adopted a beagle" in u.text]
    assert len(adopted) == 1
    assert "7 May 2023" in adopted[0].text
    assert adopted[0].event_time is not None
    assert adopted[0].event_time.date().isoformat() == "2023-05-07"
    assert adopted[0].provenance == ("S1:3",)


def test_moving_supersedes_the_old_home_and_keeps_history(engine: Hypermnesia) -> None:
    ingest_sample(engine)
    facts = engine.store.units(SAM, FACTS)
    boston = next(u for u in facts if "Boston" in u.text and "moved" in u.text)
    assert not boston.is_current and boston.superseded_by is not None
    denver = engine.store.get_one(SAM, boston.superseded_by)
    assert "Denver" in denver.text and denver.is_current
    ops = [e.op for e in engine.history(SAM, denver.id)]
    assert ops == ["put", "supersede"]


def test_replaying_a_session_changes_nothing(engine: Hypermnesia) -> None:
    ingest_sample(engine)
    before = engine.store.stats(SAM)
    turns = engine.store.turns(SAM)
    result = engine.remember(SAM, [t for t in turns if t.session_id == "S1"], session_end=True)
    assert {d.decision for d in result.decisions} <= {"skip", "update"}
    after = engine.store.stats(SAM)
    assert (after.units, after.turns) == (before.units, before.turns)


def test_a_repeated_fact_is_merged_not_duplicated(engine: Hypermnesia) -> None:
    when = datetime(2023, 5, 8, tzinfo=UTC)
    first = Turn(
        id="A:1", session_id="A", speaker="Sam", text="I am allergic to peanuts.", session_time=when
    )
    again = Turn(
        id="B:1", session_id="B", speaker="Sam", text="I am allergic to peanuts.", session_time=when
    )
    engine.remember(SAM, [first])
    result = engine.remember(SAM, [again])
    dup = [d for d in result.decisions if d.decision == "duplicate"]
    assert len(dup) == 1
    kept = engine.store.get_one(SAM, dup[0].target_id or "")
    assert set(kept.provenance) == {"A:1", "B:1"}
    # the original, the duplicate as written, then the merge that folded one into the other
    assert [e.op for e in engine.history(SAM, kept.id)] == ["put", "put", "merge"]


def test_reflection_writes_linked_inferences_and_never_touches_evidence(
    engine: Hypermnesia,
) -> None:
    ingest_sample(engine)
    evidence_before = {u.id: u for u in engine.store.units(SAM) if u.kind == UnitKind.EVIDENCE}
    result = engine.reflect(SAM)
    assert result.reflected
    inferences = [u for u in engine.store.units(SAM) if u.kind == UnitKind.INFERENCE]
    assert inferences, "the sample conversation has recurring topics to reflect on"
    for unit in inferences:
        assert unit.derived_from, "an inference must link to its evidence"
        assert set(unit.derived_from) <= set(evidence_before)
    after = {u.id: u for u in engine.store.units(SAM) if u.kind == UnitKind.EVIDENCE}
    assert after == evidence_before


def test_trace_records_every_agent_of_the_write(engine: Hypermnesia) -> None:
    turns = [Turn(id="X:1", session_id="X", speaker="Sam", text="I live in Boston.")]
    result = engine.remember(SAM, turns)
    run = engine.traces.get(result.run_id)
    assert [s.agent for s in run.steps][:3] == ["constructor", "judge", "refresher"]
    assert run.status == "ok"


def test_slots_and_clauses() -> None:
    assert split_clauses("Sam moved to Boston and Sam works at Mass General.", ["Sam"]) == [
        "Sam moved to Boston.",
        "Sam works at Mass General.",
    ]
    assert split_clauses("Sam likes tea and coffee.", ["Sam"]) == ["Sam likes tea and coffee."]
    slot = detect_slot("Big news: Sam moved to Denver last month.", "Sam")
    assert slot is not None and (slot.attribute, slot.value) == ("lives_in", "denver")
    assert fact_subject("Big news: Sam moved to Denver.", "Sam", ("Denver",)) == "Sam"
    assert detect_slot("She lives in Cambridge.", "she") is None
