"""Replaying a recorded read: the same question, asked at the same time, with the same budget and
iterations, another way of retrieving, against the store as it is now; then the two evidence lists
compared (:mod:`graphs.evidence_diff`).

How the replay retrieves is one parameter object, :class:`ReadStrategy`: today a named recipe
(:mod:`agents.recipes`); another kind of strategy (a learned routing policy) adds its own fields
and the options it passes to ``recall``, and every caller of :func:`replay` takes it unchanged.
The replay is itself a recall, so it is recorded as a run of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents.recipes import get_recipe
from agents.results import RecallResult
from graphs.evidence_diff import EvidenceDiff, diff_evidence
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.model import Namespace
from memory.traces import TraceRun

if TYPE_CHECKING:
    from graphs.client import Hypermnesia

__all__ = ["ReadStrategy", "RecordedRead", "Replay", "compare", "replay"]


@dataclass(frozen=True)
class ReadStrategy:
    """How a replayed read retrieves: the retrieval recipe it runs."""

    recipe: str = "full"

    def __post_init__(self) -> None:
        get_recipe(self.recipe)  # an unknown name raises, listing the known ones

    @property
    def label(self) -> str:
        return f"recipe {self.recipe}"

    def recall_options(self) -> dict[str, Any]:
        """The keyword arguments of ``recall`` that make a read follow this strategy."""
        return {"recipe": self.recipe}


@dataclass(frozen=True)
class RecordedRead:
    """What a recorded read asked and the evidence it packed, best first."""

    run_id: str
    namespace: Namespace
    question: str
    budget: int
    max_iterations: int
    recipe: str
    evidence: list[tuple[str, float]]
    asked_at: datetime
    """When it was asked: the replay resolves relative dates ("last week") against the same day."""

    @classmethod
    def of(cls, run: TraceRun) -> RecordedRead:
        """The read ``run`` recorded; a write run, or one whose trace was erased, is refused."""
        if run.graph != "read":
            raise InvalidInputError(f"run {run.run_id} is a {run.graph} run; only reads replay")
        question = run.input.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InvalidInputError(f"run {run.run_id} has no question to replay (erased?)")
        packed = [s for s in run.steps if s.agent == "retriever"]
        return cls(
            run_id=run.run_id,
            namespace=Namespace.parse(run.namespace),
            question=question,
            budget=int(run.input.get("budget", 1000)),
            max_iterations=int(run.input.get("max_iterations", 3)),
            recipe=str(run.input.get("recipe", "full")),
            evidence=[(uid, float(score)) for uid, score in packed[-1].retrieved] if packed else [],
            asked_at=_asked_at(run),
        )


@dataclass(frozen=True)
class Replay:
    """A recorded read, the strategy it was replayed with, the new recall and the diff."""

    recorded: RecordedRead
    strategy: ReadStrategy
    result: RecallResult
    diff: EvidenceDiff

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.recorded.run_id,
            "replay_run_id": self.result.run_id,
            "question": self.recorded.question,
            "asked_at": self.recorded.asked_at.isoformat(),
            "recorded_recipe": self.recorded.recipe,
            "strategy": asdict(self.strategy),
            "before": [{"unit_id": u, "score": s} for u, s in self.recorded.evidence],
            "after": [e.model_dump(mode="json") for e in self.result.evidence],
            "diff": self.diff.as_dict(),
        }


def compare(recorded: RecordedRead, strategy: ReadStrategy, result: RecallResult) -> Replay:
    """The replay of ``recorded`` that produced ``result``, with its evidence diff."""
    before = [uid for uid, _ in recorded.evidence]
    diff = diff_evidence(before, [e.unit_id for e in result.evidence])
    return Replay(recorded, strategy, result, diff)


def replay(
    hm: Hypermnesia, run_id: str, strategy: ReadStrategy, *, namespace: Namespace | None = None
) -> Replay:
    """Run the read ``run_id`` recorded again with ``strategy``, and compare.

    With ``namespace`` a run of another namespace is reported as missing, like an unknown one.
    """
    run = hm.traces.get(run_id)
    if namespace is not None and run.namespace != namespace.key:
        raise UnitNotFoundError(f"no trace run {run_id!r}")
    recorded = RecordedRead.of(run)
    result = hm.recall(
        recorded.namespace,
        recorded.question,
        budget=recorded.budget,
        max_iterations=recorded.max_iterations,
        asked_at=recorded.asked_at,
        **strategy.recall_options(),
    )
    return compare(recorded, strategy, result)


def _asked_at(run: TraceRun) -> datetime:
    """The recorded question time; a run recorded before reads kept it was asked when it began."""
    asked = run.input.get("asked_at")
    if isinstance(asked, str):
        try:
            return datetime.fromisoformat(asked)
        except ValueError:
            pass
    return run.started_at
