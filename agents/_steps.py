"""Helpers every agent uses to report a decision into the trace."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agents.results import WriteDecision
from memory.llm import LLMCall
from memory.llm_records import kept_text
from memory.traces import DecisionTrace, LLMCallTrace, TraceStep

__all__ = ["StepClock", "call_trace", "clock", "decision_traces", "step"]

_DECISION_TEXT = 1_000
"""Longest proposed-unit text a write step's decision keeps."""


class StepClock:
    """Measures how long an agent step took."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0


@contextmanager
def clock() -> Iterator[StepClock]:
    yield StepClock()


def call_trace(call: LLMCall) -> LLMCallTrace:
    """The trace's view of an LLM call record, with its messages and reply."""
    return LLMCallTrace(
        prompt=f"{call.prompt_name}.{call.prompt_version}",
        model=call.model,
        ok=call.ok,
        attempts=call.attempts,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        latency_ms=call.latency_ms,
        cost_usd=call.cost_usd,
        error=call.error,
        messages=[dict(m) for m in call.messages],
        response=call.response,
    )


def decision_traces(decisions: Sequence[WriteDecision]) -> list[DecisionTrace]:
    """The write judge's decisions as the trace keeps them (long texts cut)."""
    return [
        DecisionTrace(**d.model_dump(exclude={"text"}), text=kept_text(d.text, _DECISION_TEXT))
        for d in decisions
    ]


def step(
    agent: str,
    decision: str,
    reason: str,
    *,
    timer: StepClock | None = None,
    calls: list[LLMCall] | None = None,
    fallback: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """A ``TraceStep`` dump; ``details`` may hold ``inputs``, ``outputs``, ``retrieved`` and the
    explanations ``route``, ``candidates`` (read: ``CandidateTrace`` dumps, put in as they are;
    the engine validates every step before storing it) and ``decisions`` (write)."""
    trace = TraceStep(
        agent=agent,
        decision=decision,
        reason=reason,
        inputs=details.get("inputs", {}),
        outputs=details.get("outputs", {}),
        retrieved=details.get("retrieved", []),
        route=details.get("route", {}),
        decisions=details.get("decisions", []),
        llm_calls=[call_trace(c) for c in calls or []],
        fallback=fallback,
        duration_ms=timer.elapsed_ms if timer else 0.0,
    )
    dump = trace.model_dump(mode="json")
    dump["candidates"] = list(details.get("candidates", []))
    return dump
