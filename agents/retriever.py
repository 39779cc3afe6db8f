"""Retriever: dense + lexical + hypergraph candidates, entropy routing, fusion, budget packing.

Each iteration searches with the state's current ``query`` (the question first, then the judge's
refinements) and merges what it finds into the candidates of earlier iterations; later finds are
discounted so a refinement adds evidence without pushing out what the question itself found.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from langgraph.runtime import Runtime

from agents._steps import clock, step
from agents.recipes import get_recipe
from agents.retrieval import (
    NamespaceView,
    cached_query_analysis,
    day_ranges,
    dense_candidates,
    fuse,
    graph_candidates,
    pack,
    present,
    route_weights,
    spread_to_neighbours,
    view_for,
)
from graphs.context import RunContext
from graphs.results import Evidence
from graphs.state import Candidate, ReadState
from memory.llm import LLMCall
from prompts import get_prompt
from prompts.retriever import QueryAnalysis as PromptQueryAnalysis

__all__ = ["retriever"]


def retriever(state: ReadState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Find and pack evidence for the current query."""
    ctx = runtime.context
    ns, store = ctx.namespace, ctx.store
    recipe = get_recipe(ctx.recipe)
    question = state["question"]
    query = state.get("query") or question
    iteration = state.get("iteration", 0)
    with clock() as timer:
        view = view_for(store, ns)
        analysis = cached_query_analysis(query, view.names)
        entities = list(analysis.entities)
        search_text: str = query
        calls: list[LLMCall] = []
        fallback: str | None = None
        if ctx.use_llm and iteration == 0:
            search_text, extra, calls, fallback = _llm_analysis(ctx, query)
            entities += [e for e in extra if e not in entities]
        spans = [(m.start, m.end) for m in analysis.dates] if recipe.temporal else []
        lists: dict[str, tuple[float, list[tuple[str, float]]]] = {}
        dense = []
        if recipe.dense:
            dense = dense_candidates(store, ns, store.embed([search_text])[0], recipe)
            lists["dense"] = (recipe.dense_weight, dense)
        if recipe.lexical:
            lists["lexical"] = (
                recipe.lexical_weight,
                view.lexical(search_text, recipe.pool, recipe.granularities),
            )
        route = route_weights(view.units, dense) if recipe.router else {}
        if recipe.graph:
            seeds = [
                (uid, s)
                for uid, s, _ in fuse(lists, view.units, rrf_k=recipe.rrf_k, route=route)[:5]
            ]
            ranked = graph_candidates(store, ns, entities, day_ranges(spans), seeds, recipe)
            allowed = recipe.granularities
            ranked = [
                (u, s)
                for u, s in ranked
                if u in view.units and view.units[u].granularity in allowed
            ]
            lists["graph"] = (recipe.graph_weight, ranked)
        fused = fuse(lists, view.units, rrf_k=recipe.rrf_k, route=route, in_range=spans)
        if recipe.context_share > 0:
            fused = spread_to_neighbours(fused, view, recipe.context_share)
        named = {e.casefold() for e in entities}
        if recipe.speaker_boost != 1.0 and named:
            fused = _favour_speakers(fused, view, named, recipe.speaker_boost)
        candidates = _merge(
            state.get("candidates", []), fused, recipe.iteration_decay**iteration, recipe.rrf_k
        )
        packed = pack(
            [(c["unit_id"], c["score"], c["sources"]) for c in candidates],
            view,
            ctx.budget_tokens,
            dedupe_provenance=recipe.dedupe_provenance,
        )
    evidence = [
        Evidence(
            unit_id=p.unit.id,
            text=present(p.unit),
            granularity=p.unit.granularity.value,
            score=p.score,
            source="+".join(p.sources),
            provenance=list(p.unit.provenance),
            event_time=p.unit.event_time,
            current=p.unit.is_current,
            tokens=p.tokens,
        ).model_dump(mode="json")
        for p in packed
    ]
    used = sum(p.tokens for p in packed)
    return {
        "query": query,
        "iteration": iteration + 1,
        "candidates": candidates,
        "evidence": evidence,
        "route": route,
        "trace": [
            step(
                "retriever",
                f"packed {len(packed)} units ({used}/{ctx.budget_tokens} tokens)",
                f"recipe {recipe.name}, iteration {iteration + 1}: "
                + ", ".join(f"{name} {len(r)}" for name, (_, r) in lists.items())
                + (f"; route {_fmt(route)}" if route else ""),
                timer=timer,
                calls=calls,
                fallback=fallback,
                inputs={
                    "query": query,
                    "search_text": search_text,
                    "entities": entities,
                    "dates": [f"{a}..{b}" for a, b in spans],
                },
                outputs={"candidates": len(candidates), "tokens": used},
                retrieved=[(p.unit.id, round(p.score, 5)) for p in packed],
            )
        ],
    }


def _llm_analysis(
    ctx: RunContext, question: str
) -> tuple[str, list[str], list[LLMCall], str | None]:
    """The model's search query and entities for the question (``retriever.analyze``).

    On failure the question itself is searched, and the fallback is recorded.
    """
    value, call, fallback = get_prompt("retriever.analyze").run(
        ctx.llm,
        question,
        fallback=lambda: PromptQueryAnalysis(rewritten_query=question),
    )
    text = value.rewritten_query.strip() or question
    if fallback is None and text != question:
        text = f"{question} {text}"  # the rewrite adds words; the question keeps its own
    return text, [e for e in value.entities if e.strip()], [call] if call else [], fallback


def _merge(
    previous: list[Candidate],
    fresh: list[tuple[str, float, list[str]]],
    weight: float,
    rrf_k: float,
) -> list[Candidate]:
    """Interleave the earlier ranking with this pass's: first of each, second of each, and so on.

    A refined query exists because the judge found the first pass lacking, so its best finds get
    places near the top instead of queueing behind everything found before. Scores are
    re-expressed as reciprocal ranks of the merged order (``weight`` scales this pass's side).
    """
    if not previous:
        return [
            Candidate(unit_id=uid, score=score, sources=sources) for uid, score, sources in fresh
        ]
    old = [(c["unit_id"], c["sources"]) for c in previous]
    new = [(uid, sources) for uid, _, sources in fresh]
    order: dict[str, list[str]] = {}
    for pair in zip_longest(old, new):
        for item in pair:
            if item is not None:
                uid, sources = item
                order[uid] = list(dict.fromkeys([*order.get(uid, []), *sources]))
    top = previous[0]["score"]
    return [
        Candidate(
            unit_id=uid,
            score=top * rrf_k / (rrf_k + rank) * (1 if rank == 0 else weight),
            sources=sources,
        )
        for rank, (uid, sources) in enumerate(order.items())
    ]


def _favour_speakers(
    fused: list[tuple[str, float, list[str]]],
    view: NamespaceView,
    named: set[str],
    boost: float,
) -> list[tuple[str, float, list[str]]]:
    """Scores of units said by a person the question names, multiplied by ``boost``.

    "What does Caroline like?" is mostly answered by what Caroline said.
    """
    out = []
    for uid, score, sources in fused:
        speaker = view.units[uid].speaker
        out.append(
            (uid, score * boost if speaker and speaker.casefold() in named else score, sources)
        )
    out.sort(key=lambda item: -item[1])
    return out


def _fmt(route: dict[str, float]) -> str:
    return ", ".join(f"{g} {w:.2f}" for g, w in sorted(route.items()))
