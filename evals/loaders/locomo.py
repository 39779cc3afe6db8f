"""Loader of the LoCoMo benchmark (``locomo10.json`` format).

Only turns, speakers, session dates and image captions are read from a conversation, by the same
parser ``app.py ingest`` uses (:func:`memory.conversations.locomo_conversation`). The file's
``observation``, ``session_summary`` and ``event_summary`` fields are generated from the gold
evidence, and the image ``query`` / ``img_url`` fields are not part of what was said: none of them
is read.

Evidence ids are split on ``;`` and whitespace (``"D8:6; D9:17"``), normalised (``"D30:05"`` →
``"D30:5"``, ``"D:11:26"`` → ``"D11:26"``), and dropped when malformed (``"D"``) or when no such
turn exists; every repair is counted. A question left without evidence is skipped, with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
from memory.conversations import MalformedConversation, locomo_conversation
from memory.errors import InvalidInputError

__all__ = ["LOCOMO_CATEGORIES", "LOCOMO_URL", "load_locomo", "normalize_evidence"]

#: The public file; ``--data download`` fetches it.
LOCOMO_URL = "https://raw.githubusercontent.com/snap-research/LoCoMo/main/data/locomo10.json"

#: LoCoMo's category numbers, as the data README documents them.
LOCOMO_CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
_DISPLAY_ORDER = ("multi-hop", "temporal", "open-domain", "single-hop", "adversarial")
_OVERALL = frozenset({"multi-hop", "temporal", "open-domain", "single-hop"})

_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")
_EVIDENCE_ID = re.compile(r"^D:?(\d+):(\d+)$", re.IGNORECASE)


class _Malformed(Exception):
    """Raised inside the loader; turned into one InvalidInputError naming the file."""


def normalize_evidence(
    raw: Iterable[Any], valid_ids: set[str], repairs: EvidenceRepairs | None = None
) -> tuple[tuple[str, ...], list[str]]:
    """Valid, normalised, de-duplicated evidence turn ids, and a note for each one dropped."""
    repairs = repairs if repairs is not None else EvidenceRepairs()
    ids: list[str] = []
    dropped: list[str] = []
    for entry in raw:
        parts = [p for p in _EVIDENCE_SPLIT.split(clean_text(entry)) if p]
        if len(parts) > 1:
            repairs.note("entries holding several ids, split")
        if not parts:
            repairs.note("empty ids dropped")
            dropped.append(f"{entry!r} is empty")
        for part in parts:
            match = _EVIDENCE_ID.match(part)
            if match is None:
                repairs.note("malformed ids dropped")
                dropped.append(f"{part!r} is not a turn id")
                continue
            norm = f"D{int(match.group(1))}:{int(match.group(2))}"
            if norm != part:
                repairs.note("ids normalised")
            if norm not in valid_ids:
                repairs.note("ids of turns that do not exist dropped")
                dropped.append(f"{part!r} names no turn of the conversation")
            elif norm in ids:
                repairs.note("duplicate ids dropped")
            else:
                ids.append(norm)
    return tuple(ids), dropped


def _questions(
    sample_id: str, qa: list[Any], valid_ids: set[str], repairs: EvidenceRepairs
) -> tuple[list[Question], list[SkippedQuestion]]:
    kept: list[Question] = []
    skipped: list[SkippedQuestion] = []
    for n, raw in enumerate(qa):
        where = f"conversation {sample_id} qa[{n}]"
        if not isinstance(raw, dict) or "question" not in raw:
            raise _Malformed(f"{where} is not an object with a question")
        category = LOCOMO_CATEGORIES.get(raw.get("category"))  # type: ignore[arg-type]
        if category is None:
            raise _Malformed(f"{where} has category {raw.get('category')!r}, not 1-5")
        evidence_raw = raw.get("evidence") or []
        if not isinstance(evidence_raw, list):
            evidence_raw = [evidence_raw]
        evidence, dropped = normalize_evidence(evidence_raw, valid_ids, repairs)
        answer = clean_text(raw.get("answer")) or None
        question = Question(
            id=f"{sample_id}:q{n}",
            conversation_id=sample_id,
            text=clean_text(raw["question"]),
            category=category,
            evidence=evidence,
            answer=answer,
            asked_at=None,
        )
        if evidence:
            kept.append(question)
        elif not evidence_raw:
            skipped.append(SkippedQuestion(question, "no evidence in the file"))
        else:
            skipped.append(SkippedQuestion(question, "no valid evidence: " + "; ".join(dropped)))
    return kept, skipped


def _conversation(item: Any, index: int) -> tuple[Conversation, list[Any]]:
    if not isinstance(item, dict):
        raise _Malformed(f"element {index} is a {type(item).__name__}, not a conversation object")
    missing = [k for k in ("sample_id", "conversation", "qa") if k not in item]
    if missing:
        raise _Malformed(f"element {index} lacks {', '.join(missing)}")
    sample_id = clean_text(item["sample_id"])
    conv = item["conversation"]
    if not isinstance(conv, dict):
        raise _Malformed(f"conversation {sample_id}: 'conversation' is not an object")
    if not isinstance(item["qa"], list):
        raise _Malformed(f"conversation {sample_id}: 'qa' is not a list")
    sessions = locomo_conversation(sample_id, conv)
    turns = [
        EvalTurn(
            id=t.id,
            session_id=t.session_id,
            speaker=t.speaker,
            text=t.text,
            session_time=t.session_time,
            image_caption=t.image_caption,
            index=t.index,
        )
        for session in sessions.sessions
        for t in session.turns
    ]
    return Conversation(id=sample_id, turns=turns, speakers=list(sessions.speakers)), item["qa"]


def load_locomo(path: Path) -> Dataset:
    """Read a LoCoMo file; InvalidInputError names the file and the problem if it is not one."""
    data = read_json(path, "LoCoMo")
    repairs = EvidenceRepairs()
    conversations: list[Conversation] = []
    questions: list[Question] = []
    skipped: list[SkippedQuestion] = []
    try:
        if not isinstance(data, list) or not data:
            raise _Malformed("expected a non-empty JSON list of conversations")
        for index, item in enumerate(data):
            conversation, qa = _conversation(item, index)
            if any(c.id == conversation.id for c in conversations):
                raise _Malformed(f"two conversations are named {conversation.id}")
            valid_ids = {t.id for t in conversation.turns}
            kept, lost = _questions(conversation.id, qa, valid_ids, repairs)
            conversations.append(conversation)
            questions.extend(kept)
            skipped.extend(lost)
    except (_Malformed, MalformedConversation) as exc:
        raise InvalidInputError(f"not a LoCoMo file: {path}: {exc}") from None
    return Dataset(
        name="locomo",
        source=str(path),
        conversations=tuple(conversations),
        questions=tuple(questions),
        skipped=tuple(skipped),
        categories=_DISPLAY_ORDER,
        overall_categories=_OVERALL,
        evidence_repairs=repairs.as_dict(),
    )
