"""What a question asks: its type, entities, dates, keywords, and temporal and multi-hop cues.

The retriever uses it to pick candidates (entities and keywords), to filter or boost by time
(dates), and to decide how wide to search: a temporal question wants dated evidence, a multi-hop
one ("both", "what activities", "how many times", "likely") wants several pieces of evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agents.analysis.dates import DateMention, resolve_dates
from agents.analysis.entities import extract_entities
from agents.analysis.keywords import content_tokens, keyphrases
from memory.errors import InvalidInputError

__all__ = ["QueryAnalysis", "QuestionType", "analyze_query"]

QuestionType = Literal[
    "who", "what", "which", "when", "where", "why", "how", "how_many", "how_long", "yes_no",
    "other",
]  # fmt: skip


class QueryAnalysis(BaseModel):
    """The analysis of one question."""

    model_config = ConfigDict(frozen=True)

    question: str
    qtype: QuestionType
    entities: tuple[str, ...]
    """Known names and proper nouns first, then topic phrases (see ``extract_entities``)."""
    dates: tuple[DateMention, ...]
    """Time expressions in the question, resolved against the reference when one is given."""
    keywords: tuple[str, ...]
    """Stemmed content words, in order, for lexical matching."""
    keyphrases: tuple[str, ...]
    temporal: bool
    """True when the question asks about a time, a duration or an order of events."""
    temporal_cues: tuple[str, ...]
    multi_hop: bool
    """True when the answer likely needs several pieces of evidence or an inference (a second
    person named is listed as a cue but is not enough on its own)."""
    multi_hop_cues: tuple[str, ...]


_LEAD = re.compile(r"^\W*(?:(?:so|and|but|hey|ok|okay|well|also)\b\W*)*", re.IGNORECASE)
_PREP = r"(?:(?:in|on|at|for|from|to|with|by|during|since|of|about|after|before|until)\s+)?"
_TYPES: list[tuple[re.Pattern[str], QuestionType]] = [
    (re.compile(rf"^{_PREP}how\s+(?:many|much|often)\b", re.I), "how_many"),
    (re.compile(rf"^{_PREP}how\s+long\b", re.I), "how_long"),
    (re.compile(rf"^{_PREP}(?:when|(?:what|which)\s+(?:year|month|day|date|time|week|season|"
                r"decade|age)s?)\b", re.I), "when"),
    (re.compile(rf"^{_PREP}(?:who|whom|whose)\b", re.I), "who"),
    (re.compile(rf"^{_PREP}where\b", re.I), "where"),
    (re.compile(rf"^{_PREP}why\b", re.I), "why"),
    (re.compile(rf"^{_PREP}which\b", re.I), "which"),
    (re.compile(rf"^{_PREP}what\b", re.I), "what"),
    (re.compile(rf"^{_PREP}how\b", re.I), "how"),
    (re.compile(r"^(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|should|"
                r"shall|may|might|must|isn't|aren't|wasn't|didn't|doesn't|don't|hasn't|haven't)\b",
                re.I), "yes_no"),
]  # fmt: skip
_ANYWHERE: list[tuple[re.Pattern[str], QuestionType]] = [
    (re.compile(r"\bhow\s+(?:many|much|often)\b", re.I), "how_many"),
    (re.compile(r"\bhow\s+long\b", re.I), "how_long"),
    (re.compile(r"\bwhen\b", re.I), "when"),
    (re.compile(r"\b(?:who|whom|whose)\b", re.I), "who"),
    (re.compile(r"\bwhere\b", re.I), "where"),
    (re.compile(r"\bwhy\b", re.I), "why"),
    (re.compile(r"\bwhich\b", re.I), "which"),
    (re.compile(r"\bwhat\b", re.I), "what"),
]

_TEMPORAL_CUES = re.compile(
    r"\b(?:when|how\s+long(?:\s+ago)?|what\s+(?:year|month|day|date|time|week|season)|"
    r"which\s+(?:year|month|day|date|week)|before|after|since|until|till|first|last\s+time|"
    r"ago|earlier|later|recently|lately|during|how\s+often|anniversary|birthday|"
    r"by\s+the\s+time|at\s+the\s+time|in\s+the\s+(?:past|future)|(?:this|last|next)\s+"
    r"(?:week|month|year|weekend))\b",
    re.IGNORECASE,
)
_MULTI_HOP_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bboth\b", re.I), "both"),
    (re.compile(r"\b(?:in\s+common|together|same|similar|compare|compared|differ\w*)\b", re.I),
     "comparison"),
    (re.compile(r"\b(?:all|every|each|list|names\s+of|kinds\s+of|types\s+of|ways)\b", re.I),
     "enumeration"),
    (re.compile(r"\bhow\s+many\b", re.I), "count"),
    (re.compile(r"\b(?:other\s+than|besides|apart\s+from|except|in\s+addition)\b", re.I),
     "exclusion"),
    (re.compile(r"\b(?:likely|would|might|could|probably|potentially|possibly|"
                r"suggest|infer)\b", re.I), "inference"),
    (re.compile(r"\b(?:ever|so\s+far|over\s+time|throughout|overall|total)\b", re.I),
     "aggregation"),
    (re.compile(r"^\W*(?:what|which)\s+(?:\w+\s+)?(?!(?:is|was|has|does|this|its|his)\b)"
                r"\w+[^\Ws]s\b", re.I), "plural answer"),
]  # fmt: skip


def _question_type(question: str) -> QuestionType:
    text = _LEAD.sub("", question)
    for pattern, qtype in _TYPES:
        if pattern.search(text):
            return qtype
    for pattern, qtype in _ANYWHERE:
        if pattern.search(text):
            return qtype
    return "other"


def analyze_query(
    question: str,
    reference: datetime | date | None,
    known_entities: Iterable[str] = (),
) -> QueryAnalysis:
    """Analyse ``question``; relative dates in it resolve against ``reference`` (the time the
    question is asked), and ``known_entities`` (speakers, stored entity names) are matched as in
    :func:`~agents.analysis.entities.extract_entities`.
    """
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError(f"question must be a non-empty string, not {question!r}")
    question = " ".join(question.split())
    qtype = _question_type(question)
    entities = extract_entities(question, known_entities)
    dates = resolve_dates(question, reference)
    temporal_cues = tuple(
        dict.fromkeys(m.group(0).lower() for m in _TEMPORAL_CUES.finditer(question))
    )
    multi_cues = [label for pattern, label in _MULTI_HOP_CUES if pattern.search(question)]
    people = [e for e in entities if e[:1].isupper()]
    if len(people) >= 2:
        multi_cues.append("several entities")
    return QueryAnalysis(
        question=question,
        qtype=qtype,
        entities=tuple(entities),
        dates=tuple(dates),
        keywords=tuple(content_tokens(question)),
        keyphrases=tuple(keyphrases(question)),
        temporal=qtype in ("when", "how_long") or bool(temporal_cues),
        temporal_cues=temporal_cues,
        multi_hop=any(cue != "several entities" for cue in multi_cues),
        multi_hop_cues=tuple(multi_cues),
    )
