"""The agents' state: what each node reads and the keys it returns.

Plain JSON-ready values only, so a checkpointer can persist every step.

Units travel as ``MemoryUnit.model_dump(mode="json")`` dicts; agents re-validate what they read.
Fields several nodes append to use the ``operator.add`` reducer.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from agents.results import Verdict

__all__ = ["JSON", "Candidate", "ReadState", "WriteState"]

JSON = dict[str, Any]


class WriteState(TypedDict, total=False):
    """State of the write graph: turns in, units decided and stored."""

    turns: list[JSON]
    """The raw turns of this write (``Turn`` dumps), already journaled."""
    session_end: bool
    """True when these turns close a session (the reflector may then run)."""
    proposed: list[JSON]
    """Units the constructor built, not yet judged."""
    verdicts: list[JSON]
    """The judge gate's decision per proposed unit (``WriteDecision`` dumps)."""
    applied: Annotated[list[JSON], operator.add]
    """What the refresher did, one ``WriteDecision`` dump per unit."""
    reflect: bool
    """Set by the refresher when the reflector is due and runs in this write."""
    reflect_due: bool
    """Set by the refresher when the reflector is due and the caller runs it later."""
    force_reflect: bool
    """Reflect on this run whatever the count of new facts (an on-demand reflection)."""
    reflect_done: bool
    """Set by the reflector so a run reflects at most once."""
    trace: Annotated[list[JSON], operator.add]
    """One ``TraceStep`` dump per agent decision."""


class Candidate(TypedDict):
    """A scored unit on the read path."""

    unit_id: str
    score: float
    sources: list[str]


class ReadState(TypedDict, total=False):
    """State of the read graph: a question in, packed evidence out."""

    question: str
    asked_at: str
    """When the question was asked (ISO 8601): relative dates in it resolve against this."""
    max_iterations: int
    """Retrieval passes allowed (from the run context)."""
    iterative: bool
    """Whether the judge may ask for another pass (from the recipe)."""
    query: str
    """The query of the current iteration (the question, then the judge's refinements)."""
    iteration: int
    passes: list[list[Candidate]]
    """Each pass's own ranking, oldest first."""
    candidates: list[Candidate]
    """The passes' rankings merged into one, best first."""
    evidence: list[JSON]
    """The candidates packed into the token budget (``Evidence`` dumps)."""
    route: dict[str, float]
    """Weight the router gave each granularity on the last pass."""
    route_action: JSON
    """The routing action of this run (name, log-probability, features), taken on the first pass
    and kept by the later ones (``RouteChoice.as_json``)."""
    verdict: Verdict
    conflicts: list[list[str]]
    """Groups of current unit ids that disagree on one entity's attribute."""
    resolved: Annotated[list[str], operator.add]
    """Unit ids the refresher closed to resolve conflicts on this run."""
    trace: Annotated[list[JSON], operator.add]
