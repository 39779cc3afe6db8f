"""Fit the learned re-ranker (:mod:`agents.retrieval.rerank`) on a LoCoMo file, and measure it on
conversations left out of its training.

Each question's pass is ranked as the read path ranks it up to the re-ranking stage (one pass, no
current-facts stage), and each of its first ``rerank_pool`` candidates becomes a row of
:data:`~agents.retrieval.rerank.FEATURES`. A candidate is positive when it quotes a gold evidence
turn and is no larger than two turns (a whole session "covers" its gold turn, but moving it up
spends the budget on everything else it says); rows are weighted 1 / (the question's gold turns),
so every question weighs alike, as in recall. The model is an L2-regularised logistic regression
fitted by Newton's method on standardised features.

:func:`held_out` refits the model once per conversation with that conversation left out and
ranks its questions with it: the figures that say how the model does on conversations it has
not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agents.recipes import Recipe, get_recipe
from agents.retrieval import (
    NamespaceView,
    plan_query,
    rank_candidates,
    search_sources,
    view_for,
)
from agents.retrieval.rerank import (
    MOVABLE_TURNS,
    LinearReranker,
    budget_scores,
    candidate_features,
    head_scores,
    rerank_head,
)
from agents.state import Candidate
from evals.hypermnesia import HypermnesiaSystem, namespace_of
from evals.loaders import Dataset
from evals.runner import ingest_or_restore
from evals.systems import Question, system_spec
from memory.errors import InvalidInputError
from memory.store import MemoryStore

__all__ = [
    "CATEGORIES",
    "QuestionRows",
    "collect",
    "fit",
    "held_out",
    "ranking_metrics",
    "recipe_for_training",
]

CATEGORIES = ("multi-hop", "temporal", "open-domain", "single-hop")
"""The categories with gold evidence that the model learns from and is measured on."""
BUDGETS = (250, 1000)


@dataclass(frozen=True)
class QuestionRows:
    """One question's candidates as the re-ranker sees them, with what scoring them needs."""

    conversation: str
    category: str
    gold: frozenset[str]
    features: NDArray[np.float64]
    provenance: tuple[tuple[str, ...], ...]
    tokens: tuple[int, ...]

    def labels(self) -> NDArray[np.float64]:
        return np.asarray(
            [
                float(bool(self.gold.intersection(p)) and len(p) <= MOVABLE_TURNS)
                for p in self.provenance
            ]
        )


def recipe_for_training() -> Recipe:
    """The recipe whose ranking the model is trained on: ``full`` up to the re-ranking stage."""
    return get_recipe("full").model_copy(update={"rerank_head": 0, "current_first": False})


def collect(
    dataset: Dataset, work: Path, advance: Callable[[int], None] = lambda n: None
) -> list[QuestionRows]:
    """Every question of ``dataset`` in :data:`CATEGORIES`, its candidates' rows, conversation by
    conversation (each ingested into ``work`` as ``app.py eval`` does, or its ingest reused)."""
    spec = system_spec("hypermnesia", seed=0, cache_dir=work / "cache")
    rows: list[QuestionRows] = []
    for conv in dataset.conversations:
        system = HypermnesiaSystem(seed=0)
        try:
            ingest_or_restore(system, spec, conv, work)
            store = system.engine(conv.id).store
            view = view_for(store, namespace_of(conv.id))
            for q in dataset.questions:
                if q.conversation_id == conv.id and q.category in CATEGORIES and q.evidence:
                    rows.append(_question_rows(store, view, q))
                    advance(1)
        finally:
            system.close()
    return rows


def _question_rows(store: MemoryStore, view: NamespaceView, q: Question) -> QuestionRows:
    """One question's pass ranked up to the re-ranking stage, as rows."""
    recipe = recipe_for_training()
    ns = namespace_of(q.conversation_id)
    plan = plan_query(q.text, view.names, temporal=True, reference=q.asked_at)
    lists, route = search_sources(store, ns, view, plan, recipe)
    stages: dict[str, list[Candidate]] = {}
    pool = rank_candidates(lists, view, plan, route, recipe, stages=stages)[: recipe.rerank_pool]
    units = [view.units[c["unit_id"]] for c in pool]
    return QuestionRows(
        conversation=q.conversation_id,
        category=q.category,
        gold=frozenset(q.evidence),
        features=candidate_features(pool, stages["fused"], lists, view, plan),
        provenance=tuple(tuple(u.provenance) for u in units),
        tokens=tuple(view.token_count(u) for u in units),
    )


def fit(rows: Sequence[QuestionRows], l2: float, trained_on: str = "") -> LinearReranker:
    """The logistic regression of the rows' labels on their features (weights as above)."""
    if not rows:
        raise InvalidInputError("no questions with gold evidence to train the re-ranker on")
    x = np.vstack([r.features for r in rows])
    y = np.concatenate([r.labels() for r in rows])
    w = np.concatenate([np.full(len(r.provenance), 1.0 / len(r.gold)) for r in rows])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    theta = _newton(z, y, w, l2)
    return LinearReranker(mean, scale, theta[:-1], float(theta[-1]), trained_on=trained_on)


def _newton(
    z: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], l2: float
) -> NDArray[np.float64]:
    """Weighted logistic regression, the bias (last column) not penalised."""
    theta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ theta)))
        grad = z.T @ (w * (p - y)) + penalty * theta
        hess = (z * (w * p * (1.0 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-7:
            break
    return theta


def ranking_metrics(row: QuestionRows, order: Sequence[int]) -> dict[str, float]:
    """MRR over the distinct source turns in ``order``, and recall of the gold turns packed into
    each of :data:`BUDGETS` (rank order, an item that does not fit skipped, an item whose turns
    are all packed already skipped, as the read path packs)."""
    turns = list(dict.fromkeys(t for i in order for t in row.provenance[i]))
    first = next((k for k, t in enumerate(turns) if t in row.gold), None)
    out = {"mrr": 0.0 if first is None else 1.0 / (first + 1)}
    for budget in BUDGETS:
        used, covered = 0, set[str]()
        for i in order:
            turns_i = set(row.provenance[i])
            if (turns_i and turns_i <= covered) or used + row.tokens[i] > budget:
                continue
            used += row.tokens[i]
            covered |= turns_i
        out[f"recall@{budget}"] = len(row.gold & covered) / len(row.gold)
    return out


def held_out(
    rows: Sequence[QuestionRows], l2: float, head: int, *, token_cost: float = 0.0, lead: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """Mean metrics per category (and ``overall``) before and after re-ranking, each
    conversation's questions ranked by a model fitted on the other conversations; the head is
    ordered as the read path orders it (:func:`~agents.retrieval.rerank.budget_scores`)."""
    convs = sorted({r.conversation for r in rows})
    if len(convs) < 2:
        raise InvalidInputError("leaving one conversation out needs at least two conversations")
    before: list[tuple[str, dict[str, float]]] = []
    after: list[tuple[str, dict[str, float]]] = []
    for conv in convs:
        model = fit([r for r in rows if r.conversation != conv], l2)
        for r in rows:
            if r.conversation != conv:
                continue
            order = list(range(len(r.provenance)))
            before.append((r.category, ranking_metrics(r, order)))
            scores = head_scores(model, r.features, r.provenance)
            scores = budget_scores(scores, r.tokens, token_cost, lead)
            moved = rerank_head(_as_candidates(order), scores, head)
            after.append((r.category, ranking_metrics(r, [int(c["unit_id"]) for c in moved])))
    return {"before": _means(before), "after": _means(after)}


def _as_candidates(order: Sequence[int]) -> list[Candidate]:
    return [Candidate(unit_id=str(i), score=float(-i), sources=[]) for i in order]


def _means(values: Sequence[tuple[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in ("overall", *CATEGORIES):
        picked = [m for c, m in values if name in ("overall", c)]
        if picked:
            out[name] = {k: round(float(np.mean([m[k] for m in picked])), 4) for k in picked[0]}
    return out
