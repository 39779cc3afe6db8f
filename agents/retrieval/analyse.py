"""Stage 1 of the read path: what a pass searches for.

The deterministic analysis finds the query's names (those the namespace knows first) and the days
it names; in LLM mode the first pass also asks ``retriever.analyze`` for a search text and more
names, and falls back to the question itself, loudly, when the model fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache

from agents.analysis import QueryAnalysis, analyze_query
from agents.retrieval.types import QueryPlan
from memory.llm import LLMClient
from prompts.retriever import ANALYZE
from prompts.retriever import QueryAnalysis as ModelQueryAnalysis

__all__ = ["cached_query_analysis", "plan_query"]


@lru_cache(maxsize=4096)
def cached_query_analysis(
    question: str, known: tuple[str, ...] = (), reference: date | None = None
) -> QueryAnalysis:
    """``analyze_query`` memoised: the retriever and the judge analyse the same text each pass.

    Relative dates resolve against ``reference`` (the day the question is asked); without one,
    only absolute dates are found.
    """
    return analyze_query(question, reference, known)


def plan_query(
    query: str,
    known_names: Sequence[str],
    *,
    temporal: bool,
    reference: datetime | None = None,
    llm: LLMClient | None = None,
) -> QueryPlan:
    """The plan of one pass; ``temporal`` keeps the days the query names (relative ones against
    ``reference``, the time the question was asked), ``llm`` rewrites the query."""
    day = reference.date() if reference is not None else None
    analysis = cached_query_analysis(query, tuple(known_names), day)
    spans = [(m.start, m.end) for m in analysis.dates] if temporal else []
    plan = QueryPlan(
        query=query,
        search_text=query,
        entities=list(analysis.entities),
        spans=spans,
        asks_when=analysis.qtype == "when",
        keywords=analysis.keywords,
    )
    if llm is None:
        return plan
    value, call, fallback = ANALYZE.run(
        llm, query, fallback=lambda: ModelQueryAnalysis(rewritten_query=query)
    )
    rewrite = value.rewritten_query.strip() or query
    search_text = f"{query} {rewrite}" if fallback is None and rewrite != query else query
    entities = plan.entities + [e for e in value.entities if e.strip() and e not in plan.entities]
    return replace(
        plan,
        search_text=search_text,
        entities=entities,
        calls=[call] if call else [],
        fallback=fallback,
    )
