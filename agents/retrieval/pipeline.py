"""The read path's stages in order, for one pass: sources → route → fuse → adjust.

The retriever node calls :func:`search_sources` and :func:`rank_candidates`, then merges the pass
with earlier ones (:mod:`agents.retrieval.iterations`) and packs (:mod:`agents.retrieval.pack`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agents.recipes import Recipe
from agents.retrieval.current import prefer_current
from agents.retrieval.fuse import (
    answers_before_questions,
    boost_in_range,
    favour_speakers,
    favour_time_words,
    fuse,
    spread_to_neighbours,
)
from agents.retrieval.rerank import (
    budget_scores,
    candidate_features,
    default_reranker,
    head_scores,
    rerank_head,
)
from agents.retrieval.route import route_weights
from agents.retrieval.sources import MAX_SEED_HITS, dense_hits, graph_hits, lexical_hits
from agents.retrieval.topic import topic_text
from agents.retrieval.types import Hit, QueryPlan, SourceHits
from agents.retrieval.view import NamespaceView
from agents.state import Candidate
from memory.model import Namespace
from memory.store import MemoryStore

__all__ = ["rank_candidates", "search_sources"]


def search_sources(
    store: MemoryStore, ns: Namespace, view: NamespaceView, plan: QueryPlan, recipe: Recipe
) -> tuple[list[SourceHits], dict[str, float]]:
    """Each enabled source's ranking, and the router's granularity weights (empty when off).

    The ``topic`` source is the dense index searched again without the query's names that are
    common in the namespace (:mod:`agents.retrieval.topic`); the graph walk is seeded by the best
    fused hits of the dense, topic and lexical sources.
    """
    lists: list[SourceHits] = []
    dense: list[Hit] = []
    if recipe.dense:
        topic = topic_text(view, plan.search_text, plan.entities) if recipe.topic_weight else None
        vectors = store.embed([plan.search_text] if topic is None else [plan.search_text, topic])
        dense = dense_hits(store, ns, vectors[0], recipe)
        lists.append(SourceHits("dense", recipe.dense_weight, dense))
        if topic is not None:  # both texts in one encoder run
            hits = dense_hits(store, ns, vectors[1], recipe)
            lists.append(SourceHits("topic", recipe.topic_weight, hits))
    if recipe.lexical:
        lexical = lexical_hits(store, ns, plan.search_text, recipe)
        lists.append(SourceHits("lexical", recipe.lexical_weight, lexical))
    route = route_weights(view.units, dense) if recipe.router else {}
    if recipe.graph:
        first = _fused(lists, view, route, recipe)[:MAX_SEED_HITS]
        seeds = [Hit(c["unit_id"], c["score"]) for c in first]
        graph = graph_hits(
            store, ns, view, entities=plan.entities, spans=plan.spans, seeds=seeds, recipe=recipe
        )
        lists.append(SourceHits("graph", recipe.graph_weight, graph))
    return lists, route


def rank_candidates(
    lists: Sequence[SourceHits],
    view: NamespaceView,
    plan: QueryPlan,
    route: Mapping[str, float],
    recipe: Recipe,
    *,
    stages: dict[str, list[Candidate]] | None = None,
) -> list[Candidate]:
    """The pass's ranking: fused, then dated units, neighbours, answers to questions, named
    speakers and units saying when (on "when" questions) adjusted, the head re-ranked by the
    learned model, and current values of the attribute asked about put first.

    ``stages``, when given, receives the ranking after each stage by name, for the trace."""
    seen = stages if stages is not None else {}
    ranked = fused = seen["fused"] = _fused(lists, view, route, recipe)
    ranked = seen["in range"] = boost_in_range(ranked, view.units, plan.spans)
    if recipe.context_share > 0:
        ranked = seen["context"] = spread_to_neighbours(ranked, view, recipe.context_share)
    if recipe.reply_share > 0 or recipe.question_keep != 1.0:
        ranked = seen["reply"] = answers_before_questions(
            ranked, view, recipe.reply_share, recipe.question_keep
        )
    named = {e.casefold() for e in plan.entities}
    if recipe.speaker_boost != 1.0 and named:
        ranked = seen["speaker"] = favour_speakers(ranked, view, named, recipe.speaker_boost)
    if recipe.when_boost != 1.0 and plan.asks_when:
        ranked = seen["when"] = favour_time_words(ranked, view, recipe.when_boost)
    if recipe.rerank_head > 0 and ranked:
        ranked = seen["rerank"] = _reranked(ranked, fused, lists, view, plan, recipe)
    if recipe.current_first and plan.current:
        ranked = seen["current"] = prefer_current(ranked, plan.current)
    return ranked


def _reranked(
    ranked: list[Candidate],
    fused: list[Candidate],
    lists: Sequence[SourceHits],
    view: NamespaceView,
    plan: QueryPlan,
    recipe: Recipe,
) -> list[Candidate]:
    pool = ranked[: recipe.rerank_pool]
    features = candidate_features(pool, fused, lists, view, plan)
    provenance = [view.units[c["unit_id"]].provenance for c in pool]
    scores = head_scores(default_reranker(), features, provenance)
    tokens = [view.token_count(view.units[c["unit_id"]]) for c in pool]
    scores = budget_scores(scores, tokens, recipe.token_cost, recipe.rerank_lead)
    return rerank_head(ranked, scores, recipe.rerank_head)


def _fused(
    lists: Sequence[SourceHits], view: NamespaceView, route: Mapping[str, float], recipe: Recipe
) -> list[Candidate]:
    return fuse(lists, view.units, rrf_k=recipe.rrf_k, route=route, score_share=recipe.score_share)
