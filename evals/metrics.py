"""Metric functions of the harness: budget packing, evidence recall, hit, NDCG, MRR, answer scores.

All pure functions. Budget packing rule: items are taken in rank order; an item whose tokens would
overflow the budget is skipped, and later smaller items may still fit. Recall at a budget is the
share of the gold turns covered by the packed items' source turns; hit at a budget is 1 when at
least one gold turn is covered. NDCG@k and MRR use the ranked list of distinct source turns (first
occurrence wins) with binary relevance.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

from evals.systems import RetrievedItem
from memory.errors import InvalidInputError
from memory.text import content_tokens

__all__ = [
    "NOT_MENTIONED_PHRASES",
    "adversarial_score",
    "answer_words_found",
    "bleu1",
    "covered_turns",
    "evidence_recall",
    "hit",
    "mean",
    "mean_by_category",
    "mrr",
    "ndcg_at_k",
    "normalize_answer",
    "pack",
    "percentile",
    "ranked_turns",
    "token_f1",
]


def pack(items: Sequence[RetrievedItem], budget: int) -> list[RetrievedItem]:
    """The items that fit ``budget`` tokens: rank order, an overflowing item is skipped."""
    if budget < 0:
        raise InvalidInputError(f"budget must be >= 0, got {budget}")
    packed: list[RetrievedItem] = []
    used = 0
    for item in items:
        if used + item.tokens <= budget:
            packed.append(item)
            used += item.tokens
    return packed


def covered_turns(items: Iterable[RetrievedItem]) -> set[str]:
    """Every source turn id of the items."""
    return {turn for item in items for turn in item.source_turn_ids}


def ranked_turns(items: Iterable[RetrievedItem]) -> list[str]:
    """Distinct source turn ids in rank order (a turn counts at its first occurrence)."""
    return list(dict.fromkeys(turn for item in items for turn in item.source_turn_ids))


def _gold(gold: Iterable[str]) -> set[str]:
    gold_set = set(gold)
    if not gold_set:
        raise InvalidInputError("a question without gold evidence cannot be scored")
    return gold_set


def evidence_recall(gold: Iterable[str], covered: Iterable[str]) -> float:
    """|gold ∩ covered| / |gold|."""
    gold_set = _gold(gold)
    return len(gold_set & set(covered)) / len(gold_set)


def hit(gold: Iterable[str], covered: Iterable[str]) -> float:
    """1.0 when at least one gold turn is covered, else 0.0."""
    return 1.0 if _gold(gold) & set(covered) else 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    """Binary-relevance NDCG over the first ``k`` ranked turns."""
    gold_set = _gold(gold)
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    dcg = sum(1.0 / math.log2(i + 2) for i, turn in enumerate(ranked[:k]) if turn in gold_set)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold_set), k)))
    return dcg / ideal


def mrr(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """1 / rank of the first gold turn in the ranking (0 when none appears)."""
    gold_set = _gold(gold)
    for i, turn in enumerate(ranked):
        if turn in gold_set:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or None for no values."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation, or None for no values."""
    if not 0 <= q <= 100:
        raise InvalidInputError(f"percentile must be within 0-100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean_by_category(
    values: Iterable[tuple[str, float]],
    categories: Sequence[str],
    overall_categories: Iterable[str],
) -> dict[str, float | None]:
    """Per-category means of (category, value) pairs, plus ``overall`` over the overall categories.

    ``overall`` is a mean over questions (micro average), not a mean of category means.
    """
    by_cat: dict[str, list[float]] = {c: [] for c in categories}
    overall_set = set(overall_categories)
    overall: list[float] = []
    for category, value in values:
        by_cat.setdefault(category, []).append(value)
        if category in overall_set:
            overall.append(value)
    result: dict[str, float | None] = {"overall": mean(overall)}
    result.update({c: mean(v) for c, v in by_cat.items()})
    return result


def answer_words_found(answer: str | None, packed: Iterable[RetrievedItem]) -> float | None:
    """The share of the gold answer's content words that the packed text contains.

    A provenance-free measure: it looks at what a reader would see, not at which turns the items
    came from, so a one-sentence fact is not credited with its whole turn. Words are compared as
    stemmed content tokens (stopwords out, "adopted" matches "adopt"); None when the answer has
    no content word (or there is no answer).
    """
    if answer is None:
        return None
    words = set(content_tokens(str(answer)))
    if not words:
        return None
    seen = set(content_tokens(" ".join(item.text for item in packed)))
    return len(words & seen) / len(words)


# Answer metrics (used when an LLM answers from the retrieved items).

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation, articles and 'and', collapse whitespace (LoCoMo's F1 form)."""
    text = text.lower().replace(",", "").translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """Token-level F1 between normalised prediction and gold answer."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


def bleu1(prediction: str, gold: str) -> float:
    """BLEU-1: clipped unigram precision times the brevity penalty, on normalised tokens."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    clipped = sum((Counter(pred) & Counter(ref)).values())
    precision = clipped / len(pred)
    brevity = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return brevity * precision


NOT_MENTIONED_PHRASES = ("not mentioned", "no information available", "not available")


def adversarial_score(prediction: str, phrases: Sequence[str] = NOT_MENTIONED_PHRASES) -> float:
    """1.0 when the answer to an unanswerable question says it is not mentioned, else 0.0."""
    low = prediction.lower()
    return 1.0 if any(p in low for p in phrases) else 0.0
