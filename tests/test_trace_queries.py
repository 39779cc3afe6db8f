"""The trace store's queries behind the viewer: filtered and paged run lists, totals of the LLM
calls, the runs naming a unit; on hand-made runs whose answers are known, in SQLite and in
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memory.backends import TraceLog, open_trace_store
from memory.settings import Settings
from memory.traces import CandidateTrace, LLMCallTrace, TraceStep


def _call(tokens: int, cost: float | None) -> LLMCallTrace:
    return LLMCallTrace(
        prompt="judge.sufficiency.v1",
        model="m",
        ok=True,
        attempts=1,
        input_tokens=tokens,
        output_tokens=1,
        latency_ms=1.0,
        cost_usd=cost,
    )


@pytest.fixture
def store(tmp_path: Path, deployment: Settings) -> Iterator[TraceLog]:
    """The three runs below in the deployment's trace store."""
    traces = open_trace_store(tmp_path, deployment)
    try:
        _record(traces)
        yield traces
    finally:
        traces.close()


def _record(store: TraceLog) -> None:
    store.start("r1", "read", "sam/default", {"question": "Where does MAYA work?"})
    store.append(
        "r1",
        [
            TraceStep(agent="retriever", decision="d", reason="r", retrieved=[("u-packed", 0.5)],
                      candidates=[CandidateTrace(unit_id="u-ranked", rank=2, score=0.1,
                                                 outcome="skipped: over budget")],
                      llm_calls=[_call(10, 0.5), _call(5, 0.25)]),
            TraceStep(agent="judge", decision="d", reason="r", fallback="timeout",
                      llm_calls=[_call(7, 1.0)]),
        ],
    )  # fmt: skip
    store.finish("r1", "ok", {})
    store.start("r2", "write", "sam/default", {"turns": 3})
    store.append("r2", [TraceStep(agent="writer", decision="d", reason="wrote u-packed")])
    store.finish("r2", "failed", {})
    store.start("r3", "read", "max/bot", {"question": "Where is the key?"})
    store.append("r3", [TraceStep(agent="judge", decision="d", reason="r",
                                  llm_calls=[_call(3, None)])])  # fmt: skip


def test_runs_are_filtered_by_namespace_graph_status_text_and_time(store: TraceLog) -> None:
    def ids(**kw: object) -> list[str]:
        return [r.run_id for r in store.find_runs(**kw)]  # type: ignore[arg-type]

    assert ids() == ["r3", "r2", "r1"]
    assert ids(namespaces=["sam/default"]) == ["r2", "r1"] and ids(namespaces=[]) == []
    assert ids(graph="read") == ["r3", "r1"] and ids(status="failed") == ["r2"]
    assert ids(text="maya") == ["r1"]  # case ignored; runs without a question never match
    now = datetime.now(UTC)
    assert ids(since=now - timedelta(hours=1), until=now + timedelta(hours=1)) == ["r3", "r2", "r1"]
    assert ids(since=now + timedelta(hours=1)) == [] and ids(until=now - timedelta(hours=1)) == []
    assert ids(limit=2) == ["r3", "r2"] and ids(limit=2, offset=2) == ["r1"]
    assert store.namespaces() == ["max/bot", "sam/default"]


def test_totals_add_up_calls_tokens_cost_and_fallbacks(store: TraceLog) -> None:
    totals = store.totals(["r1", "r2", "r3", "r-none"])
    r1 = totals["r1"]
    assert (r1.steps, r1.llm_calls, r1.input_tokens, r1.output_tokens) == (2, 3, 22, 3)
    assert r1.cost_usd == 1.75 and r1.fallbacks == 1 and r1.tokens == 25
    assert (totals["r2"].steps, totals["r2"].llm_calls, totals["r2"].cost_usd) == (1, 0, 0.0)
    assert totals["r3"].cost_usd is None  # one call of unknown price
    assert totals["r-none"].steps == 0


def test_the_runs_naming_a_unit_say_whether_they_packed_it(store: TraceLog) -> None:
    packed = store.runs_with_unit("sam/default", "u-packed")
    assert [(r.run_id, p) for r, p in packed] == [("r2", False), ("r1", True)]
    assert [(r.run_id, p) for r, p in store.runs_with_unit("sam/default", "u-ranked")] == [
        ("r1", False)
    ]
    assert store.runs_with_unit("max/bot", "u-packed") == []
