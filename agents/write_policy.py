"""The write side of the policy hook: a policy may revise the judge's decision on each unit.

The gate (:mod:`agents.gate`) proposes a decision; the run's policy sees the unit's features and
keeps it, or turns it into ``new`` or ``skip`` (a policy cannot invent the target a duplicate or
an update needs). Each decision is recorded as a :class:`~agents.policy.WriteAction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.gate import slot_of
from agents.policy import Policy, WriteAction, WriteFeatures
from agents.results import WriteDecision
from memory.errors import InvalidInputError
from memory.model import MemoryUnit, Namespace, UnitFilter
from memory.store import MemoryStore

__all__ = ["revise_writes"]


def revise_writes(
    policy: Policy,
    store: MemoryStore,
    ns: Namespace,
    proposed: Sequence[MemoryUnit],
    decisions: Sequence[WriteDecision],
) -> tuple[list[WriteDecision], list[WriteAction]]:
    """The decisions after ``policy`` saw each unit, and the actions taken (in order)."""
    units = {u.id: u for u in proposed}
    vectors = store.embed([u.text for u in proposed]) if proposed else np.zeros((0, 1))
    rows = {u.id: i for i, u in enumerate(proposed)}
    revised: list[WriteDecision] = []
    actions: list[WriteAction] = []
    for d in decisions:
        unit = units.get(d.unit_id)
        similarity = 0.0
        if unit is not None:
            flt = UnitFilter(granularities=frozenset({unit.granularity}), current_only=True)
            hits = store.search(ns, vectors[rows[unit.id]], k=2, flt=flt)
            similarity = max((h.score for h in hits if h.unit.id != unit.id), default=0.0)
        same_slot = unit is not None and slot_of(unit) is not None and d.decision == "update"
        features = WriteFeatures(d.granularity, float(similarity), same_slot)
        chosen = policy.write(features, d.decision)
        if chosen != d.decision:
            if chosen not in ("new", "skip"):
                raise InvalidInputError(
                    f"policy {policy.name!r} turned {d.decision!r} into {chosen!r}; a policy may "
                    "only keep the gate's decision or choose new or skip"
                )
            reason = f"policy {policy.name}: {chosen} instead of {d.decision}"
            d = d.model_copy(update={"decision": chosen, "target_id": None, "reason": reason})
        revised.append(d)
        actions.append(WriteAction(d.unit_id, d.decision, features))
    return revised, actions
