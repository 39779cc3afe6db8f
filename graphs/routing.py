"""Routing: pure functions of the state that pick each graph's next node."""

from __future__ import annotations

from typing import Literal

from agents.state import ReadState, WriteState

__all__ = ["after_judge", "after_refresh"]


def after_refresh(state: WriteState) -> Literal["reflector", "__end__"]:
    """Reflect once when the refresher found it due; otherwise the write is done."""
    if state.get("reflect") and not state.get("reflect_done"):
        return "reflector"
    return "__end__"


def after_judge(state: ReadState) -> Literal["retriever", "refresher", "__end__"]:
    """Conflicts go to the refresher; thin evidence goes back to the retriever while allowed."""
    iteration = state.get("iteration", 0)
    max_iterations = state.get("max_iterations", 3)
    iterative = state.get("iterative", True)
    if state.get("verdict") == "conflict" and iteration < max_iterations + 1:
        return "refresher"
    if state.get("verdict") == "insufficient" and iterative and iteration < max_iterations:
        return "retriever"
    return "__end__"
