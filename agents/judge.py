"""Judge: gates what is written and decides whether what was found is enough.

Write path (:func:`judge_write`): each proposed unit is classified against what is stored —
``skip``, ``duplicate``, ``update`` or ``new`` (:mod:`agents.gate`).

Read path (:func:`judge_read`): the evidence is ``sufficient``, ``insufficient`` (with a refined
query for another pass, :mod:`agents.sufficiency`) or in ``conflict`` (two current facts give one
attribute slot different values). In LLM mode ``judge.sufficiency`` gives the verdict unless
there is a conflict, falling back to the deterministic one, loudly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from langgraph.runtime import Runtime

from agents._steps import clock, decision_traces, step
from agents.context import RunContext
from agents.gate import classify_units
from agents.policy import WriteAction
from agents.results import Evidence, WriteDecision
from agents.retrieval import view_for
from agents.state import ReadState, WriteState
from agents.sufficiency import Sufficiency, find_conflicts, judge_sufficiency
from agents.write_policy import revise_writes
from memory.llm import LLMCall, LLMClient
from memory.model import MemoryUnit
from prompts.judge import SUFFICIENCY, SufficiencyVerdict

__all__ = ["judge_read", "judge_write"]


def judge_write(state: WriteState, runtime: Runtime[RunContext]) -> WriteState:
    """Classify every proposed unit as new, duplicate, update or skip."""
    ctx = runtime.context
    with clock() as timer:
        proposed = [MemoryUnit.model_validate(u) for u in state.get("proposed", [])]
        outcome = classify_units(
            ctx.store,
            ctx.namespace,
            proposed,
            ctx.thresholds.duplicate_similarity,
            ctx.llm if ctx.use_llm else None,
        )
        decisions = list(outcome.decisions)
        actions: list[WriteAction] = []
        if ctx.policy is not None:
            decisions, actions = revise_writes(
                ctx.policy, ctx.store, ctx.namespace, proposed, decisions
            )
    counts = Counter(d.decision for d in decisions)
    trace = step(
        "judge",
        ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to judge",
        _notable(decisions) or "no proposed unit matched a stored one",
        timer=timer,
        calls=outcome.calls,
        fallback="; ".join(outcome.fallbacks) or None,
        inputs={"proposed": len(proposed)},
        outputs={**counts, "policy": [a.as_json() for a in actions]} if actions else dict(counts),
        decisions=decision_traces(outcome.decisions),
    )
    return {
        "verdicts": [d.model_dump(mode="json") for d in decisions],
        "trace": [trace],
    }


def _notable(decisions: Sequence[WriteDecision]) -> str:
    matched = [d for d in decisions if d.decision in ("duplicate", "update", "conflict")][:10]
    return "; ".join(f"{d.decision} {d.unit_id[:10]}: {d.reason}" for d in matched)


def judge_read(state: ReadState, runtime: Runtime[RunContext]) -> ReadState:
    """Decide whether the packed evidence answers the question; refine the query if not."""
    ctx = runtime.context
    question = state["question"]
    calls: list[LLMCall] = []
    fallback: str | None = None
    with clock() as timer:
        evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
        conflicts = find_conflicts(ctx.store, ctx.namespace, [e.unit_id for e in evidence])
        units = view_for(ctx.store, ctx.namespace).units
        verdict = judge_sufficiency(question, state.get("query", ""), evidence, units)
        if conflicts:
            n = len(conflicts)
            verdict = Sufficiency("conflict", f"{n} slot(s) with disagreeing current facts")
        elif ctx.use_llm and ctx.llm is not None:
            verdict, calls, fallback = _llm_sufficiency(ctx.llm, question, evidence, verdict)
    refined = verdict.refined if verdict.verdict == "insufficient" else None
    update: ReadState = {"verdict": verdict.verdict, "conflicts": conflicts}
    if refined:
        update["query"] = refined
    update["trace"] = [
        step(
            "judge",
            verdict.verdict,
            verdict.reason,
            timer=timer,
            calls=calls,
            fallback=fallback,
            inputs={"evidence": len(evidence), "iteration": state.get("iteration", 0)},
            outputs={"refined_query": refined, "conflicts": conflicts},
        )
    ]
    return update


def _llm_sufficiency(
    llm: LLMClient, question: str, evidence: Sequence[Evidence], deterministic: Sufficiency
) -> tuple[Sufficiency, list[LLMCall], str | None]:
    """The model's verdict (``judge.sufficiency``); the deterministic one when it fails."""
    value, call, fallback = SUFFICIENCY.run(
        llm,
        question,
        [(e.unit_id, e.text) for e in evidence],
        fallback=lambda: SufficiencyVerdict(
            sufficient=deterministic.verdict == "sufficient",
            reason=deterministic.reason,
            refined_query=deterministic.refined,
            conflicting_ids=[],
        ),
    )
    verdict = Sufficiency(
        "sufficient" if value.sufficient else "insufficient", value.reason, value.refined_query
    )
    return verdict, [call] if call else [], fallback
