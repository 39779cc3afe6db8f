"""Answer prompt: a short answer from retrieved evidence, for the chatbot and the evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from prompts.registry import (
    EvidenceItem,
    Messages,
    evidence_lines,
    register,
    require_text,
    system_prompt,
)

__all__ = ["NOT_MENTIONED", "RESPOND", "AnswerOut", "respond_v1"]

NOT_MENTIONED = "not mentioned"
"""The answer when the evidence does not hold it."""


class AnswerOut(BaseModel):
    """A short answer and the evidence ids it rests on."""

    answer: str
    evidence_ids: list[str] = Field(default_factory=list)


_RESPOND_V1 = (
    "Answer the question from the evidence only, in a few words. Dates as written in the "
    f'evidence. If the evidence does not contain the answer, answer "{NOT_MENTIONED}". '
    "evidence_ids are the ids of the evidence used."
)


def respond_v1(question: str, evidence: Sequence[EvidenceItem]) -> Messages:
    """Messages asking for a short answer to ``question`` from ``evidence``."""
    question = require_text("question", question)
    listed = evidence_lines(evidence) if evidence else "(no evidence)"
    return [
        {"role": "system", "content": system_prompt(_RESPOND_V1, AnswerOut)},
        {"role": "user", "content": f"Evidence:\n{listed}\nQuestion: {question}"},
    ]


RESPOND = register("answer.respond", "v1", AnswerOut, respond_v1)
