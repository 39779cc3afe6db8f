"""Retriever prompts: what a question is about, before searching."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from prompts.registry import Messages, iso_day, register, require_text, system_prompt

__all__ = ["ANALYZE", "QueryAnalysis", "analyze_v1"]


class QueryAnalysis(BaseModel):
    """The parts of a question that steer retrieval."""

    entities: list[str] = Field(default_factory=list)
    time_expressions: list[str] = Field(default_factory=list)
    """Time phrases as written in the question (``last May``, ``in 2022``)."""
    keywords: list[str] = Field(default_factory=list)
    rewritten_query: str
    """The question as a short, self-contained search query."""


_ANALYZE_V1 = (
    "Analyze a question before searching a memory of conversations. entities: people, places, "
    "things named. time_expressions: time phrases as written. keywords: the important words. "
    "rewritten_query: a short search query for the question."
)


def analyze_v1(question: str, today: date | datetime | str | None = None) -> Messages:
    """Messages asking for the entities, times and keywords of ``question``."""
    question = require_text("question", question)
    when = f"Today: {iso_day(today)}\n" if today is not None else ""
    return [
        {"role": "system", "content": system_prompt(_ANALYZE_V1, QueryAnalysis)},
        {"role": "user", "content": f"{when}Question: {question}"},
    ]


ANALYZE = register("retriever.analyze", "v1", QueryAnalysis, analyze_v1)
