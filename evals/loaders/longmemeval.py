"""Loader of the LongMemEval benchmark (``longmemeval_s.json`` / ``_m`` / ``_oracle`` format).

Each instance is one question with its own haystack of sessions, so each becomes a conversation of
its own. Turn ids are ``<session id>:<turn index>``; the gold evidence is the turns flagged
``has_answer`` (turn-level recall, as the benchmark defines it), never read by the system. The
``answer_session_ids`` are checked against the haystack. Abstention questions (ids ending in
``_abs``) are reported on their own, like LoCoMo's adversarial ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.loaders._common import (
    Dataset,
    EvidenceRepairs,
    SkippedQuestion,
    clean_text,
    read_json,
)
from evals.systems import Conversation, EvalTurn, Question
from memory.errors import InvalidInputError

__all__ = ["LONGMEMEVAL_CATEGORIES", "load_longmemeval"]

LONGMEMEVAL_CATEGORIES = (
    "single-session-user",
    "single-session-assistant",
    "single-session-preference",
    "multi-session",
    "temporal-reasoning",
    "knowledge-update",
    "abstention",
)
_OVERALL = frozenset(LONGMEMEVAL_CATEGORIES) - {"abstention"}
_REQUIRED = (
    "question_id",
    "question_type",
    "question",
    "haystack_session_ids",
    "haystack_dates",
    "haystack_sessions",
)
# "2023/05/20 (Sat) 02:21"
_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:\s*\(\w+\))?(?:\s+(\d{1,2}):(\d{2}))?$")


class _Malformed(Exception):
    """Raised inside the loader; turned into one InvalidInputError naming the file."""


def _parse_date(value: Any) -> datetime | None:
    match = _DATE.match(clean_text(value))
    if match is None:
        return None
    year, month, day, hour, minute = match.groups()
    try:
        return datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=UTC
        )
    except ValueError:
        return None


def _instance(item: Any, index: int, repairs: EvidenceRepairs) -> tuple[Conversation, Question]:
    if not isinstance(item, dict):
        raise _Malformed(f"element {index} is a {type(item).__name__}, not an object")
    missing = [k for k in _REQUIRED if k not in item]
    if missing:
        raise _Malformed(f"element {index} lacks {', '.join(missing)}")
    qid = clean_text(item["question_id"])
    session_ids, dates, sessions = (
        item["haystack_session_ids"],
        item["haystack_dates"],
        item["haystack_sessions"],
    )
    if not all(isinstance(x, list) for x in (session_ids, dates, sessions)):
        raise _Malformed(f"question {qid}: haystack fields must be lists")
    if not len(session_ids) == len(dates) == len(sessions):
        raise _Malformed(
            f"question {qid}: {len(session_ids)} session ids, {len(dates)} dates and "
            f"{len(sessions)} sessions; they must match"
        )
    turns: list[EvalTurn] = []
    evidence: list[str] = []
    for sid_raw, date, session in zip(session_ids, dates, sessions, strict=True):
        sid = clean_text(sid_raw)
        if not isinstance(session, list):
            raise _Malformed(f"question {qid}: session {sid} is not a list of turns")
        when = _parse_date(date)
        for n, raw in enumerate(session):
            if not isinstance(raw, dict) or "role" not in raw or "content" not in raw:
                raise _Malformed(f"question {qid}: session {sid} turn {n} lacks role or content")
            turn = EvalTurn(
                id=f"{sid}:{n}",
                session_id=sid,
                speaker=clean_text(raw["role"]),
                text=clean_text(raw["content"]),
                session_time=when,
                image_caption=None,
                index=n,
            )
            turns.append(turn)
            if raw.get("has_answer") is True:
                evidence.append(turn.id)
    known_sessions = {clean_text(s) for s in session_ids}
    stray = [s for s in item.get("answer_session_ids") or [] if clean_text(s) not in known_sessions]
    if stray:
        repairs.note("answer session ids not in the haystack", len(stray))
    category = "abstention" if qid.endswith("_abs") else clean_text(item["question_type"])
    if category not in LONGMEMEVAL_CATEGORIES:
        raise _Malformed(f"question {qid}: unknown question_type {item['question_type']!r}")
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    question = Question(
        id=qid,
        conversation_id=qid,
        text=clean_text(item["question"]),
        category=category,
        evidence=tuple(dict.fromkeys(evidence)),
        answer=clean_text(item.get("answer")) or None,
        asked_at=_parse_date(item.get("question_date")),
    )
    return Conversation(id=qid, turns=turns, speakers=speakers), question


def load_longmemeval(path: Path) -> Dataset:
    """Read a LongMemEval file; InvalidInputError names the file and the problem otherwise."""
    data = read_json(path, "LongMemEval")
    repairs = EvidenceRepairs()
    conversations: list[Conversation] = []
    questions: list[Question] = []
    skipped: list[SkippedQuestion] = []
    try:
        if not isinstance(data, list) or not data:
            raise _Malformed("expected a non-empty JSON list of question instances")
        seen: set[str] = set()
        for index, item in enumerate(data):
            conversation, question = _instance(item, index, repairs)
            if conversation.id in seen:
                raise _Malformed(f"two instances have question_id {conversation.id}")
            seen.add(conversation.id)
            conversations.append(conversation)
            if question.evidence:
                questions.append(question)
            else:
                skipped.append(SkippedQuestion(question, "no turn is flagged has_answer"))
    except _Malformed as exc:
        raise InvalidInputError(f"not a LongMemEval file: {path}: {exc}") from None
    return Dataset(
        name="longmemeval",
        source=str(path),
        conversations=tuple(conversations),
        questions=tuple(questions),
        skipped=tuple(skipped),
        categories=LONGMEMEVAL_CATEGORIES,
        overall_categories=_OVERALL,
        evidence_repairs=repairs.as_dict(),
    )
