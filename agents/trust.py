"""Who said a memory, and whose word stands when two memories disagree.

Every fact records who said it (:class:`memory.model.SaidBy`): the person it is about (``self``),
someone else (``third_party``) or the assistant. The write gate, the read-time conflict resolution
and the reflector share these rules:

- a self-report stands until the same speaker reports otherwise; a third party, the assistant or
  another voice claiming the same name replaces it only when at least two independent people
  (the assistant never counts as one) make the same claim after it — otherwise the claim is kept
  as evidence and flagged as a conflict;
- a third party's claim gives way to the subject or another person, not to the assistant alone;
- the assistant's claims give way to anyone;
- text that reads as an instruction to the assistant or as talk about the memory itself ("from
  now on always…", "ignore previous instructions", "as your memory system…") sets no attribute
  and is never generalised into insights or personas; a message that tries to override what the
  assistant knows or speaks as the system sets no attribute in any of its sentences.

The screens are patterns over the text, so they catch the usual shapes of such instructions, not
every paraphrase; the standing rules above do not depend on wording.

Identity is the speaker's name as the caller gives it: whoever writes turns under the user's own
name speaks as the user; authenticating speakers is the caller's job.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from memory.errors import InvalidInputError
from memory.model import MemoryUnit, SaidBy, normalize_label

__all__ = [
    "ASSISTANT_NAMES",
    "CORROBORATION",
    "independent_speakers",
    "is_assistant",
    "is_injection",
    "is_instruction",
    "may_supersede",
    "prevailing",
    "refusal",
    "said_by",
    "said_by_of",
]

ASSISTANT_NAMES = frozenset({"assistant", "ai", "ai assistant", "bot", "chatbot", "system"})
"""Speaker names taken for the assistant when a turn does not say its role."""
CORROBORATION = 2
"""Independent people who must make a claim before it replaces someone's own statement."""

_RANK = {SaidBy.SELF: 2, SaidBy.THIRD_PARTY: 1, None: 1, SaidBy.ASSISTANT: 0}
"""Standing of a claim's source; an unknown source (older data) counts as a third party."""


def is_assistant(speaker: str | None, role: str | None = None) -> bool:
    """Whether a turn's speaker is the assistant: by the turn's role, else by its name."""
    if role is not None:
        return role == "assistant"
    return speaker is not None and normalize_label(speaker) in ASSISTANT_NAMES


def said_by(speaker: str, role: str | None, subject: str | None) -> SaidBy:
    """Who said something relative to its subject (no subject: the speaker about themselves)."""
    if is_assistant(speaker, role):
        return SaidBy.ASSISTANT
    if subject is None or normalize_label(subject) == normalize_label(speaker):
        return SaidBy.SELF
    return SaidBy.THIRD_PARTY


def said_by_of(unit: MemoryUnit) -> SaidBy | None:
    """A unit's recorded source, or the one its speaker and subject imply (older units)."""
    if unit.said_by is not None or unit.speaker is None:
        return unit.said_by
    return said_by(unit.speaker, None, unit.entities[0] if unit.entities else None)


def may_supersede(new: MemoryUnit, old: MemoryUnit) -> bool:
    """Whether ``new`` may replace ``old`` on its own word (see the module docstring)."""
    new_by, old_by = said_by_of(new), said_by_of(old)
    if old_by is SaidBy.SELF:
        return new_by is SaidBy.SELF and _voice(new) == _voice(old)
    return _RANK[new_by] >= _RANK[old_by]


def refusal(new: MemoryUnit, old: MemoryUnit) -> str:
    """Why ``new`` may not replace ``old`` on its own word, for the trace."""
    subject = old.entities[0] if old.entities else "its subject"
    by = said_by_of(new)
    if by is SaidBy.ASSISTANT:
        source = "the assistant's claim"
    elif by is SaidBy.SELF:
        source = f"another speaker ({new.speaker!r}) claiming to be {subject}"
    else:
        source = f"{new.speaker or 'an unknown speaker'}'s claim"
    if said_by_of(old) is SaidBy.SELF:
        held = f"{subject}'s own statement"
    else:
        held = f"{old.speaker or 'an unknown speaker'}'s statement"
    return f"{source} cannot replace {held} without corroboration"


def prevailing(units: Sequence[MemoryUnit]) -> MemoryUnit:
    """Of units disagreeing on one slot, the one that stands: claims the gate flagged as disputes
    give way to any unflagged one; then, in time order, each replaces the standing one only where
    :func:`may_supersede` allows it."""
    if not units:
        raise InvalidInputError("prevailing() needs at least one unit")
    ordered = sorted([u for u in units if u.disputes is None] or units, key=_when)
    standing = ordered[0]
    for unit in ordered[1:]:
        if may_supersede(unit, standing):
            standing = unit
    return standing


def independent_speakers(claims: Iterable[MemoryUnit]) -> set[str]:
    """The distinct people behind ``claims`` (the assistant is nobody's independent witness)."""
    return {_voice(c) for c in claims if c.speaker and said_by_of(c) is not SaidBy.ASSISTANT}


def _voice(unit: MemoryUnit) -> str:
    """The speaker's name as given (exact): a name in another case is another voice."""
    return (unit.speaker or "").strip()


def _when(unit: MemoryUnit) -> tuple[datetime, datetime]:
    return (unit.event_time or unit.recorded_at, unit.recorded_at)


_ASSISTANT = r"(?:you|your|(?:the\s+)?(?:assistant|chatbot|bot)(?:'s)?|the\s+ai(?:'s)?|ai's)"
_MEMORY_NOUNS = (
    r"(?:memory|memories|records?|notes|database|knowledge(?:\s+base)?|profile|instructions?|"
    r"(?:system\s+)?prompt|settings|rules|guidelines|programming|training|context)"
)
_INJECTION_PATTERNS = (
    # telling the assistant to drop what it was told or knows
    r"\b(?:ignore|disregard|forget|override|overwrite|bypass|discard)\b[^.!?]{0,40}?\b"
    r"(?:previous|prior|earlier|above|preceding|original|existing|stored|old)\b",
    rf"\b(?:ignore|disregard|override|overwrite|bypass|discard|erase|wipe|reset)\b[^.!?]{{0,30}}?"
    rf"\b{_MEMORY_NOUNS}\b",
    # speaking as the system, or as the memory itself
    r"\b(?:memory|system|admin|developer|database)\s+(?:system|update|override|entry|"
    r"instructions?|prompt|message|note|mode|command)\b",
    r"\bas\s+(?:your|the)\s+(?:ai|assistant|memory(?:\s+system)?|system|chatbot|bot)\b",
    r"(?:^|[\s\[(<])(?:system|admin|developer)\s*[:\]>]",
    r"\b(?:new|updated|special|hidden|secret|additional|standing)\s+(?:instructions?|rules|"
    r"directives?|orders|commands?)\b",
    r"\b(?:prompt\s+injection|jailbreak|developer\s+mode)\b",
    # a new identity ordered at the start of a sentence ("You are now…", "Pretend that…")
    r"(?:^|[.!?:;]\s*)(?:please\s+)?(?:you\s+are\s+now|pretend\s+(?:that|to|you)|act\s+as|"
    r"role-?play\s+as)\b",
)
_DIRECTIVE_PATTERNS = (
    # directives about all future answers
    r"\b(?:from\s+now\s+on|going\s+forward|henceforth|from\s+(?:here|this\s+point)\s+on|"
    r"until\s+told\s+otherwise|(?:in|for)\s+(?:all\s+)?future\s+"
    r"(?:chats?|conversations?|replies|answers|responses|sessions))\b",
    # the assistant's memory, rules or prompt as the topic
    rf"\b{_ASSISTANT}\s+{_MEMORY_NOUNS}\b",
    # obligations laid on the assistant
    rf"\b{_ASSISTANT}\s+(?:must|shall|should\s+always|should\s+never|needs?\s+to|ha(?:s|ve)\s+to|"
    r"(?:is|are)\s+(?:to|required\s+to|instructed\s+to|supposed\s+to)|will\s+(?:always|never))\b",
    # how to address someone or what to say, in every answer
    r"\b(?:always|never|only)\s+(?:call|address|refer\s+to|describe|introduce|say|tell|answer|"
    r"reply|respond|mention|recommend|suggest|greet|treat)\b",
)
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)
_INSTRUCTION = re.compile(
    "|".join(f"(?:{p})" for p in (*_INJECTION_PATTERNS, *_DIRECTIVE_PATTERNS)), re.IGNORECASE
)


#: Texts whose tests are kept: reflection tests every turn and fact of a namespace again each time.
_MEMO = 1 << 16


@functools.lru_cache(maxsize=_MEMO)
def is_injection(text: str) -> bool:
    """Whether ``text`` tries to override what the assistant was told or knows, or speaks as the
    system: a message doing so is untrusted as a whole (the claim it carries may sit in another
    sentence)."""
    return bool(_INJECTION.search(" ".join(text.split())))


@functools.lru_cache(maxsize=_MEMO)
def is_instruction(text: str) -> bool:
    """Whether ``text`` reads as an instruction to the assistant or as talk about its memory
    (an injection, a directive for future answers, an obligation laid on the assistant)."""
    return bool(_INSTRUCTION.search(" ".join(text.split())))
