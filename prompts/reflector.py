"""Reflector prompts: an insight from a cluster of related units, and a persona profile.

Both are inferences: they must cite the ids of the evidence they rest on, so the judge gate and
deletes can follow them back.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from memory.errors import InvalidInputError
from prompts.registry import EvidenceItem, Messages, evidence_lines, register, system_prompt

__all__ = ["INSIGHT", "PERSONA", "Insight", "PersonaProfile", "insight_v1", "persona_v1"]


class Insight(BaseModel):
    """A higher-level statement that a cluster of memories supports."""

    text: str
    entities: list[str] = Field(default_factory=list)
    source_ids: list[str] = Field(default_factory=list)


class PersonaProfile(BaseModel):
    """What the memories say about one person."""

    summary: str
    traits: list[str] = Field(default_factory=list)
    source_ids: list[str] = Field(default_factory=list)


_INSIGHT_V1 = (
    "Read related memories and state one insight they support together (a pattern, a plan, a "
    "preference), in one sentence. Use only what the memories say. source_ids are the ids of "
    "the memories it rests on."
)

_PERSONA_V1 = (
    "Read memories about a person and write a short profile: summary in two sentences, traits "
    "as short phrases. Use only what the memories say. source_ids are the ids of the memories "
    "used."
)


def _units(units: Sequence[EvidenceItem]) -> str:
    if not units:
        raise InvalidInputError("units must not be empty")
    return evidence_lines(units)


def insight_v1(units: Sequence[EvidenceItem]) -> Messages:
    """Messages asking for one insight over a cluster of ``units``."""
    return [
        {"role": "system", "content": system_prompt(_INSIGHT_V1, Insight)},
        {"role": "user", "content": f"Memories:\n{_units(units)}"},
    ]


def persona_v1(units: Sequence[EvidenceItem], person: str | None = None) -> Messages:
    """Messages asking for a profile of ``person`` (or of the memories' main subject)."""
    who = f"Person: {person.strip()}\n" if person and person.strip() else ""
    return [
        {"role": "system", "content": system_prompt(_PERSONA_V1, PersonaProfile)},
        {"role": "user", "content": f"{who}Memories:\n{_units(units)}"},
    ]


INSIGHT = register("reflector.insight", "v1", Insight, insight_v1)
PERSONA = register("reflector.persona", "v1", PersonaProfile, persona_v1)
