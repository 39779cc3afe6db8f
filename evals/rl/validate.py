"""Leave-one-conversation-out: train on all conversations but one, route the held-out one.

Every fold's router is judged on a conversation it never saw — the situation of a user's memory —
against the hand-set route on the same questions over the same ingest, at every budget. The
held-out rollouts are pooled over folds into one paired comparison (:mod:`evals.rl.compare`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from agents.policy import HAND_SET, ROUTE_ACTIONS
from evals.rl.compare import compare_pairs
from evals.rl.rollouts import QuestionRollouts, Rollouts
from evals.rl.train import TrainConfig, reward_table, train_router

__all__ = ["leave_one_out", "target_met"]

Pairs = dict[int, list[tuple[float, int]]]


def leave_one_out(
    rollouts: Rollouts,
    entries: dict[str, QuestionRollouts],
    config: TrainConfig,
    budgets: Sequence[int],
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Per-fold and pooled comparisons of the held-out routers with the hand-set route.

    ``entries`` must hold every action's outcome at ``config.budget``; the held-out outcomes at
    the other budgets are run here (or read back).
    """
    base: Pairs = {b: [] for b in budgets}
    other: Pairs = {b: [] for b in budgets}
    folds = []
    for conv in rollouts.dataset.conversations:
        held = [e for e in entries.values() if e.question.conversation_id == conv.id]
        train = [e for e in entries.values() if e.question.conversation_id != conv.id]
        if not held or not train:
            continue
        router, summary = train_router(
            reward_table(train, ROUTE_ACTIONS, config), ROUTE_ACTIONS, config
        )
        chosen = {e.question.id: router.route(e.features).action for e in held}
        fold_base: Pairs = {b: [] for b in budgets}
        fold_other: Pairs = {b: [] for b in budgets}
        with rollouts.conversation(conv) as open_:
            for e in held:
                for b in budgets:
                    ours = open_.outcome(e.question, chosen[e.question.id], b).outcomes
                    ref = open_.outcome(e.question, HAND_SET, b).outcomes
                    pair_o = ours[(chosen[e.question.id].name, b)]
                    pair_r = ref[(HAND_SET.name, b)]
                    fold_base[b].append((pair_r.recall, pair_r.tokens))
                    fold_other[b].append((pair_o.recall, pair_o.tokens))
        for b in budgets:
            base[b].extend(fold_base[b])
            other[b].extend(fold_other[b])
        folds.append(
            {
                "held_out": conv.id,
                "train": summary,
                "actions": dict(Counter(a.name for a in chosen.values())),
                "comparison": compare_pairs(fold_base, fold_other),
            }
        )
        if advance is not None:
            advance(1)
    pooled = compare_pairs(base, other)
    return {"folds": folds, "pooled": pooled, "target_met": target_met(pooled, config.budget)}


def target_met(pooled: dict[str, Any], budget: int = 1000) -> bool:
    """The bar a policy must clear: recall at ``budget`` up with its CI above 0, or equal
    (±0.005) with ≥ 15 % fewer tokens; and never more than 0.005 worse at any budget."""
    rows = pooled["budgets"]
    if any(row["recall"]["diff"] < -0.005 for row in rows.values()):
        return False
    row = rows[str(budget)]
    better = row["recall"]["diff"] > 0 and row["recall"]["ci_low"] > 0
    tokens = row["tokens"]
    leaner = abs(row["recall"]["diff"]) <= 0.005 and tokens["other"] <= 0.85 * tokens["base"]
    return bool(better or leaner)
