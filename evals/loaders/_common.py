"""What every loader returns: a dataset of conversations and questions, with an account of what was
skipped or repaired on the way."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from evals.systems import Conversation, Question
from memory.conversations import clean_text, read_json
from memory.errors import InvalidInputError

__all__ = [
    "Dataset",
    "EvidenceRepairs",
    "SkippedQuestion",
    "clean_text",
    "read_json",
]


@dataclass(frozen=True)
class SkippedQuestion:
    """A question left out of the retrieval metrics, and why."""

    question: Question
    reason: str


@dataclass
class EvidenceRepairs:
    """Counts of what evidence normalisation did, for the report."""

    counts: Counter[str] = field(default_factory=Counter)

    def note(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


@dataclass(frozen=True)
class Dataset:
    """Conversations and the questions asked about them.

    ``questions`` holds the questions with at least one valid evidence turn; the others are in
    ``skipped``. ``categories`` is the display order; ``overall_categories`` are the ones averaged
    into ``overall`` (the rest, e.g. LoCoMo's adversarial questions, are reported on their own).
    """

    name: str
    source: str
    conversations: tuple[Conversation, ...]
    questions: tuple[Question, ...]
    skipped: tuple[SkippedQuestion, ...]
    categories: tuple[str, ...]
    overall_categories: frozenset[str]
    evidence_repairs: dict[str, int]

    def limited(self, n_conversations: int | None) -> Dataset:
        """The same dataset cut to its first ``n_conversations`` conversations."""
        if n_conversations is None or n_conversations >= len(self.conversations):
            return self
        if n_conversations < 1:
            raise InvalidInputError(f"limit_conversations must be >= 1, got {n_conversations}")
        keep = {c.id for c in self.conversations[:n_conversations]}
        return Dataset(
            name=self.name,
            source=self.source,
            conversations=self.conversations[:n_conversations],
            questions=tuple(q for q in self.questions if q.conversation_id in keep),
            skipped=tuple(s for s in self.skipped if s.question.conversation_id in keep),
            categories=self.categories,
            overall_categories=self.overall_categories,
            evidence_repairs=self.evidence_repairs,
        )
