"""Attribute slots: which attribute of which subject a fact sets ("Sam lives in Denver" → lives_in).

Two current facts that set the same slot of the same subject to different values conflict; which
one stands depends on who said each (:mod:`agents.trust`). The patterns cover the attributes
people update about themselves most often in conversation (home, job, relationship, age); a fact
that matches none has no slot and is never treated as an update.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from memory.model import Granularity, MemoryUnit, Namespace, normalize_label
from memory.store import MemoryStore

__all__ = ["Slot", "current_slot_holders", "detect_slot", "fact_subject", "slot_of"]

_NAME = r"[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "lives_in",
        re.compile(
            r"\b(?:live|lives|lived|living|moved|moves|move|moving|relocated|settled)\b"
            rf"[^.;!?]*?\b(?:in|to)\s+(?:the\s+)?(?P<value>{_NAME})"
        ),
    ),
    (
        "job",
        re.compile(
            r"\b(?:work|works|working|worked|employed)\s+(?:now\s+)?(?:as|at|for)\s+"
            r"(?P<value>[^.;!?,]+)",
            re.IGNORECASE,
        ),
    ),
    ("job", re.compile(r"\b(?:new\s+)?job\s+(?:as|at)\s+(?P<value>[^.;!?,]+)", re.IGNORECASE)),
    (
        "relationship",
        re.compile(
            r"\b(?:is|am|are|got|getting)\s+(?P<value>married|engaged|divorced|single|separated)\b",
            re.IGNORECASE,
        ),
    ),
    ("age", re.compile(r"\b(?:is|am|turned|turning)\s+(?P<value>\d{1,3})\s+(?:years old)?")),
)
_SUBJECT_WINDOW = 24
"""A subject must be named within this many characters of the start of the fact."""
_PRONOUNS = frozenset({"i", "he", "she", "they", "we", "it", "you", "this", "that", "there"})


@dataclass(frozen=True)
class Slot:
    """An attribute of a subject, and the value a fact gives it."""

    subject: str
    attribute: str
    value: str

    @property
    def key(self) -> str:
        """``subject|attribute``, normalised: the identity of the slot."""
        return f"{normalize_label(self.subject)}|{self.attribute}"


def detect_slot(fact_text: str, subject: str | None) -> Slot | None:
    """The slot a fact sets, if it sets one. ``subject`` is who the fact is about."""
    if not subject or normalize_label(subject) in _PRONOUNS:
        return None
    for attribute, pattern in _PATTERNS:
        match = pattern.search(fact_text)
        if match:
            value = normalize_label(match.group("value"))
            value = re.split(r"\s+(?:with|since|because|and|but|last|next|on|in \d)\b", value)[0]
            # "works at X now" and "works at X (2019)" give X: the same value, not an update
            value = re.sub(r"\s+now$", "", re.split(r"\s*\(", value)[0])
            if value:
                return Slot(subject=subject, attribute=attribute, value=value.strip())
    return None


def fact_subject(fact_text: str, speaker: str | None, entities: tuple[str, ...]) -> str | None:
    """Who a fact is about: the named person or thing it mentions first (within its first words)."""
    lowered = fact_text.casefold()
    best: tuple[int, str] | None = None
    for name in (speaker, *entities):
        if not name or not name[:1].isupper():
            continue
        match = re.search(rf"\b{re.escape(name.casefold())}\b", lowered)
        if match and match.start() <= _SUBJECT_WINDOW and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None


def slot_of(unit: MemoryUnit) -> tuple[str, str] | None:
    """(slot key, value) of a unit that sets an attribute: ``("sam|lives_in", "denver")``."""
    if not unit.attribute or "=" not in unit.attribute or not unit.entities:
        return None
    name, _, value = unit.attribute.partition("=")
    return f"{unit.entities[0].casefold()}|{name}", value


def current_slot_holders(store: MemoryStore, ns: Namespace) -> Mapping[str, tuple[MemoryUnit, ...]]:
    """Every current fact setting each slot, by slot key (a write updates only what it changed)."""
    return store.derived(
        ns, "slots.current", lambda: _by_slot(store.current_units(ns).values()), _slots_after
    )


def _slots_after(
    old: Mapping[str, tuple[MemoryUnit, ...]],
    changed: Sequence[str],
    units: Mapping[str, MemoryUnit],
) -> dict[str, tuple[MemoryUnit, ...]]:
    """``old`` without the changed units, then with those of them that hold a slot now."""
    gone = set(changed)
    holders = {key: [u for u in group if u.id not in gone] for key, group in old.items()}
    fresh = [units[uid] for uid in gone if uid in units and units[uid].is_current]
    for key, group in _by_slot(fresh).items():
        holders.setdefault(key, []).extend(group)
    return {key: tuple(group) for key, group in holders.items() if group}


def _by_slot(units: Iterable[MemoryUnit]) -> dict[str, tuple[MemoryUnit, ...]]:
    holders: dict[str, list[MemoryUnit]] = {}
    for unit in units:
        slot = slot_of(unit) if unit.granularity == Granularity.FACT else None
        if slot is not None:
            holders.setdefault(slot[0], []).append(unit)
    return {key: tuple(units) for key, units in holders.items()}
