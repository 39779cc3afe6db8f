"""The REST service's request and response bodies (they make its OpenAPI schema).

Requests are checked here, field by field, so a malformed body is a 422 naming the field before
anything is written. ``user_id`` / ``agent_id`` only count in local mode; with API keys the
namespace comes from the key and sending them is a 422.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from agents.recipes import RECIPES
from agents.results import Evidence, RecallResult
from memory.model import MAX_TEXT_CHARS, MemoryUnit, Turn, utcnow
from memory.traces import TraceRun, TraceStep

__all__ = [
    "MAX_TURNS",
    "DeleteOut",
    "ErrorOut",
    "EvidenceOut",
    "HealthOut",
    "HistoryOut",
    "RecallIn",
    "RecallOut",
    "RememberIn",
    "RememberOut",
    "RunOut",
    "RunsOut",
    "TurnIn",
    "UnitOut",
]

#: Most turns one request may carry.
MAX_TURNS = 500

Recipe = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
"""A named retrieval recipe (``full``, ``no-graph``…)."""


def _encodable(value: str) -> str:
    """JSON may carry lone surrogates, which no store can keep: refuse them here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


# Some text besides spaces, and no NUL (SQLite and Chroma would cut or refuse it).
_SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
_Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}$")]
_Short = Annotated[
    str, StringConstraints(pattern=_SOME_TEXT, max_length=128), AfterValidator(_encodable)
]
_Text = Annotated[
    str,
    StringConstraints(pattern=_SOME_TEXT, max_length=MAX_TEXT_CHARS),
    AfterValidator(_encodable),
]
# Short enough that a generated turn id, '<session_id>:<16 hex digits>', stays within 128.
_SessionId = Annotated[
    str, StringConstraints(pattern=_SOME_TEXT, max_length=100), AfterValidator(_encodable)
]
_Caption = Annotated[
    str,
    StringConstraints(pattern=r"^[^\x00]*$", max_length=MAX_TEXT_CHARS),
    AfterValidator(_encodable),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Scoped(_Strict):
    user_id: _Id | None = Field(default=None, description="Local mode only: the user.")
    agent_id: _Id | None = Field(default=None, description="Local mode only: the agent.")


class TurnIn(_Strict):
    """One turn of a conversation."""

    speaker: _Short
    text: _Text
    image_caption: _Caption | None = None
    id: _Short | None = Field(
        default=None, description="A turn id unique in the namespace (default: a random one)."
    )


class RememberIn(_Scoped):
    """Turns to remember, as one session."""

    session_id: _SessionId | None = Field(default=None, description="Default: api-<today>.")
    session_date: datetime | None = Field(
        default=None, description="When the session took place (ISO 8601; no offset means UTC)."
    )
    turns: list[TurnIn] = Field(min_length=1, max_length=MAX_TURNS)
    session_end: bool = True

    def engine_turns(self) -> list[Turn]:
        """The engine's turns: a session named after the day unless given, fresh ids."""
        session = self.session_id or f"api-{utcnow().date().isoformat()}"
        when = self.session_date
        return [
            Turn(
                id=t.id or f"{session}:{uuid.uuid4().hex[:16]}",
                session_id=session,
                speaker=t.speaker,
                text=t.text,
                image_caption=t.image_caption or None,
                session_time=when,
                index=i,
            )
            for i, t in enumerate(self.turns)
        ]


class RememberOut(BaseModel):
    """What the write did: one decision per proposed unit."""

    run_id: str
    turns: int
    turn_ids: list[str]
    decisions: list[dict[str, Any]]
    reflected: bool


class RecallIn(_Scoped):
    """A question to find evidence for."""

    question: _Text
    budget: int = Field(default=1000, ge=1, le=100_000, description="Token budget.")
    recipe: Recipe = "full"  # type: ignore[valid-type]
    max_iterations: int = Field(default=3, ge=1, le=10)


class EvidenceOut(BaseModel):
    """One piece of evidence, packed into the budget."""

    unit_id: str
    text: str
    score: float
    granularity: str
    provenance: list[str]
    date: datetime | None
    source: str
    current: bool
    tokens: int

    @classmethod
    def of(cls, e: Evidence) -> EvidenceOut:
        return cls(
            unit_id=e.unit_id,
            text=e.text,
            score=e.score,
            granularity=e.granularity,
            provenance=e.provenance,
            date=e.event_time,
            source=e.source,
            current=e.current,
            tokens=e.tokens,
        )


class RecallOut(BaseModel):
    """The evidence for a question, the judge's verdict and the run that found it."""

    evidence: list[EvidenceOut]
    verdict: str
    run_id: str
    question: str
    final_query: str
    tokens: int
    iterations: int
    route: dict[str, float]
    latency_ms: float

    @classmethod
    def of(cls, r: RecallResult) -> RecallOut:
        return cls(
            evidence=[EvidenceOut.of(e) for e in r.evidence],
            verdict=r.verdict,
            run_id=r.run_id,
            question=r.question,
            final_query=r.final_query,
            tokens=r.tokens,
            iterations=r.iterations,
            route=r.route,
            latency_ms=r.latency_ms,
        )


class DeleteOut(BaseModel):
    """What a delete removed (or, with ``dry_run``, would remove)."""

    requested: list[str]
    deleted: list[str]
    turns_deleted: list[str]
    dry_run: bool


class UnitOut(BaseModel):
    """A stored unit, as history shows it."""

    id: str
    granularity: str
    kind: str
    text: str
    provenance: list[str]
    event_time: datetime | None
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: str | None

    @classmethod
    def of(cls, u: MemoryUnit) -> UnitOut:
        return cls(
            id=u.id,
            granularity=u.granularity.value,
            kind=u.kind.value,
            text=u.text,
            provenance=list(u.provenance),
            event_time=u.event_time,
            valid_from=u.valid_from,
            valid_to=u.valid_to,
            superseded_by=u.superseded_by,
        )


class HistoryEventOut(BaseModel):
    at: datetime
    op: str
    reason: str | None
    unit_ids: list[str]


class HistoryOut(BaseModel):
    """Every change to a unit and to the units it replaced or was replaced by."""

    unit_id: str
    events: list[HistoryEventOut]
    units: list[UnitOut]


class RunOut(BaseModel):
    """A recorded graph run (``steps`` empty in lists)."""

    run_id: str
    graph: str
    namespace: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    steps: list[TraceStep]

    @classmethod
    def of(cls, run: TraceRun) -> RunOut:
        return cls.model_validate(run.model_dump())


class RunsOut(BaseModel):
    runs: list[RunOut]


class HealthOut(BaseModel):
    status: Literal["ok"]
    mode: Literal["keys", "local"]
    worker: int = Field(description="Process id of the worker that answered.")


class ErrorOut(BaseModel):
    """An error the service reports on purpose."""

    detail: str
