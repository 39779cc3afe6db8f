"""Judge prompts: is the evidence enough to answer (read path); is a new fact new (write path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from prompts.registry import (
    EvidenceItem,
    Messages,
    evidence_lines,
    register,
    require_text,
    system_prompt,
)

__all__ = [
    "SUFFICIENCY",
    "WRITE",
    "SufficiencyVerdict",
    "WriteVerdict",
    "sufficiency_v1",
    "write_v1",
]


class SufficiencyVerdict(BaseModel):
    """Whether the evidence answers the question, and what to search next if it does not."""

    sufficient: bool
    reason: str
    refined_query: str | None = None
    """A better search query when the evidence is not sufficient."""
    conflicting_ids: list[str] = Field(default_factory=list)
    """Ids of evidence items that contradict each other."""


class WriteVerdict(BaseModel):
    """How a proposed fact relates to the stored ones."""

    decision: Literal["new", "duplicate", "update", "conflict"]
    target_id: str | None = None
    """The stored fact it duplicates, updates or contradicts."""
    reason: str


_SUFFICIENCY_V1 = (
    "Decide whether the evidence is enough to answer the question. If not, give refined_query: "
    "a better search query. List in conflicting_ids the ids of evidence that contradict each "
    "other. reason is one short sentence."
)

_WRITE_V1 = (
    "Compare a new fact with similar stored facts. decision: new (not stored yet), duplicate "
    "(same meaning as a stored fact), update (a newer value of the same thing about the same "
    "subject), conflict (contradicts a stored fact). target_id is the id of that stored fact, "
    "or null for new. reason is one short sentence."
)


def sufficiency_v1(question: str, evidence: Sequence[EvidenceItem]) -> Messages:
    """Messages asking whether numbered ``evidence`` answers ``question``."""
    question = require_text("question", question)
    listed = evidence_lines(evidence) if evidence else "(no evidence)"
    return [
        {"role": "system", "content": system_prompt(_SUFFICIENCY_V1, SufficiencyVerdict)},
        {"role": "user", "content": f"Question: {question}\nEvidence:\n{listed}"},
    ]


def write_v1(fact: str, similar: Sequence[EvidenceItem]) -> Messages:
    """Messages asking how ``fact`` relates to the ``similar`` stored facts (with their ids)."""
    fact = require_text("fact", fact)
    listed = evidence_lines(similar) if similar else "(none)"
    return [
        {"role": "system", "content": system_prompt(_WRITE_V1, WriteVerdict)},
        {"role": "user", "content": f"New fact: {fact}\nStored facts:\n{listed}"},
    ]


SUFFICIENCY = register("judge.sufficiency", "v1", SufficiencyVerdict, sufficiency_v1)
WRITE = register("judge.write", "v1", WriteVerdict, write_v1)
