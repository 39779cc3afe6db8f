"""Routing is pure: these tests need no store and no LLM."""

from __future__ import annotations

from agents.state import ReadState, WriteState
from graphs.routing import after_judge, after_refresh


def test_after_refresh_reflects_once() -> None:
    assert after_refresh(WriteState(reflect=True)) == "reflector"
    assert after_refresh(WriteState(reflect=True, reflect_done=True)) == "__end__"
    assert after_refresh(WriteState(reflect=False)) == "__end__"
    assert after_refresh(WriteState()) == "__end__"


def test_after_judge_iterates_while_insufficient_and_allowed() -> None:
    base = ReadState(question="q", max_iterations=3, iterative=True)
    assert after_judge({**base, "verdict": "insufficient", "iteration": 1}) == "retriever"
    assert after_judge({**base, "verdict": "insufficient", "iteration": 3}) == "__end__"
    assert after_judge({**base, "verdict": "sufficient", "iteration": 1}) == "__end__"


def test_after_judge_respects_a_recipe_without_iteration() -> None:
    state = ReadState(
        question="q", max_iterations=3, iterative=False, verdict="insufficient", iteration=1
    )
    assert after_judge(state) == "__end__"


def test_after_judge_sends_conflicts_to_the_refresher_but_not_forever() -> None:
    base = ReadState(question="q", max_iterations=2, iterative=True, verdict="conflict")
    assert after_judge({**base, "iteration": 1}) == "refresher"
    assert after_judge({**base, "iteration": 3}) == "__end__"
