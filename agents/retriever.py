"""Retriever: dense + lexical + hypergraph candidates, entropy routing, fusion, budget packing.

Each pass searches with the state's current ``query`` (the question first, then the judge's
refinements); its ranking joins those of earlier passes (weighted by ``recipe.iteration_decay``)
and the merged ranking is packed into the token budget. The stages are in
:mod:`agents.retrieval`; this node reads the state, runs them and writes the state and the trace.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime

from agents._steps import StepClock, clock, step
from agents.context import RunContext
from agents.policy import RouteChoice
from agents.recipes import Recipe, get_recipe
from agents.results import Evidence
from agents.retrieval import (
    NamespaceView,
    Packed,
    QueryPlan,
    SourceHits,
    merge_passes,
    pack,
    plan_query,
    rank_candidates,
    search_sources,
    view_for,
)
from agents.retrieval.current import (
    asks_about_now,
    current_holders,
    prefer_successors,
    stale_turn_successors,
)
from agents.retrieval.decay import decayed
from agents.retrieval.decide import choose_route
from agents.retrieval.explain import explain_candidates
from agents.state import JSON, Candidate, ReadState

__all__ = ["retriever"]


def retriever(state: ReadState, runtime: Runtime[RunContext]) -> ReadState:
    """Find and pack evidence for the current query."""
    ctx = runtime.context
    recipe = get_recipe(ctx.recipe)
    query = state.get("query") or state["question"]
    iteration = state.get("iteration", 0)
    with clock() as timer:
        view = view_for(ctx.store, ctx.namespace)
        llm = ctx.llm if ctx.use_llm and iteration == 0 else None
        asked = state.get("asked_at")
        reference = datetime.fromisoformat(asked) if asked else None
        plan = plan_query(query, view.names, temporal=recipe.temporal, reference=reference, llm=llm)
        choice = _decide(ctx, state, view, plan, recipe, reference)
        recipe = choice.action.apply(recipe)
        if recipe.current_first:
            held = current_holders(ctx.store, ctx.namespace, state["question"], plan.entities)
            plan = replace(plan, current=held)
        lists, route = search_sources(ctx.store, ctx.namespace, view, plan, recipe)
        route = choice.action.scale_route(route)
        stages: dict[str, list[Candidate]] = {}
        ranking = rank_candidates(lists, view, plan, route, recipe, stages=stages)
        now = asks_about_now(state["question"])
        if recipe.access or (recipe.recency and now):
            recency = recipe.recency if now else 0.0
            ranking = stages["decay"] = decayed(
                ctx.store, ctx.namespace, ranking, recency=recency, access=recipe.access
            )
        if recipe.current_first and now:
            successors = stale_turn_successors(
                ctx.store, ctx.namespace, view, ranking, state["question"], recipe.granularities
            )
            ranking = stages["successor"] = prefer_successors(ranking, successors)
        passes = [*state.get("passes", []), ranking]
        candidates = merge_passes(passes, recipe.iteration_decay)
        outcomes: dict[str, str] = {}
        packed = pack(
            candidates,
            view,
            choice.action.budget(ctx.budget_tokens),
            dedupe_provenance=recipe.dedupe_provenance,
            outcomes=outcomes,
        )
    explained = explain_candidates(candidates, lists, stages, route, view.units, outcomes, packed)
    reason = f"recipe {recipe.name}, iteration {iteration + 1}: " + ", ".join(
        f"{s.name} {len(s.hits)}" for s in lists
    )
    trace = _trace(ctx, reason, plan, lists, route, candidates, packed, choice, timer, explained)
    return {
        "query": query,
        "iteration": iteration + 1,
        "passes": passes,
        "candidates": candidates,
        "evidence": [_evidence(p) for p in packed],
        "route": route,
        "route_action": choice.as_json(),
        "iterative": state.get("iterative", True) and choice.action.iterate,
        "trace": [trace],
    }


def _trace(
    ctx: RunContext,
    reason: str,
    plan: QueryPlan,
    lists: list[SourceHits],
    route: dict[str, float],
    candidates: list[Candidate],
    packed: list[Packed],
    choice: RouteChoice,
    timer: StepClock,
    explained: list[dict[str, Any]],
) -> JSON:
    """The retriever's trace step: what each source found, the route, each explained candidate
    (``explained``, see :mod:`agents.retrieval.explain`) and what was packed."""
    used = sum(p.tokens for p in packed)
    return step(
        "retriever",
        f"packed {len(packed)} units ({used}/{ctx.budget_tokens} tokens)",
        reason + (f"; route {_fmt(route)}" if route else ""),
        timer=timer,
        calls=plan.calls,
        fallback=plan.fallback,
        inputs=_plan_summary(plan),
        outputs={
            "candidates": len(candidates),
            "tokens": used,
            "sources": _source_sizes(lists),
            "policy": choice.as_json(),
        },
        retrieved=[(p.unit.id, round(p.score, 5)) for p in packed],
        route=route,
        candidates=explained,
    )


def _decide(
    ctx: RunContext,
    state: ReadState,
    view: NamespaceView,
    plan: QueryPlan,
    recipe: Recipe,
    reference: datetime | None,
) -> RouteChoice:
    """The run policy's routing choice (taken on the first pass, kept by the later ones)."""
    day = reference.date() if reference is not None else None
    previous = state.get("route_action")
    return choose_route(
        ctx.policy, ctx.store, ctx.namespace, view, plan, recipe, reference=day, previous=previous
    )


def _evidence(p: Packed) -> JSON:
    return Evidence(
        unit_id=p.unit.id,
        text=p.text,
        granularity=p.unit.granularity.value,
        score=p.score,
        source="+".join(p.sources),
        provenance=list(p.provenance),
        event_time=p.unit.event_time,
        current=p.unit.is_current,
        tokens=p.tokens,
    ).model_dump(mode="json")


def _plan_summary(plan: QueryPlan) -> JSON:
    return {
        "query": plan.query,
        "search_text": plan.search_text,
        "entities": plan.entities,
        "dates": [f"{a}..{b}" for a, b in plan.spans],
    }


def _source_sizes(lists: list[SourceHits]) -> dict[str, int]:
    return {s.name: len(s.hits) for s in lists}


def _fmt(route: dict[str, float]) -> str:
    return ", ".join(f"{g} {w:.2f}" for g, w in sorted(route.items()))
