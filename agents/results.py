"""What the graphs return to their callers: evidence for a question, decisions for a write."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Decision", "Evidence", "RecallResult", "RememberResult", "Verdict", "WriteDecision"]

Verdict = Literal["sufficient", "insufficient", "conflict"]
"""The read-path judge's verdict on the evidence of one retrieval pass."""
Decision = Literal["new", "duplicate", "update", "conflict", "skip"]
"""The write gate's decision on one proposed unit (``conflict``: stored, flagged, replaces
nothing)."""


class Evidence(BaseModel):
    """One retrieved unit, as packed into the token budget."""

    unit_id: str
    text: str
    """The text as presented in a prompt (with its date and speaker when known)."""
    granularity: str
    score: float
    source: str
    """Where it was found: ``dense``, ``lexical``, ``graph`` or several joined by ``+``."""
    provenance: list[str]
    event_time: datetime | None = None
    current: bool = True
    tokens: int


class RecallResult(BaseModel):
    """The evidence for a question and how it was found."""

    run_id: str
    question: str
    final_query: str
    evidence: list[Evidence]
    tokens: int
    iterations: int
    verdict: Verdict
    """The judge's last verdict: ``sufficient``, ``insufficient`` (gave up) or ``conflict``."""
    route: dict[str, float] = Field(default_factory=dict)
    """Weight given to each granularity by the router."""
    conflicts_resolved: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0
    fallbacks: list[str] = Field(default_factory=list)
    """One ``"agent: reason"`` per step whose LLM output was unusable (see
    :attr:`RememberResult.fallbacks`)."""
    route_action: dict[str, Any] = Field(default_factory=dict)
    """The routing action taken, with its log-probability and features (see agents.policy)."""


class WriteDecision(BaseModel):
    """What the judge gate decided for one proposed unit, and what the refresher did."""

    unit_id: str
    granularity: str
    text: str
    decision: Decision
    target_id: str | None = None
    reason: str


class RememberResult(BaseModel):
    """The outcome of writing a batch of turns."""

    run_id: str
    turns: int
    decisions: list[WriteDecision]
    reflected: bool = False
    """The reflector ran in this write."""
    reflection_pending: bool = False
    """This write made a reflection due, and it runs in the background after it."""
    llm_calls: int = 0
    llm_tokens: int = 0
    fallbacks: list[str] = []
    """One ``"agent: reason"`` per step whose LLM output was unusable, so it fell back to the
    deterministic agent (empty without an LLM: nothing to fall back from)."""
