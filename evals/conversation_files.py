"""Conversation files for ``app.py ingest``: Hypermnesia's own JSON format, and LoCoMo's.

Hypermnesia's format (see ``evals/samples/demo_conversation.json``) is one JSON object::

    {
      "conversation_id": "demo",                 # required, names the conversation
      "speakers": ["Sam", "Assistant"],          # optional; if given, turns' speakers must be in it
      "sessions": [                              # required, at least one
        {
          "session_id": "S1",                    # required, unique in the file
          "date": "2023-05-08T13:56:00",         # required, ISO 8601 (no offset means UTC)
          "turns": [                             # required, at least one
            {"speaker": "Sam", "text": "...",    # both required
             "image_caption": "a photo of ...",  # optional: an image shared in the turn
             "id": "S1:1"}                       # optional; default "<session_id>:<n>", n from 1
          ]
        }
      ]
    }

Relative dates in a turn ("yesterday") resolve against its session's ``date``. Sessions are
returned in date order (file order among equal dates); turn ids must be unique in a conversation.

A LoCoMo file (a JSON list of ``{"sample_id", "conversation": {"session_<n>": [...],
"session_<n>_date_time": "1:56 pm on 8 May, 2023", ...}, "qa": [...]}``) is detected and read with
the benchmark loader: only turns, speakers, session dates and image captions are kept, never the
file's ``observation``, ``session_summary`` or ``event_summary``.

A malformed file raises :class:`InvalidInputError` naming the file and the problem, before anything
is returned, so nothing of it is ingested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.loaders._common import read_json
from evals.loaders.locomo import load_locomo
from evals.systems import Conversation
from memory.errors import InvalidInputError
from memory.model import Turn

__all__ = [
    "ConversationSessions",
    "SessionTurns",
    "load_conversation_file",
    "select_conversations",
]


@dataclass(frozen=True)
class SessionTurns:
    """One session: its id, when it took place, and its turns in order."""

    session_id: str
    date: datetime | None
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class ConversationSessions:
    """One conversation of a file, as ordered sessions of turns ready for ``remember``."""

    conversation_id: str
    speakers: tuple[str, ...]
    sessions: tuple[SessionTurns, ...]

    @property
    def turn_count(self) -> int:
        return sum(len(s.turns) for s in self.sessions)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Malformed(Exception):
    """Raised while reading; turned into one InvalidInputError naming the file."""


def load_conversation_file(path: Path | str) -> list[ConversationSessions]:
    """Read a conversation file in Hypermnesia's format or LoCoMo's (detected from its shape)."""
    path = Path(path)
    data = read_json(path, "conversation")
    if isinstance(data, list):
        if data and all(isinstance(item, dict) and "conversation" in item for item in data):
            try:
                return [_from_locomo(c) for c in load_locomo(path).conversations]
            except _Malformed as exc:
                raise InvalidInputError(f"not a LoCoMo file: {path}: {exc}") from None
        raise InvalidInputError(
            f"not a conversation file: {path}: a JSON list must be LoCoMo's list of objects with "
            "'sample_id', 'conversation' and 'qa'"
        )
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"not a conversation file: {path}: expected a JSON object, found {type(data).__name__}"
        )
    try:
        return [_native(data)]
    except _Malformed as exc:
        raise InvalidInputError(f"not a conversation file: {path}: {exc}") from None


def select_conversations(
    conversations: Sequence[ConversationSessions], conversation_id: str | None
) -> list[ConversationSessions]:
    """All conversations, or the one named ``conversation_id`` (an error lists the names found)."""
    if conversation_id is None:
        return list(conversations)
    chosen = [c for c in conversations if c.conversation_id == conversation_id]
    if not chosen:
        names = ", ".join(c.conversation_id for c in conversations)
        raise InvalidInputError(f"no conversation {conversation_id!r} in the file; it has: {names}")
    return chosen


# -- Hypermnesia's format ------------------------------------------------------------------------


def _text_field(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{where} lacks {key!r}")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{where}: {key!r} is a {type(value).__name__}, not a string")
    if required and not value.strip():
        raise _Malformed(f"{where}: {key!r} is empty")
    return value.strip() or None


def _date(value: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Malformed(
            f"{where}: date {value!r} is not ISO 8601 (e.g. 2023-05-08T13:56:00)"
        ) from None


def _list_field(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        raise _Malformed(f"{where} lacks {key!r}")
    if not isinstance(value, list):
        raise _Malformed(f"{where}: {key!r} is a {type(value).__name__}, not a list")
    if not value:
        raise _Malformed(f"{where}: {key!r} is empty")
    return value


def _speakers(data: dict[str, Any]) -> tuple[str, ...]:
    raw = data.get("speakers")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise _Malformed("'speakers' must be a list of non-empty strings")
    return tuple(s.strip() for s in raw)


def _turn(raw: Any, session_id: str, n: int, when: datetime, speakers: Sequence[str]) -> Turn:
    where = f"session {session_id} turn {n}"
    if not isinstance(raw, dict):
        raise _Malformed(f"{where} is a {type(raw).__name__}, not an object")
    speaker = _text_field(raw, "speaker", where)
    if speakers and speaker not in speakers:
        raise _Malformed(f"{where}: speaker {speaker!r} is not in 'speakers' {list(speakers)}")
    text = _text_field(raw, "text", where)
    caption = _text_field(raw, "image_caption", where, required=False)
    turn_id = _text_field(raw, "id", where, required=False) or f"{session_id}:{n}"
    try:
        return Turn(
            id=turn_id,
            session_id=session_id,
            speaker=speaker or "",
            text=text or "",
            session_time=when,
            image_caption=caption,
            index=n - 1,
        )
    except (ValidationError, InvalidInputError) as exc:
        raise _Malformed(f"{where}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError | InvalidInputError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']}" if loc else str(err["msg"])
    return str(exc)


def _session(raw: Any, index: int, speakers: Sequence[str]) -> SessionTurns:
    if not isinstance(raw, dict):
        raise _Malformed(f"sessions[{index}] is a {type(raw).__name__}, not an object")
    session_id = _text_field(raw, "session_id", f"sessions[{index}]") or ""
    where = f"session {session_id}"
    when = _date(_text_field(raw, "date", where) or "", where)
    turns = [
        _turn(t, session_id, n, when, speakers)
        for n, t in enumerate(_list_field(raw, "turns", where), start=1)
    ]
    return SessionTurns(session_id=session_id, date=turns[0].session_time, turns=tuple(turns))


def _native(data: dict[str, Any]) -> ConversationSessions:
    conversation_id = _text_field(data, "conversation_id", "the file") or ""
    speakers = _speakers(data)
    sessions = [
        _session(s, i, speakers) for i, s in enumerate(_list_field(data, "sessions", "the file"))
    ]
    seen_sessions: set[str] = set()
    seen_turns: set[str] = set()
    for session in sessions:
        if session.session_id in seen_sessions:
            raise _Malformed(f"two sessions are named {session.session_id!r}")
        seen_sessions.add(session.session_id)
        for turn in session.turns:
            if turn.id in seen_turns:
                raise _Malformed(f"two turns have the id {turn.id!r}")
            seen_turns.add(turn.id)
    ordered = sorted(sessions, key=lambda s: s.date or _EPOCH)
    return ConversationSessions(conversation_id, speakers, tuple(ordered))


# -- LoCoMo ------------------------------------------------------------------------------------


def _from_locomo(conversation: Conversation) -> ConversationSessions:
    """Group a loaded LoCoMo conversation's turns (derived fields already left out) by session."""
    grouped: dict[str, list[Turn]] = {}
    for t in conversation.turns:
        try:
            turn = Turn(
                id=t.id,
                session_id=t.session_id,
                speaker=t.speaker,
                text=t.text,
                session_time=t.session_time,
                image_caption=t.image_caption,
                index=t.index,
            )
        except (ValidationError, InvalidInputError) as exc:
            where = f"conversation {conversation.id} turn {t.id}"
            raise _Malformed(f"{where}: {_first_error(exc)}") from None
        grouped.setdefault(t.session_id, []).append(turn)
    sessions = tuple(
        SessionTurns(session_id=sid, date=turns[0].session_time, turns=tuple(turns))
        for sid, turns in grouped.items()
    )
    return ConversationSessions(conversation.id, tuple(conversation.speakers), sessions)
