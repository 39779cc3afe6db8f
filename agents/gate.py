"""The write gate: is a proposed unit already stored, a duplicate, an update, or new?

Every proposed unit is classified against what is stored, in order:

- ``skip``: its id is stored already (a replay: ids derive from content and provenance);
- ``new``: raw evidence (turns, session segments) is never gated further;
- ``update``: it sets an attribute slot of a subject that a current unit holds with another
  value ("moved to Denver" after "lives in Boston"); an inference never updates evidence;
- ``conflict``: it would be an update, but its source may not replace the holder's
  (:mod:`agents.trust`: a third party or the assistant against someone's own statement) and no
  second independent person backs it: it is stored as evidence and flagged, and the holder stays
  current (the read path's judge sees the disagreement);
- ``update`` too: a fact that says its subject's state changed ("I'm back on coffee") replaces
  the earlier fact it changes (:mod:`agents.state_change`; deterministic mode only);
- ``update`` too: an insight replaces a current insight it restates or contradicts
  (:mod:`agents.restate`); any other insight is added beside the ones stored;
- ``duplicate``: a current unit of the same granularity, speaker and kind is near-identical
  (cosine at or above the duplicate threshold);
- otherwise, with an LLM and similar stored units, ``judge.write`` decides; a failed call falls
  back to ``new``, loudly;
- ``new``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agents.restate import replaced_insight
from agents.results import Decision, WriteDecision
from agents.slots import slot_of
from agents.state_change import change_cue, changed_fact
from agents.trust import (
    CORROBORATION,
    independent_speakers,
    may_supersede,
    prevailing,
    refusal,
)
from memory.llm import LLMCall, LLMClient
from memory.model import Granularity, MemoryUnit, Namespace, UnitFilter, UnitKind
from memory.store import MemoryStore
from prompts.judge import WRITE, WriteVerdict

__all__ = ["GATED", "GateOutcome", "classify_units", "slot_of"]

GATED = frozenset({Granularity.FACT, Granularity.INSIGHT, Granularity.PERSONA})
"""Granularities the gate compares with what is stored (the others are raw evidence)."""
SIMILAR = 0.5
"""Cosine similarity above which a stored unit counts as similar (shown to the LLM judge)."""
_CHANGE_POOL = 10
"""Stored facts nearest a state-change fact that are checked for the one it changes."""


@dataclass
class GateOutcome:
    """The gate's decisions in the order proposed, with any LLM calls and fallback reasons."""

    decisions: list[WriteDecision] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)


def classify_units(
    store: MemoryStore,
    ns: Namespace,
    proposed: Sequence[MemoryUnit],
    duplicate_similarity: float,
    llm: LLMClient | None = None,
) -> GateOutcome:
    """Classify every proposed unit (see the module docstring for the order of the tests)."""
    gate = _Gate(store, ns, proposed, duplicate_similarity, llm)
    for unit in proposed:
        gate.outcome.decisions.append(gate.decide(unit))
    return gate.outcome


class _Gate:
    """One write's classification: what is stored, the slots it touches, the vectors it needs."""

    def __init__(
        self,
        store: MemoryStore,
        ns: Namespace,
        proposed: Sequence[MemoryUnit],
        duplicate_similarity: float,
        llm: LLMClient | None,
    ) -> None:
        self.store, self.ns, self.llm = store, ns, llm
        self.proposed = proposed
        self.duplicate_similarity = duplicate_similarity
        self.outcome = GateOutcome()
        self.stored = {u.id for u in store.get(ns, [u.id for u in proposed], access=False)}
        gated = [u for u in proposed if u.granularity in GATED and u.id not in self.stored]
        vectors = store.embed([u.text for u in gated]) if gated else np.zeros((0, 1), np.float32)
        self.vectors = {u.id: vectors[i] for i, u in enumerate(gated)}
        self.slots = _current_slots(store, ns, gated)
        self.claims: list[MemoryUnit] | None = None
        """Every stored fact, current or closed (loaded only when a claim needs backers)."""
        self.insights: tuple[list[MemoryUnit], dict[str, MemoryUnit]] | None = None
        """Current stored insights and their source facts (loaded for the first insight)."""
        self.replaced: set[str] = set()
        """Stored insights a proposed insight of this write already replaces."""

    def decide(self, unit: MemoryUnit) -> WriteDecision:
        if unit.id in self.stored:
            return _decision(unit, "skip", "already stored")
        if unit.granularity not in GATED:
            return _decision(unit, "new", "raw evidence")
        update = self._update(unit) or self._state_change(unit) or self._restatement(unit)
        if update is not None:
            return update
        similar = self._similar(unit)
        duplicate = self._duplicate(unit, similar)
        if duplicate is not None:
            return duplicate
        if self.llm is not None and similar:
            judged = self._ask_llm(self.llm, unit, similar)
            if judged is not None:
                return judged
        slot = slot_of(unit)
        if slot:
            self.slots[slot[0]] = unit
        return _decision(unit, "new", "no stored match")

    def _update(self, unit: MemoryUnit) -> WriteDecision | None:
        """An update when the unit sets a held slot to another value (evidence beats inference)."""
        slot = slot_of(unit)
        holder = self.slots.get(slot[0]) if slot else None
        if slot is None or holder is None or holder.id == unit.id:
            return None
        _, held_value = slot_of(holder) or ("", "")
        if unit.kind == UnitKind.INFERENCE and holder.kind == UnitKind.EVIDENCE:
            return None
        if held_value == slot[1]:
            return None
        change = f"{slot[0]}: {held_value!r} → {slot[1]!r}"
        if not may_supersede(unit, holder):
            backers = self._backers(unit, holder, slot)
            if len(backers) < CORROBORATION:
                reason = f"{change} refused: {refusal(unit, holder)}; kept as evidence, flagged"
                return _decision(unit, "conflict", reason, target=holder.id)
            change += f", corroborated by {', '.join(sorted(backers))}"
        self.slots[slot[0]] = unit
        return _decision(unit, "update", change, target=holder.id)

    def _state_change(self, unit: MemoryUnit) -> WriteDecision | None:
        """An update when the unit says that a state of its subject changed (no LLM only: in
        LLM mode ``judge.write`` decides; see :mod:`agents.state_change`)."""
        if self.llm is not None or unit.granularity != Granularity.FACT:
            return None
        if not unit.entities or change_cue(unit.text, unit.entities[0]) is None:
            return None
        flt = UnitFilter(granularities=frozenset({Granularity.FACT}), current_only=True)
        hits = self.store.search(self.ns, self.vectors[unit.id], k=_CHANGE_POOL, flt=flt)
        found = changed_fact(unit, [h.unit for h in hits], self.store.embed, may_supersede)
        if found is None:
            return None
        old, similarity = found
        cue = change_cue(unit.text, unit.entities[0])
        reason = f"state change ({cue!r}), topic cosine {similarity:.2f}"
        return _decision(unit, "update", reason, target=old.id)

    def _restatement(self, unit: MemoryUnit) -> WriteDecision | None:
        """An update when an insight restates or contradicts a current stored insight."""
        if unit.granularity != Granularity.INSIGHT:
            return None
        if self.insights is None:
            flt = UnitFilter(granularities=frozenset({Granularity.INSIGHT}), current_only=True)
            stored = self.store.units(self.ns, flt)
            wanted = {i for u in [*stored, *self.proposed] for i in u.derived_from}
            sources = self.store.get(self.ns, sorted(wanted), access=False)
            self.insights = (stored, {f.id: f for f in sources})
        stored, facts = self.insights
        found = replaced_insight(unit, stored, facts, self.replaced)
        if found is None:
            return None
        old, reason = found
        self.replaced.add(old.id)
        return _decision(unit, "update", reason, target=old.id)

    def _backers(self, unit: MemoryUnit, holder: MemoryUnit, slot: tuple[str, str]) -> set[str]:
        """The people who made ``unit``'s claim since ``holder`` was recorded (this batch too)."""
        if self.claims is None:
            flt = UnitFilter(granularities=frozenset({Granularity.FACT}))
            self.claims = self.store.units(self.ns, flt)
        same = [
            u for u in self.claims if u.recorded_at >= holder.recorded_at and slot_of(u) == slot
        ]
        same += [u for u in self.proposed if slot_of(u) == slot]
        return independent_speakers([*same, unit])

    def _similar(self, unit: MemoryUnit) -> list[tuple[MemoryUnit, float]]:
        """Current stored units of the same granularity most similar to ``unit``."""
        flt = UnitFilter(granularities=frozenset({unit.granularity}), current_only=True)
        hits = self.store.search(self.ns, self.vectors[unit.id], k=3, flt=flt)
        return [(h.unit, h.score) for h in hits if h.unit.id != unit.id and h.score >= SIMILAR]

    def _duplicate(
        self, unit: MemoryUnit, similar: Sequence[tuple[MemoryUnit, float]]
    ) -> WriteDecision | None:
        for hit, score in similar:
            same_voice = hit.speaker == unit.speaker and hit.kind == unit.kind
            if score >= self.duplicate_similarity and same_voice:
                reason = f"cosine {score:.3f} to a current fact of the same speaker"
                return _decision(unit, "duplicate", reason, target=hit.id)
        return None

    def _ask_llm(
        self, llm: LLMClient, unit: MemoryUnit, similar: Sequence[tuple[MemoryUnit, float]]
    ) -> WriteDecision | None:
        """The model's verdict on a unit with similar stored units; None keeps it as new."""
        value, call, fallback = WRITE.run(
            llm,
            unit.text,
            [(hit.id, hit.text) for hit, _ in similar],
            fallback=lambda: WriteVerdict(decision="new", target_id=None, reason="fallback"),
        )
        self.outcome.calls.extend([call] if call else [])
        if fallback is not None:
            self.outcome.fallbacks.append(fallback)
            return None
        if value.decision == "new":
            return None
        if value.target_id not in {hit.id for hit, _ in similar}:
            reason = f"judge.write named unknown target {value.target_id!r}; kept as new"
            self.outcome.fallbacks.append(reason)
            return None
        if value.decision == "duplicate":
            return _decision(unit, "duplicate", value.reason, target=value.target_id)
        target = next(hit for hit, _ in similar if hit.id == value.target_id)
        if target.kind == UnitKind.EVIDENCE and not may_supersede(unit, target):
            reason = f"judge.write said update, refused: {refusal(unit, target)}; flagged"
            return _decision(unit, "conflict", reason, target=target.id)
        return _decision(unit, "update", value.reason, target=value.target_id)


def _decision(
    unit: MemoryUnit, decision: Decision, reason: str, *, target: str | None = None
) -> WriteDecision:
    return WriteDecision(
        unit_id=unit.id,
        granularity=unit.granularity.value,
        text=unit.text,
        decision=decision,
        target_id=target,
        reason=reason,
    )


def _current_slots(
    store: MemoryStore, ns: Namespace, units: Sequence[MemoryUnit]
) -> dict[str, MemoryUnit]:
    """The current stored holder of each slot the proposed units set: of several current units,
    the one that stands (:func:`agents.trust.prevailing`), not merely the newest."""
    subjects = {u.entities[0] for u in units if slot_of(u)}
    if not subjects:
        return {}
    claims: dict[str, list[MemoryUnit]] = {}
    for unit in store.units_about(ns, subjects, granularities=GATED):
        slot = slot_of(unit)
        if slot:
            claims.setdefault(slot[0], []).append(unit)
    return {key: prevailing(group) for key, group in claims.items()}
