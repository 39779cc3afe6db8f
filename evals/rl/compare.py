"""Two systems question by question: means, and the paired bootstrap CI of their difference.

Both systems answered the same questions over the same memory, so the difference is taken per
question and the questions are resampled with replacement (a paired bootstrap): the interval says
how much of the difference could come from which questions happened to be asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evals.rl.rewards import route_reward
from evals.runner import QuestionRecord
from memory.errors import InvalidInputError

__all__ = ["compare_pairs", "compare_records", "comparison_markdown", "paired_bootstrap"]


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, samples: int = 4000, seed: int = 0
) -> dict[str, float]:
    """Mean of ``b − a`` and its 95 % percentile interval over resampled questions."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise InvalidInputError(
            f"paired bootstrap needs two equal non-empty lists: {x.shape}, {y.shape}"
        )
    diff = y - x
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"diff": float(diff.mean()), "ci_low": float(low), "ci_high": float(high)}


def compare_pairs(
    base: Mapping[int, Sequence[tuple[float, int]]],
    other: Mapping[int, Sequence[tuple[float, int]]],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Per budget: mean recall and tokens of both, and the paired CI of each difference.

    ``base`` and ``other`` map a budget to (recall, tokens) per question, in the same order.
    """
    out: dict[str, Any] = {"questions": len(next(iter(base.values()), [])), "budgets": {}}
    for budget in sorted(base):
        a, b = base[budget], other[budget]
        row: dict[str, Any] = {}
        for key, pick in (("recall", 0), ("tokens", 1)):
            xa = [float(p[pick]) for p in a]
            xb = [float(p[pick]) for p in b]
            row[key] = {"base": float(np.mean(xa)), "other": float(np.mean(xb))}
            row[key].update(paired_bootstrap(xa, xb, seed=seed))
        ra = [route_reward(r, t, budget) for r, t in a]
        rb = [route_reward(r, t, budget) for r, t in b]
        row["reward"] = {"base": float(np.mean(ra)), "other": float(np.mean(rb))}
        row["reward"].update(paired_bootstrap(ra, rb, seed=seed))
        out["budgets"][str(budget)] = row
    return out


def compare_records(
    records: Sequence[QuestionRecord],
    base: str,
    other: str,
    budgets: Sequence[int],
    overall: frozenset[str],
) -> dict[str, Any]:
    """:func:`compare_pairs` over a run's records of two systems (overall categories only)."""
    by = {(r.system, r.question_id): r for r in records if r.category in overall}
    ids = [qid for (system, qid) in by if system == base and (other, qid) in by]
    if not ids:
        raise InvalidInputError(f"no question was answered by both {base} and {other}")
    pairs: dict[str, dict[int, list[tuple[float, int]]]] = {base: {}, other: {}}
    for system in (base, other):
        for budget in budgets:
            pairs[system][budget] = [
                (by[(system, q)].recall[budget], by[(system, q)].tokens[budget]) for q in ids
            ]
    result = compare_pairs(pairs[base], pairs[other])
    return {"base": base, "other": other, **result}


def comparison_markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown table (difference: other − base, with its 95 % CI)."""
    lines = [
        f"## {result.get('other', 'learned')} vs {result.get('base', 'hand-set')} "
        f"({result['questions']} paired questions)",
        "",
        "| budget | metric | base | other | diff | 95 % CI |",
        "|---|---|---|---|---|---|",
    ]
    for budget, row in result["budgets"].items():
        for metric in ("reward", "recall", "tokens"):
            m = row[metric]
            lines.append(
                f"| {budget} | {metric} | {m['base']:.4f} | {m['other']:.4f} | "
                f"{m['diff']:+.4f} | [{m['ci_low']:+.4f}, {m['ci_high']:+.4f}] |"
            )
    return "\n".join(lines) + "\n"
