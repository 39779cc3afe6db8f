"""Judge: gates what is written and decides whether what was found is enough.

Write path (:func:`judge_write`): each proposed unit is classified against what is stored —
``skip`` (already stored: a replay), ``duplicate`` (a near-identical current fact of the same
speaker), ``update`` (the same attribute slot of the same subject with another value: the newer
fact supersedes), or ``new``. An inference never updates evidence.

Read path (:func:`judge_read`): evidence is ``sufficient`` when it mentions every entity of the
question (and carries dates when the question asks "when"), ``conflict`` when two current facts
give one slot different values, else ``insufficient`` — and then it proposes a refined query that
adds the bridging entities found so far, for another retrieval pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agents._steps import clock, step
from agents.analysis import content_tokens
from agents.retrieval import cached_query_analysis
from graphs.context import RunContext
from graphs.results import Evidence, WriteDecision
from graphs.state import ReadState, WriteState
from memory.llm import LLMCall, LLMClient
from memory.model import Granularity, MemoryUnit, Namespace, UnitFilter, UnitKind
from memory.store import MemoryStore
from prompts import get_prompt
from prompts.judge import SufficiencyVerdict, WriteVerdict

__all__ = ["classify_units", "judge_read", "judge_write", "slot_of"]

_RELATIVE_CLAUSE = re.compile(
    r"\b(?:person|one|friend|people|someone|man|woman)\s+(?:who|that|whose)\b", re.IGNORECASE
)
"""A question that names someone by a relation ("the person who…"): worth a bridging pass."""
_SIMILAR = 0.5
_GATED = frozenset({Granularity.FACT, Granularity.INSIGHT, Granularity.PERSONA})


def slot_of(unit: MemoryUnit) -> tuple[str, str] | None:
    """(slot key, value) of a unit that sets an attribute: ``("sam|lives_in", "denver")``."""
    if not unit.attribute or "=" not in unit.attribute or not unit.entities:
        return None
    name, _, value = unit.attribute.partition("=")
    return f"{unit.entities[0].casefold()}|{name}", value


def judge_write(state: WriteState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Classify every proposed unit as new, duplicate, update or skip."""
    ctx = runtime.context
    with clock() as timer:
        proposed = [MemoryUnit.model_validate(u) for u in state.get("proposed", [])]
        decisions, calls, fallbacks = classify_units(
            ctx.store,
            ctx.namespace,
            proposed,
            ctx.thresholds.duplicate_similarity,
            ctx.llm if ctx.use_llm else None,
        )
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.decision] = counts.get(d.decision, 0) + 1
    notable = [d for d in decisions if d.decision in ("duplicate", "update")][:10]
    return {
        "verdicts": [d.model_dump(mode="json") for d in decisions],
        "trace": [
            step(
                "judge",
                ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to judge",
                "; ".join(f"{d.decision} {d.unit_id[:10]}: {d.reason}" for d in notable)
                or "no proposed unit matched a stored one",
                timer=timer,
                calls=calls,
                fallback="; ".join(fallbacks) or None,
                inputs={"proposed": len(proposed)},
                outputs=counts,
            )
        ],
    }


def classify_units(
    store: MemoryStore,
    ns: Namespace,
    proposed: Sequence[MemoryUnit],
    duplicate_similarity: float,
    llm: LLMClient | None = None,
) -> tuple[list[WriteDecision], list[LLMCall], list[str]]:
    """The write gate's decisions in the order of ``proposed``, with any LLM calls and fallbacks.

    With ``llm``, a fact that has similar stored facts but no deterministic verdict is put to the
    model (``judge.write``); a failed call falls back to the deterministic ``new``, loudly.
    """
    calls: list[LLMCall] = []
    fallbacks: list[str] = []
    stored = {u.id for u in store.get(ns, [u.id for u in proposed])}
    gated = [u for u in proposed if u.granularity in _GATED and u.id not in stored]
    vectors = store.embed([u.text for u in gated]) if gated else np.zeros((0, 1), np.float32)
    vector_of = {u.id: vectors[i] for i, u in enumerate(gated)}
    slots = _current_slots(store, ns, gated)
    decisions: list[WriteDecision] = []
    for unit in proposed:
        base = {"unit_id": unit.id, "granularity": unit.granularity.value, "text": unit.text}
        if unit.id in stored:
            decisions.append(WriteDecision(**base, decision="skip", reason="already stored"))
            continue
        if unit.granularity not in _GATED:
            decisions.append(WriteDecision(**base, decision="new", reason="raw evidence"))
            continue
        slot = slot_of(unit)
        holder = slots.get(slot[0]) if slot else None
        if slot and holder is not None and holder.id != unit.id:
            _, held_value = slot_of(holder) or ("", "")
            can_update = not (unit.kind == UnitKind.INFERENCE and holder.kind == UnitKind.EVIDENCE)
            if can_update and held_value != slot[1]:
                decisions.append(
                    WriteDecision(
                        **base,
                        decision="update",
                        target_id=holder.id,
                        reason=f"{slot[0]}: {held_value!r} → {slot[1]!r}",
                    )
                )
                slots[slot[0]] = unit
                continue
        similar = _similar(store, ns, unit, vector_of[unit.id])
        duplicate = next(
            (
                (hit.id, score)
                for hit, score in similar
                if score >= duplicate_similarity
                and hit.speaker == unit.speaker
                and hit.kind == unit.kind
            ),
            None,
        )
        if duplicate is not None:
            target, similarity = duplicate
            decisions.append(
                WriteDecision(
                    **base,
                    decision="duplicate",
                    target_id=target,
                    reason=f"cosine {similarity:.3f} to a current fact of the same speaker",
                )
            )
            continue
        if llm is not None and similar:
            decision, call, fallback = _llm_write(llm, unit, similar, base)
            calls.extend([call] if call else [])
            fallbacks.extend([fallback] if fallback else [])
            if decision is not None:
                decisions.append(decision)
                continue
        if slot:
            slots[slot[0]] = unit
        decisions.append(WriteDecision(**base, decision="new", reason="no stored match"))
    return decisions, calls, fallbacks


def _llm_write(
    llm: LLMClient,
    unit: MemoryUnit,
    similar: Sequence[tuple[MemoryUnit, float]],
    base: dict[str, str],
) -> tuple[WriteDecision | None, LLMCall | None, str | None]:
    """The model's verdict on a fact with similar stored facts; None means keep it as new."""
    value, call, fallback = get_prompt("judge.write").run(
        llm,
        unit.text,
        [(hit.id, hit.text) for hit, _ in similar],
        fallback=lambda: WriteVerdict(decision="new", target_id=None, reason="fallback"),
    )
    known = {hit.id for hit, _ in similar}
    if fallback is not None or value.decision == "new":
        return None, call, fallback
    if value.target_id not in known:
        return None, call, f"judge.write named unknown target {value.target_id!r}; kept as new"
    decision = "update" if value.decision == "conflict" else value.decision
    return (
        WriteDecision(**base, decision=decision, target_id=value.target_id, reason=value.reason),
        call,
        None,
    )


def _current_slots(
    store: MemoryStore, ns: Namespace, units: Sequence[MemoryUnit]
) -> dict[str, MemoryUnit]:
    """Current stored units holding the slots the proposed units set, found via the hypergraph."""
    subjects = {u.entities[0] for u in units if slot_of(u)}
    if not subjects:
        return {}
    vertices = store.hypergraph.find_vertices(ns, subjects)
    edges = store.hypergraph.incident_edges(ns, [v.id for v in vertices], current_only=True)
    holders: dict[str, MemoryUnit] = {}
    candidates = [e.id for e in edges if e.granularity in _GATED]
    for unit in sorted(store.get(ns, candidates), key=lambda u: u.event_time or u.recorded_at):
        slot = slot_of(unit)
        if slot and unit.is_current:
            holders[slot[0]] = unit
    return holders


def _similar(
    store: MemoryStore, ns: Namespace, unit: MemoryUnit, vector: np.ndarray
) -> list[tuple[MemoryUnit, float]]:
    """Current stored units of the same granularity most similar to ``unit`` (cosine ≥ 0.5)."""
    flt = UnitFilter(granularities=frozenset({unit.granularity}), current_only=True)
    hits = store.search(ns, vector, k=3, flt=flt)
    return [(h.unit, h.score) for h in hits if h.unit.id != unit.id and h.score >= _SIMILAR]


def judge_read(state: ReadState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Decide whether the packed evidence answers the question; refine the query if not."""
    ctx = runtime.context
    with clock() as timer:
        evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
        conflicts = find_conflicts(ctx.store, ctx.namespace, [e.unit_id for e in evidence])
        units = ctx.store.hot(ctx.namespace).units
        verdict, reason, refined = _sufficiency(
            state["question"], state.get("query", ""), evidence, units
        )
        calls: list[LLMCall] = []
        fallback = None
        if not conflicts and ctx.use_llm:
            verdict, reason, refined, calls, fallback = _llm_sufficiency(
                ctx, state["question"], evidence, (verdict, reason, refined)
            )
        if conflicts:
            verdict, reason = "conflict", f"{len(conflicts)} slot(s) with disagreeing current facts"
    update: dict[str, Any] = {"verdict": verdict, "conflicts": conflicts}
    if verdict == "insufficient" and refined:
        update["query"] = refined
    update["trace"] = [
        step(
            "judge",
            verdict,
            reason,
            timer=timer,
            calls=calls,
            fallback=fallback,
            inputs={"evidence": len(evidence), "iteration": state.get("iteration", 0)},
            outputs={
                "refined_query": refined if verdict == "insufficient" else None,
                "conflicts": conflicts,
            },
        )
    ]
    return update


def find_conflicts(store: MemoryStore, ns: Namespace, unit_ids: Sequence[str]) -> list[list[str]]:
    """Groups of current evidence units that give one slot different values."""
    groups: dict[str, dict[str, str]] = {}
    for unit in store.get(ns, list(unit_ids)):
        slot = slot_of(unit)
        if slot and unit.is_current:
            groups.setdefault(slot[0], {}).setdefault(slot[1], unit.id)
    return [sorted(values.values()) for values in groups.values() if len(values) > 1]


def _sufficiency(
    question: str, query: str, evidence: Sequence[Evidence], units: dict[str, MemoryUnit]
) -> tuple[str, str, str | None]:
    if not evidence:
        return "insufficient", "no evidence found", None
    analysis = cached_query_analysis(question)
    text = " ".join(e.text for e in evidence).casefold()
    names = [e for e in analysis.entities if e[:1].isupper()]
    missing = [e for e in names if e.casefold() not in text]
    if analysis.temporal and not any(e.event_time is not None for e in evidence):
        return "insufficient", "the question asks when, and no evidence is dated", None
    if missing:
        return (
            "insufficient",
            f"evidence never mentions {', '.join(missing)}",
            _refine(question, query, evidence, analysis.entities, units),
        )
    if _RELATIVE_CLAUSE.search(question) and query == question:
        refined = _refine(question, query, evidence, analysis.entities, units)
        if refined:
            return (
                "insufficient",
                "the question describes someone by a relation: following it",
                refined,
            )
    named = ", ".join(names) or "none named"
    return "sufficient", f"evidence mentions every name in the question ({named})", None


def _refine(
    question: str,
    query: str,
    evidence: Sequence[Evidence],
    entities: Sequence[str],
    units: dict[str, MemoryUnit],
) -> str | None:
    """A follow-up query: the names the best evidence introduces (the bridge of a multi-hop)
    plus the question's words that evidence does not cover yet.

    "Where does the person who helped Sam pick Biscuit work?" with "Sam's sister Maya helped Sam
    pick him" on top becomes "Maya where person work biscuit".
    """
    seen = {e.casefold() for e in entities} | set(query.casefold().split())
    for item in evidence[:3]:
        unit = units.get(item.unit_id)
        names = [
            n
            for n in (unit.entities if unit else ())
            if n[:1].isupper() and n.casefold() not in seen
        ]
        if not names:
            continue
        covered = set(content_tokens(item.text))
        rest = [w for w in dict.fromkeys(content_tokens(question)) if w not in covered]
        return " ".join([*names[:2], *rest]) if rest or names else None
    return None


def _llm_sufficiency(
    ctx: RunContext,
    question: str,
    evidence: Sequence[Evidence],
    deterministic: tuple[str, str, str | None],
) -> tuple[str, str, str | None, list[LLMCall], str | None]:
    verdict, reason, refined = deterministic
    value, call, fallback = get_prompt("judge.sufficiency").run(
        ctx.llm,
        question,
        [(e.unit_id, e.text) for e in evidence],
        fallback=lambda: SufficiencyVerdict(
            sufficient=verdict == "sufficient",
            reason=reason,
            refined_query=refined,
            conflicting_ids=[],
        ),
    )
    calls = [call] if call else []
    label = "sufficient" if value.sufficient else "insufficient"
    return label, value.reason, value.refined_query, calls, fallback
