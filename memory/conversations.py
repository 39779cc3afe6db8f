"""Conversation files, the input of ``app.py ingest``: Hypermnesia's own JSON format, and LoCoMo's.

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
"session_<n>_date_time": "1:56 pm on 8 May, 2023", ...}, "qa": [...]}``) is detected from its
shape. Only turns, speakers, session dates and image captions are read, never the file's
``observation``, ``session_summary`` or ``event_summary`` (they are generated from the benchmark's
gold evidence), nor the image ``query`` / ``img_url``. The benchmark loader in ``evals`` reads
its conversations through :func:`locomo_conversation` and its questions itself.

A malformed file raises :class:`InvalidInputError` naming the file and the problem, before anything
is returned, so nothing of it is ingested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from memory.errors import InvalidInputError
from memory.model import Turn

__all__ = [
    "ConversationSessions",
    "MalformedConversation",
    "SessionTurns",
    "clean_text",
    "load_conversation_file",
    "locomo_conversation",
    "read_json",
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


class MalformedConversation(InvalidInputError):
    """A part of a conversation that cannot be read; the file's reader prefixes the file's name."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_json(path: Path, kind: str) -> Any:
    """Parse ``path`` as JSON (UTF-8, with or without a byte-order mark), with errors that name
    the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"missing file: {path}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {kind} file {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"not a {kind} file: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not a {kind} file: {path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}"
        ) from None
    except RecursionError:
        raise InvalidInputError(f"not a {kind} file: {path}: JSON nested too deeply") from None
    except ValueError:  # the one other ValueError of json.loads: Python's digit limit
        raise InvalidInputError(
            f"not a {kind} file: {path}: a number in it has too many digits to read"
        ) from None


def clean_text(value: Any) -> str:
    """A field as text without surrounding whitespace; None is empty, numbers become their str()."""
    if value is None:
        return ""
    return str(value).strip()


def load_conversation_file(path: Path | str) -> list[ConversationSessions]:
    """Read a conversation file in Hypermnesia's format or LoCoMo's (detected from its shape)."""
    path = Path(path)
    data = read_json(path, "conversation")
    if isinstance(data, list):
        if data and all(isinstance(item, dict) and "conversation" in item for item in data):
            try:
                return _locomo_file(data)
            except MalformedConversation as exc:
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
    except MalformedConversation as exc:
        raise InvalidInputError(f"not a conversation file: {path}: {exc}") from None


def select_conversations(
    conversations: Sequence[ConversationSessions], conversation_id: str | None
) -> list[ConversationSessions]:
    """All conversations, or the one named ``conversation_id`` (an error lists the names found)."""
    if conversation_id is None:
        return list(conversations)
    chosen = [c for c in conversations if c.conversation_id == conversation_id]
    if not chosen:
        names = ", ".join(_label(c.conversation_id) for c in conversations)
        names = names if len(names) <= 200 else names[:199] + "…"
        raise InvalidInputError(
            f"no conversation {_show(conversation_id)} in the file; it has: {names}"
        )
    return chosen


def _turn(where: str, **fields: Any) -> Turn:
    """A validated turn; a rejected field becomes a MalformedConversation naming the turn."""
    try:
        return Turn(**fields)
    except (ValidationError, InvalidInputError) as exc:
        raise MalformedConversation(f"{where}: {_first_error(exc)}") from None


def _label(value: str) -> str:
    """An id as it reads in a message: as it is when short and printable, else quoted (so a
    newline in it cannot break the one-line error)."""
    return value if value.isprintable() and len(value) <= 80 else _show(value)


def _show(value: Any, limit: int = 80) -> str:
    """A value quoted for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_error(exc: ValidationError | InvalidInputError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")  # our validators' own messages
        return f"{loc}: {msg}" if loc else msg
    return str(exc)


# -- Hypermnesia's format ------------------------------------------------------------------------


def _text_field(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise MalformedConversation(f"{where} lacks {key!r}")
        return None
    if not isinstance(value, str):
        raise MalformedConversation(f"{where}: {key!r} is a {type(value).__name__}, not a string")
    if required and not value.strip():
        raise MalformedConversation(f"{where}: {key!r} is empty")
    return value.strip() or None


def _date(value: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise MalformedConversation(
            f"{where}: date {_show(value)} is not ISO 8601 (e.g. 2023-05-08T13:56:00)"
        ) from None


def _list_field(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        raise MalformedConversation(f"{where} lacks {key!r}")
    if not isinstance(value, list):
        raise MalformedConversation(f"{where}: {key!r} is a {type(value).__name__}, not a list")
    if not value:
        raise MalformedConversation(f"{where}: {key!r} is empty")
    return value


def _speakers(data: dict[str, Any]) -> tuple[str, ...]:
    raw = data.get("speakers")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise MalformedConversation("'speakers' must be a list of non-empty strings")
    return tuple(s.strip() for s in raw)


def _native_turn(
    raw: Any, session_id: str, n: int, when: datetime, speakers: Sequence[str]
) -> Turn:
    where = f"session {_label(session_id)} turn {n}"
    if not isinstance(raw, dict):
        raise MalformedConversation(f"{where} is a {type(raw).__name__}, not an object")
    speaker = _text_field(raw, "speaker", where)
    if speakers and speaker not in speakers:
        raise MalformedConversation(
            f"{where}: speaker {_show(speaker)} is not in 'speakers' {_show(list(speakers), 200)}"
        )
    turn_id = _text_field(raw, "id", where, required=False)
    if turn_id is None and raw.get("id") is not None:
        raise MalformedConversation(f"{where}: 'id' is empty")
    return _turn(
        where,
        id=turn_id or f"{session_id}:{n}",
        session_id=session_id,
        speaker=speaker or "",
        text=_text_field(raw, "text", where) or "",
        session_time=when,
        image_caption=_text_field(raw, "image_caption", where, required=False),
        index=n - 1,
    )


def _native_session(raw: Any, index: int, speakers: Sequence[str]) -> SessionTurns:
    if not isinstance(raw, dict):
        raise MalformedConversation(f"sessions[{index}] is a {type(raw).__name__}, not an object")
    session_id = _text_field(raw, "session_id", f"sessions[{index}]") or ""
    where = f"session {_label(session_id)}"
    when = _date(_text_field(raw, "date", where) or "", where)
    turns = [
        _native_turn(t, session_id, n, when, speakers)
        for n, t in enumerate(_list_field(raw, "turns", where), start=1)
    ]
    return SessionTurns(session_id=session_id, date=turns[0].session_time, turns=tuple(turns))


def _native(data: dict[str, Any]) -> ConversationSessions:
    conversation_id = _text_field(data, "conversation_id", "the file") or ""
    speakers = _speakers(data)
    sessions = [
        _native_session(s, i, speakers)
        for i, s in enumerate(_list_field(data, "sessions", "the file"))
    ]
    seen_sessions: set[str] = set()
    for session in sessions:
        if session.session_id in seen_sessions:
            raise MalformedConversation(f"two sessions are named {_show(session.session_id)}")
        seen_sessions.add(session.session_id)
    _check_unique_turns(sessions, "")
    ordered = sorted(sessions, key=lambda s: s.date or _EPOCH)
    return ConversationSessions(conversation_id, speakers, tuple(ordered))


def _check_unique_turns(sessions: Sequence[SessionTurns], conversation_id: str) -> None:
    seen: set[str] = set()
    for turn in (t for s in sessions for t in s.turns):
        if turn.id in seen:
            if conversation_id:
                raise MalformedConversation(
                    f"conversation {_label(conversation_id)} has two turns with id "
                    f"{_label(turn.id)}"
                )
            raise MalformedConversation(f"two turns have the id {_show(turn.id)}")
        seen.add(turn.id)


# -- LoCoMo --------------------------------------------------------------------------------------

_LOCOMO_SESSION = re.compile(r"session_([0-9]+)")
_LOCOMO_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%d %B, %Y", "%d %B %Y")


def _locomo_text(value: Any, key: str, where: str) -> str:
    """A LoCoMo field as text: a string or a number, never a list, an object or a boolean."""
    if value is None or isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return clean_text(value)
    raise MalformedConversation(f"{where}: {key!r} is a {type(value).__name__}, not a string")


def _locomo_date(value: Any, where: str) -> datetime | None:
    """A session date such as "1:56 pm on 8 May, 2023", in UTC; None when there is none."""
    text = _locomo_text(value, "date_time", where)
    if not text:
        return None
    for fmt in _LOCOMO_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise MalformedConversation(
        f"{where}: date {_show(text)} is not like '1:56 pm on 8 May, 2023' or '8 May, 2023'"
    )


def _locomo_turn(
    raw: Any, sample_id: str, session_id: str, when: datetime | None, index: int
) -> Turn:
    where = f"conversation {_label(sample_id)} {session_id} turn {index}"
    if not isinstance(raw, dict):
        raise MalformedConversation(f"{where} is a {type(raw).__name__}, not an object")
    missing = [k for k in ("dia_id", "speaker", "text") if k not in raw]
    if missing:
        raise MalformedConversation(f"{where} lacks {', '.join(missing)}")
    return _turn(
        where,
        id=_locomo_text(raw["dia_id"], "dia_id", where),
        session_id=session_id,
        speaker=_locomo_text(raw["speaker"], "speaker", where),
        text=_locomo_text(raw["text"], "text", where),
        session_time=when,
        image_caption=_locomo_text(raw.get("blip_caption"), "blip_caption", where) or None,
        index=index,
    )


def _locomo_sessions(sample_id: str, conv: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    """The ``session_<n>`` lists of a conversation by number; a number given twice, or a session
    that is not a list, is an error."""
    numbered: dict[int, list[Any]] = {}
    for key, value in conv.items():
        if not (m := _LOCOMO_SESSION.fullmatch(key)):
            continue
        if not isinstance(value, list):
            raise MalformedConversation(
                f"conversation {_label(sample_id)}: {_show(key)} is a {type(value).__name__}, "
                "not a list of turns"
            )
        if int(m.group(1)) in numbered:
            raise MalformedConversation(
                f"conversation {_label(sample_id)}: {_show(key)} repeats session number "
                f"{int(m.group(1))}"
            )
        numbered[int(m.group(1))] = value
    if not numbered:
        raise MalformedConversation(
            f"conversation {_label(sample_id)} has no session_<n> list of turns"
        )
    return sorted(numbered.items(), key=lambda item: item[0])


def locomo_conversation(sample_id: str, conv: dict[str, Any]) -> ConversationSessions:
    """The sessions of one LoCoMo ``conversation`` object, in session-number order.

    Reads ``speaker_a`` / ``speaker_b``, ``session_<n>`` and ``session_<n>_date_time`` only; a
    session without turns is left out, and a session without a date leaves its turns undated.
    Raises :class:`MalformedConversation` naming the conversation, session and turn.
    """
    sessions: list[SessionTurns] = []
    for number, raw_turns in _locomo_sessions(sample_id, conv):
        session_id = f"session_{number}"
        where = f"conversation {_label(sample_id)} {session_id}"
        when = _locomo_date(conv.get(f"{session_id}_date_time"), where)
        turns = tuple(
            _locomo_turn(raw, sample_id, session_id, when, index)
            for index, raw in enumerate(raw_turns)
        )
        if turns:
            sessions.append(SessionTurns(session_id=session_id, date=when, turns=turns))
    if not sessions:
        raise MalformedConversation(f"conversation {_label(sample_id)} has no turns")
    _check_unique_turns(sessions, sample_id)
    speakers = [
        _locomo_text(conv[k], k, f"conversation {_label(sample_id)}")
        for k in ("speaker_a", "speaker_b")
        if conv.get(k)
    ]
    for turn in (t for s in sessions for t in s.turns):
        if turn.speaker not in speakers:
            speakers.append(turn.speaker)
    return ConversationSessions(sample_id, tuple(speakers), tuple(sessions))


def _locomo_file(data: list[dict[str, Any]]) -> list[ConversationSessions]:
    conversations: list[ConversationSessions] = []
    for index, item in enumerate(data):
        sample_id = _locomo_text(item.get("sample_id"), "sample_id", f"element {index}")
        if not sample_id:
            raise MalformedConversation(f"element {index} lacks sample_id")
        conv = item["conversation"]
        if not isinstance(conv, dict):
            raise MalformedConversation(
                f"conversation {_label(sample_id)}: 'conversation' is not an object"
            )
        if any(c.conversation_id == sample_id for c in conversations):
            raise MalformedConversation(f"two conversations are named {_label(sample_id)}")
        conversations.append(locomo_conversation(sample_id, conv))
    return conversations
