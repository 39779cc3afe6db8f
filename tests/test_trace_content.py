"""What traces keep for the viewer: every candidate of a read explained, the write judge's decision
per proposed unit, each LLM call's messages and reply — and forgetting still erases all of it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.retrieval import Hit, SourceHits, build_view, pack
from agents.retrieval.explain import explain_candidates
from agents.retrieval.pack import (
    BUDGET_SPENT,
    DUPLICATE,
    MIN_ROOM,
    PACKED,
    REPLACED,
    UPGRADED,
)
from agents.state import Candidate
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.fake_llm import ScriptedLLM
from memory.llm_records import MAX_KEPT_CHARS, kept_text
from memory.model import Granularity, Namespace, Turn, make_unit
from memory.settings import Settings
from memory.traces import CandidateTrace
from prompts.judge import SufficiencyVerdict
from prompts.retriever import QueryAnalysis
from tests.agent_fixtures import SAM, ingest_sample

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
NS = Namespace(user_id="sam")


def _explain(*args: Any, **kwargs: Any) -> list[CandidateTrace]:
    """explain_candidates, each dict checked to be exactly a CandidateTrace's JSON dump."""
    dumps = explain_candidates(*args, **kwargs)
    traces = [CandidateTrace.model_validate(d) for d in dumps]
    assert [t.model_dump(mode="json") for t in traces] == dumps
    assert all(list(d) == list(CandidateTrace.model_fields) for d in dumps)
    return traces


def _c(uid: str, score: float) -> Candidate:
    return Candidate(unit_id=uid, score=score, sources=["dense"])


def _unit(text: str, turn: str, granularity: Granularity = Granularity.FACT) -> object:
    return make_unit(NS, granularity, text, provenance=[turn], speaker="Sam", event_time=MAY_8)


def test_each_candidate_keeps_its_source_ranks_stages_weight_and_outcome() -> None:
    a, b, c = (_unit(t, f"D1:{n}") for n, t in enumerate(["alpha", "beta", "gamma"]))
    units = {u.id: u for u in (a, b, c)}  # type: ignore[attr-defined]
    ids = list(units)
    lists = [
        SourceHits("dense", 1.0, [Hit(ids[1], 0.9), Hit(ids[0], 0.5)]),
        SourceHits("lexical", 1.0, [Hit(ids[0], 7.0)]),
    ]
    merged = [_c(ids[0], 0.3), _c(ids[1], 0.2), _c(ids[2], 0.1)]
    stages = {"fused": [_c(ids[0], 0.03), _c(ids[1], 0.02)], "context": merged}
    view = build_view(units, [])
    outcomes: dict[str, str] = {}
    # room for the first two, then less than MIN_ROOM: the third is not reached
    budget = view.token_count(units[ids[0]]) + view.token_count(units[ids[1]]) + MIN_ROOM - 1
    packed = pack(merged, view, budget, dedupe_provenance=True, outcomes=outcomes)
    route = {"fact": 1.2}
    out = _explain(merged, lists, stages, route, units, outcomes, packed)
    assert [t.unit_id for t in out] == ids and [t.rank for t in out] == [1, 2, 3]
    first, second, third = out
    assert first.source_ranks == {"dense": 2, "lexical": 1}
    assert first.source_scores == {"dense": 0.5, "lexical": 7.0}
    assert second.source_ranks == {"dense": 1} and third.source_ranks == {}
    assert first.stages == {"fused": 0.03, "context": 0.3} and third.stages == {"context": 0.1}
    assert first.weight == 1.2 and first.score == 0.3
    assert [t.outcome for t in out] == [PACKED, PACKED, BUDGET_SPENT]
    assert _explain(merged, lists, stages, {}, units, outcomes, packed)[0].weight is None


def test_the_explanation_is_bounded_but_keeps_every_packed_unit() -> None:
    units = {u.id: u for u in (_unit(f"fact number {n}", f"D1:{n}") for n in range(30))}  # type: ignore[attr-defined]
    ids = list(units)
    merged = [_c(uid, 1.0 / (n + 1)) for n, uid in enumerate(ids)]
    view = build_view(units, [])
    packed = pack(merged[25:26], view, 500, dedupe_provenance=True)
    out = _explain(merged, [], {}, {}, units, {ids[25]: PACKED}, packed, limit=10)
    assert [t.rank for t in out] == [*range(1, 11), 26]
    assert out[-1].outcome == PACKED


def test_pack_says_why_a_candidate_was_skipped_or_upgraded() -> None:
    turn = make_unit(
        NS, Granularity.TURN, "I adopted a beagle named Biscuit.", provenance=["D1:1"],
        speaker="Sam", event_time=MAY_8,
    )  # fmt: skip
    fact = _unit("Sam adopted a beagle.", "D1:1")
    second = _unit("Biscuit is a beagle.", "D1:1")
    units = {u.id: u for u in (turn, fact, second)}  # type: ignore[attr-defined]
    view = build_view(units, [])
    outcomes: dict[str, str] = {}
    ranked = [_c(fact.id, 1.0), _c(second.id, 0.9), _c(turn.id, 0.8)]  # type: ignore[attr-defined]
    packed = pack(ranked, view, 500, dedupe_provenance=True, outcomes=outcomes)
    assert [p.unit.id for p in packed] == [turn.id]  # type: ignore[attr-defined]
    assert outcomes == {fact.id: REPLACED, second.id: UPGRADED, turn.id: DUPLICATE}  # type: ignore[attr-defined]
    out = _explain(ranked, [], {}, {}, units, outcomes, packed)
    assert [t.outcome for t in out] == [REPLACED, UPGRADED, PACKED]  # the turn is what was packed


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        yield hm


def test_a_recall_trace_explains_its_candidates(engine: Hypermnesia) -> None:
    result = engine.recall(SAM, "Where does Maya work?", budget=200)
    run = engine.traces.get(result.run_id)
    reads = [s for s in run.steps if s.agent == "retriever"]
    last = reads[-1]
    assert last.candidates and last.route
    packed = [c.unit_id for c in last.candidates if c.outcome == PACKED]
    assert packed == [e.unit_id for e in result.evidence]
    assert [c.rank for c in last.candidates] == list(range(1, len(last.candidates) + 1))
    assert all(c.stages["fused"] > 0 for c in last.candidates if c.source_ranks)
    assert any(c.outcome != PACKED for c in last.candidates)  # a small budget leaves some out
    dense = [c.source_ranks["dense"] for c in last.candidates if "dense" in c.source_ranks]
    assert min(dense) == 1


def test_write_runs_are_checkpointed_and_read_runs_only_traced(
    engine: Hypermnesia, tmp_path: Path
) -> None:
    wrote = engine.remember(SAM, [_turn("D9:2", "I started pottery classes on Tuesdays.")])
    read = engine.recall(SAM, "What classes did Sam start?")
    with sqlite3.connect(tmp_path / "checkpoints.sqlite3") as db:
        threads = {r[0] for r in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert wrote.run_id in threads and read.run_id not in threads
    assert [s.agent for s in engine.traces.get(read.run_id).steps][:2] == ["retriever", "judge"]


def test_a_write_trace_keeps_each_decision_with_the_unit_it_matched(engine: Hypermnesia) -> None:
    again = engine.remember(SAM, [_turn("D9:1", "I'm allergic to peanuts, so no peanuts please.")])
    run = engine.traces.get(again.run_id)
    judge = next(s for s in run.steps if s.agent == "judge")
    assert judge.decisions and {d.unit_id for d in judge.decisions} >= {
        d.unit_id for d in again.decisions if d.decision != "skip"
    }
    matched = [d for d in judge.decisions if d.target_id]
    for d in matched:
        assert d.decision in ("duplicate", "update") and d.reason and d.text


def _turn(turn_id: str, text: str) -> Turn:
    return Turn(id=turn_id, session_id="S9", speaker="Sam", text=text, session_time=MAY_8)


def test_llm_calls_keep_their_messages_and_reply(tmp_path: Path) -> None:
    verdict = SufficiencyVerdict(
        sufficient=True, reason="it says so", refined_query=None, conflicting_ids=[]
    )
    llm = ScriptedLLM([QueryAnalysis(rewritten_query="beagle adoption"), verdict])
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        hm.llm = llm
        result = hm.recall(SAM, "When did Sam adopt Biscuit?")
        calls = [c for s in hm.traces.get(result.run_id).steps for c in s.llm_calls]
    assert [c.prompt.split(".v")[0] for c in calls] == ["retriever.analyze", "judge.sufficiency"]
    analyze, judge = calls
    assert analyze.messages == llm.calls[0].messages
    assert "Biscuit" in analyze.messages[-1]["content"]
    assert analyze.response is not None and "beagle adoption" in analyze.response
    assert any(e.unit_id in judge.messages[-1]["content"] for e in result.evidence)
    assert judge.response is not None and "it says so" in judge.response


def test_long_texts_are_cut_and_say_so() -> None:
    long = "x" * (MAX_KEPT_CHARS + 5)
    kept = kept_text(long)
    assert kept.startswith("x" * MAX_KEPT_CHARS) and kept.endswith("[5 more characters not kept]")
    assert kept_text("short") == "short"


def _raw(folder: Path) -> bytes:
    return b"".join(p.read_bytes().lower() for p in folder.rglob("*") if p.is_file())


def test_forgetting_erases_runs_that_only_ranked_a_unit_and_the_prompts_quoting_it(
    tmp_path: Path,
) -> None:
    settings = Settings(embedder="fake", llm_model=None)
    secret = "my quokka Thelonious sleeps inside the zeppelin hangar"
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        hm.remember(SAM, [_turn("D9:1", f"By the way, {secret}.")])
        hm.flush()
        turn = next(
            u for u in hm.store.units(SAM)
            if u.provenance == ("D9:1",) and u.granularity == Granularity.TURN
        )  # fmt: skip
        ranked_only = hm.recall(SAM, "Where does Maya work? quokka", budget=20)
        steps = hm.traces.get(ranked_only.run_id).steps
        assert turn.id not in {e.unit_id for e in ranked_only.evidence}
        assert turn.id in {c.unit_id for s in steps for c in s.candidates}
        hm.llm = ScriptedLLM(
            [
                QueryAnalysis(rewritten_query="quokka"),
                SufficiencyVerdict(
                    sufficient=True, reason="ok", refined_query=None, conflicting_ids=[]
                ),
            ]
        )
        quoted = hm.recall(SAM, "Where does the quokka sleep?")
        hm.llm = None
        assert b"zeppelin" in _raw(tmp_path)
        hm.forget(SAM, [turn.id])
        for run_id in (ranked_only.run_id, quoted.run_id):
            (step,) = hm.traces.get(run_id).steps
            assert step.decision == "erased"
    assert b"zeppelin" not in _raw(tmp_path) and b"thelonious" not in _raw(tmp_path)
