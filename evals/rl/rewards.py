"""Rewards as plain functions over an outcome, and their CoMAM-style mix.

Each reward is in [0, 1] (token cost: tokens over budget, subtracted by the route reward). The
global reward of a read is evidence recall at the budget; an agent's local reward (the judge's
consistency, the constructor's format) is mixed with it in proportion to how consistently the two
rank the same group of rollouts: a local reward that orders the group as the global one does is
trusted, one that disagrees is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel

from evals.answers import JUDGE, JudgeVerdict, judge_messages
from evals.metrics import evidence_recall, token_f1
from memory.errors import InvalidInputError, LLMError, LLMOutputError
from memory.llm import LLMClient
from memory.llm_repair import parse_structured
from memory.model import Granularity, MemoryUnit

__all__ = [
    "answer_reward",
    "consistency_reward",
    "format_reward",
    "judged_reward",
    "mix_rewards",
    "rank_agreement",
    "recall_reward",
    "route_reward",
    "token_cost",
]


def recall_reward(gold: Iterable[str], covered: Iterable[str]) -> float:
    """Share of the gold evidence turns that the packed evidence covers."""
    return evidence_recall(gold, covered)


def answer_reward(prediction: str, gold: str) -> float:
    """Token F1 of an answer against the gold one (LoCoMo's answer score)."""
    return token_f1(prediction, gold)


def judged_reward(question: str, gold: str, prediction: str, judge: LLMClient) -> float:
    """1 when the LLM judge finds ``prediction`` answers ``question`` as ``gold`` does; 0 when it
    does not, or when the judge fails (a reward must be a number, and no answer is no credit)."""
    try:
        verdict, _ = judge.structured(
            judge_messages(question, gold, prediction), JudgeVerdict, prompt=JUDGE
        )
    except LLMError as exc:
        if isinstance(exc, AssertionError):  # a scripted judge run dry is a bug in the caller
            raise
        return 0.0
    return 1.0 if verdict.correct else 0.0


def token_cost(tokens: int, budget: int) -> float:
    """Tokens used as a share of the budget (0: nothing packed, 1: all of it)."""
    if budget < 1:
        raise InvalidInputError(f"budget must be a positive number of tokens, got {budget}")
    return min(1.0, max(0, tokens) / budget)


def route_reward(recall: float, tokens: int, budget: int, token_weight: float = 0.02) -> float:
    """A routing rollout's reward: recall, less a small price for the tokens it used."""
    return recall - token_weight * token_cost(tokens, budget)


def format_reward(text: str, model: type[BaseModel]) -> float:
    """1 when an LLM output parses into its pydantic model (after the usual repairs), else 0."""
    try:
        parse_structured(text, model)
    except LLMOutputError:
        return 0.0
    return 1.0


def consistency_reward(units: Sequence[MemoryUnit]) -> float:
    """1 minus the share of current facts that break consistency.

    A fact breaks it when another current fact gives its attribute slot (subject and attribute)
    a different value, or says the same thing (same speaker, same normalised text).
    """
    facts = [u for u in units if u.granularity == Granularity.FACT and u.is_current]
    if not facts:
        return 1.0
    values: dict[str, set[str]] = {}
    seen: dict[tuple[str | None, str], int] = {}
    for u in facts:
        if u.attribute and "=" in u.attribute and u.entities:
            name, _, value = u.attribute.partition("=")
            values.setdefault(f"{u.entities[0].casefold()}|{name}", set()).add(value)
        key = (u.speaker, " ".join(u.text.casefold().split()))
        seen[key] = seen.get(key, 0) + 1
    bad = sum(len(v) - 1 for v in values.values()) + sum(n - 1 for n in seen.values())
    return max(0.0, 1.0 - bad / len(facts))


def rank_agreement(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman correlation of two score lists over the same group (0 when either is flat)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidInputError(
            f"rank agreement needs two equal-length lists, got {x.shape}, {y.shape}"
        )
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def mix_rewards(local: Sequence[float], global_: Sequence[float]) -> list[float]:
    """Each rollout's reward: ``w·local + (1 − w)·global``, ``w`` the group's rank agreement
    clipped at 0 (CoMAM's consistency weighting)."""
    w = max(0.0, rank_agreement(local, global_))
    return [w * lo + (1.0 - w) * gl for lo, gl in zip(local, global_, strict=True)]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks
