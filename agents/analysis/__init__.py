"""Deterministic text analysis for the agents: dates, entities, keywords, segments, queries.

Pure functions, no LLM and no model download: regular expressions, a Snowball stemmer,
RAKE-style keyphrases, TextTiling segmentation and calendar arithmetic (python-dateutil).
"""

from __future__ import annotations

from agents.analysis.dates import (
    DateGranularity,
    DateMention,
    annotate_dates,
    format_day,
    parse_session_datetime,
    resolve_dates,
)
from agents.analysis.entities import entity_key, extract_entities, normalize_entity
from agents.analysis.keywords import (
    FILLER_WORDS,
    STOPWORDS,
    content_tokens,
    keyphrases,
    phrase_candidates,
    stem,
    tokenize,
)
from agents.analysis.query import QueryAnalysis, QuestionType, analyze_query
from agents.analysis.segment import atomic_facts, segment_session, split_sentences

__all__ = [
    "FILLER_WORDS",
    "STOPWORDS",
    "DateGranularity",
    "DateMention",
    "QueryAnalysis",
    "QuestionType",
    "analyze_query",
    "annotate_dates",
    "atomic_facts",
    "content_tokens",
    "entity_key",
    "extract_entities",
    "format_day",
    "keyphrases",
    "normalize_entity",
    "parse_session_datetime",
    "phrase_candidates",
    "resolve_dates",
    "segment_session",
    "split_sentences",
    "stem",
    "tokenize",
]
