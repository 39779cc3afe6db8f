"""Constructor prompts: atomic facts out of a session's turns.

``constructor.facts`` v1 reads speaker-labelled turns with their ids and the session date, and
returns self-contained facts with absolute dates (relative ones resolved against the session date,
never the processing time) and the ids of the turns they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator

from memory.errors import InvalidInputError
from memory.model import Turn
from prompts.registry import Messages, iso_day, register, system_prompt

__all__ = ["FACTS", "ExtractedFact", "FactList", "facts_v1"]


class ExtractedFact(BaseModel):
    """One atomic, self-contained fact."""

    text: str
    subject: str
    """Who or what the fact is about (usually a speaker)."""
    attribute: str | None = None
    """What about the subject it sets (``lives_in``, ``job``), for conflict detection."""
    entities: list[str] = Field(default_factory=list)
    event_date: str | None = None
    """When it happened, ``YYYY-MM-DD``; relative dates resolved against the session date."""
    source_turn_ids: list[str] = Field(default_factory=list)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("event_date")
    @classmethod
    def _iso_or_none(cls, value: str | None) -> str | None:
        """A date that does not parse is dropped rather than failing the whole batch of facts."""
        if value is None:
            return None
        try:
            return iso_day(value)
        except InvalidInputError:
            return None

    @field_validator("importance", mode="before")
    @classmethod
    def _clamp(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(1.0, max(0.0, float(value)))
        return value


class FactList(BaseModel):
    """The facts found in a batch of turns."""

    facts: list[ExtractedFact] = Field(default_factory=list)


_TASK_V1 = (
    "Extract atomic facts about the speakers from the conversation. Each fact is one short "
    "self-contained sentence naming the person. Resolve relative dates (yesterday, last week) "
    "against the session date and write them as YYYY-MM-DD. source_turn_ids are the turn ids "
    "the fact comes from. importance is 0..1. Skip greetings and small talk."
)


def facts_v1(turns: Sequence[Turn], session_date: date | datetime | str | None = None) -> Messages:
    """Messages asking for the facts in ``turns``; the date defaults to the turns' session time."""
    if not turns:
        raise InvalidInputError("turns must not be empty")
    if session_date is None:
        times = [t.session_time for t in turns if t.session_time is not None]
        if not times:
            raise InvalidInputError("session_date is required when the turns carry no session_time")
        session_date = times[0]
    lines = []
    for turn in turns:
        text = " ".join(turn.text.split())
        if turn.image_caption:
            text += f" [shares an image: {' '.join(turn.image_caption.split())}]"
        lines.append(f"[{turn.id}] {turn.speaker}: {text}")
    user = f"Session date: {iso_day(session_date)}\nConversation:\n" + "\n".join(lines)
    return [
        {"role": "system", "content": system_prompt(_TASK_V1, FactList)},
        {"role": "user", "content": user},
    ]


FACTS = register("constructor.facts", "v1", FactList, facts_v1)
