"""Refresher: applies the judge's decisions as targeted store operations.

- ``new``: store the unit;
- ``duplicate``: store it, then merge it into the unit it duplicates (provenance is kept, the
  duplicate is closed onto the original, and the merge is in both units' history);
- ``update``: the new unit supersedes the old one (the old one is closed, never erased);
- ``conflict``: store the unit beside the one it contradicts, marked as disputing it, closing
  nothing (the gate refused it the standing to replace that one);
- ``skip``: nothing (a replay of something already stored).

On the read path it resolves conflicts the judge found: of the facts giving one slot different
values, the one that stands (:func:`agents.trust.prevailing`: the newest, unless a third party or
the assistant contradicts someone's own statement) stays current and the others are closed onto
it. Deletion happens only on an explicit request (``forget``), never here. After a write it
schedules the reflector when enough new facts have accumulated since the last reflection.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents._steps import clock, step
from agents.context import RunContext
from agents.policy import HandSetPolicy, ReflectAction
from agents.reflection_clock import facts_since_reflection
from agents.results import WriteDecision
from agents.slots import slot_of
from agents.state import ReadState, WriteState
from agents.trust import may_supersede, prevailing, refusal
from memory.model import MemoryUnit
from memory.store import Change, merging, superseding

__all__ = ["facts_since_reflection", "refresh_read", "refresh_write"]


def refresh_write(state: WriteState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Store what the judge admitted; supersede and merge where it said so."""
    ctx = runtime.context
    ns, store = ctx.namespace, ctx.store
    units = {u["id"]: MemoryUnit.model_validate(u) for u in state.get("proposed", [])}
    decisions = [WriteDecision.model_validate(v) for v in state.get("verdicts", [])]
    with clock() as timer:
        for d in decisions:
            if d.decision == "conflict":  # stored with the statement it disputes
                units[d.unit_id] = units[d.unit_id].model_copy(update={"disputes": d.target_id})
        kept = ("new", "duplicate", "conflict")
        fresh = [units[d.unit_id] for d in decisions if d.decision in kept]
        written: dict[str, MemoryUnit] = {u.id: u for u in fresh}
        changes = [Change("put", tuple(fresh), "constructor")]

        def latest(unit_id: str) -> MemoryUnit:
            """A unit as this batch leaves it (it may have been written or closed just now)."""
            return written.get(unit_id) or store.get_one(ns, unit_id)

        for d in decisions:
            if d.target_id is None or d.decision not in ("duplicate", "update"):
                continue
            target = latest(d.target_id)
            if d.decision == "duplicate":
                change = merging(target, [latest(d.unit_id)], d.reason)
            elif target.is_current:
                change = superseding(target, units[d.unit_id], d.reason)
            else:
                continue  # an earlier change of this batch already closed the target
            changes.append(change)
            written.update({u.id: u for u in change.units})
        store.apply(ns, changes, run_id=ctx.run_id)
    forced = bool(state.get("force_reflect"))
    timing = None if state.get("reflect_done") or forced else _timing(ctx)
    due = not state.get("reflect_done") and (forced or (timing is not None and timing.reflect))
    reflect = due and (forced or ctx.reflection == "inline")
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.decision] = counts.get(d.decision, 0) + 1
    when = "" if not due else "; reflection due" + ("" if reflect else ", deferred")
    return {
        "applied": [d.model_dump(mode="json") for d in decisions],
        "reflect": reflect,
        "reflect_due": due and not reflect,
        "trace": [
            step(
                "refresher",
                f"stored {len(fresh)}, superseded {counts.get('update', 0)}, "
                f"merged {counts.get('duplicate', 0)}, flagged {counts.get('conflict', 0)}",
                "applied the judge's decisions" + when,
                timer=timer,
                outputs={**counts, "policy": timing.as_json()} if timing else counts,
            )
        ],
    }


def _timing(ctx: RunContext) -> ReflectAction:
    """Whether to reflect now: the run's policy (hand-set: at ``reflect_every`` new facts)."""
    every = ctx.thresholds.reflect_every
    if ctx.policy is None and every <= 0:
        return ReflectAction(False, 0, every)
    count = facts_since_reflection(ctx.store, ctx.namespace)
    return ReflectAction((ctx.policy or HandSetPolicy()).reflect(count, every), count, every)


def refresh_read(state: ReadState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Resolve each conflict: the fact that stands closes the others of its slot."""
    ctx = runtime.context
    ns, store = ctx.namespace, ctx.store
    closed: list[str] = []
    with clock() as timer:
        for group in state.get("conflicts", []):
            units = [u for u in store.get(ns, group) if u.is_current]
            if len(units) < 2:
                continue
            standing = prevailing(units)
            for old in units:
                if slot_of(old) == slot_of(standing):
                    continue  # the standing unit, or one agreeing with it
                why = (
                    "a later claim of equal or better standing"
                    if may_supersede(old, standing)
                    else refusal(old, standing)
                )
                reason = f"conflict resolved for {standing.id}: {why}"
                store.supersede(ns, old.id, standing, reason=reason)
                closed.append(old.id)
    return {
        "resolved": closed,
        "conflicts": [],
        "trace": [
            step(
                "refresher",
                f"superseded {len(closed)} conflicting facts",
                "the newest fact of each slot wins unless it lacks the standing to replace "
                "someone's own statement; the others are closed, not erased",
                timer=timer,
                outputs={"closed": closed},
            )
        ],
    }
