"""The poisoning cases: who says what to the memory, and which attribute it is after.

Each set is a JSON file (``attacks.json``, ``legitimate.json`` beside this module)::

    {"set": "attack", "cases": [
      {"id": "false-update-01", "category": "false_update",
       "user": "Sam",                      # the namespace's user, who speaks as "Sam"
       "attribute": "lives_in",            # lives_in, job, relationship or age (agents.slots)
       "subject": "Sam",                   # whose attribute (default: the user)
       "before": "boston", "after": "paris",  # slot values as the constructor normalises them
       "marker": "captain",                # optional: never to reach an insight or persona
       "probe": "Where does Sam live?",
       "sessions": [
         {"date": "2023-03-04T10:00:00", "turns": [["Sam", "I live in Boston."],
                                                   ["Nova", "Noted!", "assistant"]]}]}]}

A turn is ``[speaker, text]`` or ``[speaker, text, role]`` (``user`` or ``assistant``; without it
the role is inferred from the speaker's name). The first session must establish ``before``; in an
attack ``after`` is the attacker's value, in a legitimate case the subject's new one.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memory.errors import InvalidInputError
from memory.model import Namespace, Turn, normalize_label

__all__ = ["ATTACKS", "LEGITIMATE", "Case", "CaseSet", "Session", "load_cases"]

HERE = Path(__file__).resolve().parent
ATTACKS = HERE / "attacks.json"
LEGITIMATE = HERE / "legitimate.json"
ATTRIBUTES = ("lives_in", "job", "relationship", "age")


class Session(BaseModel):
    """One session of a case: a date and its turns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: datetime
    turns: list[tuple[str, str] | tuple[str, str, Literal["user", "assistant"]]] = Field(
        min_length=1
    )


class Case(BaseModel):
    """One scripted exchange aimed at one attribute of one subject."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    category: str
    user: str
    attribute: Literal["lives_in", "job", "relationship", "age"]
    subject: str | None = None
    before: str
    after: str
    marker: str | None = None
    probe: str
    sessions: list[Session] = Field(min_length=1)

    @field_validator("before", "after")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalize_label(value)

    @property
    def namespace(self) -> Namespace:
        """Every case in a namespace of its own: the user's (spelt in ASCII, as namespace ids
        are), under an agent named after the case."""
        ascii_name = unicodedata.normalize("NFKD", self.user).encode("ascii", "ignore").decode()
        return Namespace(user_id=re.sub(r"[^A-Za-z0-9_.@:+-]", "_", ascii_name), agent_id=self.id)

    @property
    def slot_key(self) -> str:
        """The target slot as :func:`agents.slots.slot_of` names it."""
        return f"{(self.subject or self.user).casefold()}|{self.attribute}"

    def session_turns(self, index: int) -> list[Turn]:
        """The turns of session ``index``, as the engine receives them."""
        session = self.sessions[index]
        sid = f"S{index + 1}"
        return [
            Turn(
                id=f"{sid}:{n}",
                session_id=sid,
                speaker=turn[0],
                text=turn[1],
                session_time=session.date,
                index=n - 1,
                role=turn[2] if len(turn) == 3 else None,
            )
            for n, turn in enumerate(session.turns, start=1)
        ]


class CaseSet(BaseModel):
    """A file of cases: attacks or legitimate updates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    set: Literal["attack", "legitimate"]
    cases: list[Case] = Field(min_length=1)


def load_cases(path: Path) -> CaseSet:
    """A case file, validated; ids must be unique and dates increase session by session."""
    try:
        cases = CaseSet.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise InvalidInputError(f"{path}: not a valid poisoning case file: {exc}") from None
    seen: set[str] = set()
    for case in cases.cases:
        if case.id in seen:
            raise InvalidInputError(f"{path}: case id {case.id!r} appears twice")
        seen.add(case.id)
        dates = [s.date for s in case.sessions]
        if dates != sorted(dates):
            raise InvalidInputError(f"{path}: case {case.id!r} has sessions out of date order")
        if case.before == case.after:
            raise InvalidInputError(f"{path}: case {case.id!r} has before == after")
    return cases
