"""The named values the read path passes from stage to stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, NamedTuple

from memory.llm import LLMCall
from memory.model import MemoryUnit

__all__ = ["DateSpan", "Hit", "Packed", "QueryPlan", "Source", "SourceHits"]

Source = Literal["dense", "topic", "lexical", "graph"]
"""Where a candidate was found; fusion may add ``context`` (a neighbour of a strong match)."""
DateSpan = tuple[date, date]
"""A closed interval of days a question names."""


class Hit(NamedTuple):
    """One unit found by one source, with that source's score."""

    unit_id: str
    score: float


@dataclass(frozen=True)
class SourceHits:
    """One source's ranking, best first, and its weight in the fusion."""

    name: Source
    weight: float
    hits: list[Hit]


@dataclass(frozen=True)
class QueryPlan:
    """What one retrieval pass searches for: its text, the names in it and the days it names."""

    query: str
    search_text: str
    """The text the dense and lexical sources search (the query, plus an LLM rewrite if any)."""
    entities: list[str]
    spans: list[DateSpan]
    calls: list[LLMCall] = field(default_factory=list)
    fallback: str | None = None
    """Why the LLM query analysis fell back to the deterministic one, when it did."""
    asks_when: bool = False
    """Whether the query asks when something happened."""
    current: frozenset[str] = frozenset()
    """Current facts holding the attribute a present-tense question asks about
    (:mod:`agents.retrieval.current`)."""
    keywords: tuple[str, ...] = ()
    """The query's stemmed content words (what the re-ranker counts in a unit's text)."""


@dataclass(frozen=True)
class Packed:
    """A unit as packed into the budget: its fused score, sources, its text as presented in a
    prompt, that text's token count and the turns that text quotes (the unit's provenance, or
    part of it when lines quoting turns packed before were left out)."""

    unit: MemoryUnit
    score: float
    sources: list[str]
    text: str
    tokens: int
    provenance: tuple[str, ...]
