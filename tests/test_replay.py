"""Replaying a recorded read with another recipe, and the evidence diff, on stores whose answer is
known; the diff itself on hand-made lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import app
from graphs.client import Hypermnesia
from graphs.evidence_diff import DiffRow, diff_evidence
from graphs.replay import ReadStrategy, RecordedRead, replay
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.model import Namespace, Turn
from memory.settings import Settings
from tests.agent_fixtures import SAM, SAMPLE, ingest_sample

# -- the diff -------------------------------------------------------------------------------------


def test_identical_lists_are_unchanged() -> None:
    diff = diff_evidence(["a", "b", "c"], ["a", "b", "c"])
    assert diff.unchanged and diff.counts() == {"added": 0, "dropped": 0, "moved": 0, "kept": 3}


def test_added_dropped_and_a_slide_that_is_not_a_move() -> None:
    diff = diff_evidence(["a", "b", "c"], ["x", "a", "b"])
    assert diff.rows == (
        DiffRow("x", "added", None, 1),
        DiffRow("a", "kept", 1, 2),
        DiffRow("b", "kept", 2, 3),
        DiffRow("c", "dropped", 3, None),
    )
    assert diff.rows[1].shift == -1 and diff.rows[0].shift is None


def test_one_unit_jumping_to_the_top_moves_alone() -> None:
    diff = diff_evidence(["a", "b", "c", "d"], ["d", "a", "b", "c"])
    assert [(r.unit_id, r.change) for r in diff.rows] == [
        ("d", "moved"),
        ("a", "kept"),
        ("b", "kept"),
        ("c", "kept"),
    ]
    assert diff.of("moved")[0].shift == 3


def test_a_swap_and_empty_lists() -> None:
    assert {r.change for r in diff_evidence(["a", "b"], ["b", "a"]).rows} == {"kept", "moved"}
    assert diff_evidence([], ["a"]).counts()["added"] == 1
    assert diff_evidence(["a"], []).of("dropped") == [DiffRow("a", "dropped", 1, None)]
    assert diff_evidence([], []).unchanged


def test_a_unit_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'a' is listed twice in the after evidence"):
        diff_evidence(["a"], ["a", "a"])


def test_an_unknown_recipe_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="no-graph"):
        ReadStrategy(recipe="nope")
    assert ReadStrategy(recipe="no-graph").recall_options() == {"recipe": "no-graph"}


# -- replays on a store ---------------------------------------------------------------------------

QUESTION = "Where does Maya work?"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        hm.flush()
        yield hm


def test_replaying_with_the_same_recipe_changes_nothing(engine: Hypermnesia) -> None:
    asked = datetime(2023, 8, 20, 12, 0, tzinfo=UTC)
    question = "What did Sam do last month?"  # "last month" means July 2023 in both runs
    recorded = engine.recall(SAM, question, budget=300, max_iterations=2, asked_at=asked)
    again = replay(engine, recorded.run_id, ReadStrategy(recipe="full"))
    assert again.recorded.budget == 300 and again.recorded.max_iterations == 2
    assert again.recorded.asked_at == asked
    assert engine.traces.get(again.result.run_id).input["asked_at"] == asked.isoformat()
    assert [u for u, _ in again.recorded.evidence] == [e.unit_id for e in recorded.evidence]
    assert again.diff.unchanged and again.result.run_id != recorded.run_id


def test_turns_only_drops_every_fact_and_adds_only_turns(engine: Hypermnesia) -> None:
    recorded = engine.recall(SAM, "What is Sam allergic to?", budget=100)
    granularity = {e.unit_id: e.granularity for e in recorded.evidence}
    facts = {u for u, g in granularity.items() if g == "fact"}
    assert facts  # the full recipe packs the peanut fact
    done = replay(engine, recorded.run_id, ReadStrategy(recipe="turns-only"))
    dropped = {r.unit_id for r in done.diff.of("dropped")}
    assert facts <= dropped <= set(granularity)
    assert done.result.evidence and all(e.granularity == "turn" for e in done.result.evidence)
    now = {e.unit_id for e in done.result.evidence}
    assert {r.unit_id for r in done.diff.of("added")} == now - set(granularity)


def test_a_read_erased_by_forgetting_does_not_replay(engine: Hypermnesia) -> None:
    recorded = engine.recall(SAM, "What is Sam allergic to?", budget=150)
    engine.forget(SAM, [recorded.evidence[0].unit_id], compact=False)
    with pytest.raises(InvalidInputError, match="no question to replay"):
        replay(engine, recorded.run_id, ReadStrategy())


def test_a_replay_sees_the_store_as_it_is_now(engine: Hypermnesia) -> None:
    recorded = engine.recall(SAM, "What is the name of Maya's cat?", budget=150)
    when = datetime(2023, 9, 1, 10, 0, tzinfo=UTC)
    turn = Turn(
        id="D9:1", session_id="S9", speaker="Maya", text="Maya's cat is named Pickles.",
        session_time=when,
    )  # fmt: skip
    engine.remember(SAM, [turn])
    engine.flush()
    new = {u.id for u in engine.store.units(SAM) if u.provenance == ("D9:1",)}
    before = RecordedRead.of(engine.traces.get(recorded.run_id)).evidence
    assert new.isdisjoint(u for u, _ in before)
    done = replay(engine, recorded.run_id, ReadStrategy(recipe="full"))
    added = {r.unit_id for r in done.diff.of("added")}
    assert added & new  # the turn, or a fact of it, answers now
    assert {r.unit_id for r in done.diff.of("dropped")} == {
        u for u, _ in done.recorded.evidence
    } - {e.unit_id for e in done.result.evidence}


def test_only_reads_of_the_namespace_asked_replay(engine: Hypermnesia) -> None:
    recorded = engine.recall(SAM, QUESTION)
    other = Namespace(user_id="someone-else")
    with pytest.raises(UnitNotFoundError):
        replay(engine, recorded.run_id, ReadStrategy(), namespace=other)
    write = engine.traces.list_runs(SAM.key, limit=50)[-1]
    assert write.graph == "write"
    with pytest.raises(InvalidInputError, match="only reads replay"):
        RecordedRead.of(engine.traces.get(write.run_id))


# -- the command ----------------------------------------------------------------------------------


def test_traces_replay_prints_the_diff(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERMNESIA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("HYPERMNESIA_LLM_MODEL", raising=False)
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result

    cli("ingest", str(SAMPLE), "--user", "sam")
    run_id = json.loads(cli("recall", QUESTION, "--user", "sam", "--json").stdout)["run_id"]
    data = json.loads(cli("traces", "replay", run_id, "--recipe", "turns-only", "--json").stdout)
    assert data["run_id"] == run_id and data["strategy"] == {"recipe": "turns-only"}
    assert data["diff"]["counts"]["dropped"] >= 1
    assert all(e["granularity"] == "turn" for e in data["after"])
    table = cli("traces", "replay", run_id, "--recipe", "turns-only").stdout
    assert "dropped" in table and "replayed with recipe turns-only" in table
    same = cli("traces", "replay", run_id, "--recipe", "full").stdout
    assert "no change" in same
    bad = cli("traces", "replay", run_id, "--recipe", "nope", code=1)
    assert "unknown retrieval recipe 'nope'" in bad.output
    cli("traces", "replay", "run-nope", "--recipe", "full", code=1)
