"""A learned re-ranking of the head of a pass's ranking (recipe knobs ``rerank_*``).

The hand-set stages before it each move units by one signal (a named speaker, a date in range, a
neighbour's match). A linear model over what those stages saw — each source's rank and score,
the fused and adjusted scores, granularity, speaker, the query's words found in the unit and how
rare those words are among the candidates, how many units of its session rank near it — scores
the first ``rerank_pool`` candidates, and its ``rerank_head`` best move to the front; the rest keep
the order the stages gave them. Only the head moves because that is where the model earned its
place: validated on conversations left out of its training, it ranks the first items better and
the tail no better (README, Evaluation). Within the head, the ``rerank_lead`` most probable units
lead in order of probability and the others follow by probability per token
(:func:`budget_scores`): the evidence is cut at a token budget.

The model is a logistic regression (``app.py train-reranker`` fits it on a LoCoMo file) stored
as JSON beside this module: feature names, their mean and scale, the weights. Each position of the
ranking keeps its score and the units change places, so the stages after this one (current facts
first, the merge of passes) see a ranking as ordered as the one they saw before.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.retrieval.fuse import normalised, says_when
from agents.retrieval.types import QueryPlan, SourceHits
from agents.retrieval.view import NamespaceView
from agents.state import Candidate
from memory.errors import InvalidInputError
from memory.model import Granularity, MemoryUnit

__all__ = [
    "DEFAULT_MODEL",
    "FEATURES",
    "LinearReranker",
    "budget_scores",
    "candidate_features",
    "default_reranker",
    "head_scores",
    "rerank_head",
]

DEFAULT_MODEL = Path(__file__).with_name("reranker.json")
"""The model the recipes use (trained on the LoCoMo dev file; see the README)."""

_SOURCES = ("dense", "topic", "lexical", "graph")
_RAW_SCORED = ("dense", "topic")
"""Sources whose raw score (a cosine) means the same in every namespace; BM25 and PageRank
scores grow with the namespace, so only their in-list normalised scores are features."""
_GRANULARITIES = (Granularity.TURN, Granularity.FACT, Granularity.SESSION)
_MISSING_RANK = math.log1p(400)
"""log1p(rank) of a unit a source (or the fusion) did not return: past any pool in use."""
SESSION_TOP = 10
"""How many of a pass's first candidates ``session_company`` counts."""
MOVABLE_TURNS = 2
"""The most source turns a unit the re-ranker moves may quote: it learned which turns and facts
answer, and moving a whole session forward spends the budget on everything else it says."""


def _feature_names() -> tuple[str, ...]:
    names = ["rank", "score", "fused_rank", "fused_score"]
    for source in _SOURCES:
        names += [f"{source}:found", f"{source}:rank", f"{source}:normalised"]
        names += [f"{source}:raw"] if source in _RAW_SCORED else []
    names += [f"granularity:{g.value}" for g in _GRANULARITIES]
    names += ["speaker_named", "has_speaker", "context", "reply", "says_when", "asks"]
    names += ["in_range", "tokens", "keyword_share", "keyword_hits"]
    return (*names, "rare_keyword_share", "session_company")


FEATURES = _feature_names()
"""What the model sees of a candidate, in column order."""


def candidate_features(
    ranked: Sequence[Candidate],
    fused: Sequence[Candidate],
    lists: Sequence[SourceHits],
    view: NamespaceView,
    plan: QueryPlan,
) -> NDArray[np.float64]:
    """One row of :data:`FEATURES` per candidate of ``ranked`` (the pass's adjusted ranking);
    ``fused`` is the ranking straight out of fusion, ``lists`` the sources' own rankings."""
    per_source: dict[str, dict[str, tuple[int, float, float]]] = {
        s.name: _source_table(s, view) for s in lists
    }
    fused_at = {c["unit_id"]: (i, c["score"]) for i, c in enumerate(fused)}
    top = ranked[0]["score"] if ranked and ranked[0]["score"] > 0 else 1.0
    named = {e.casefold() for e in plan.entities}
    units = [view.units[c["unit_id"]] for c in ranked]
    found = [{k for k in plan.keywords if _has_prefix(view.words(u), k)} for u in units]
    pool = _pool_features(units, found, plan.keywords)
    rows = []
    for i, (c, unit) in enumerate(zip(ranked, units, strict=True)):
        at = fused_at.get(unit.id)
        row = [math.log1p(i), c["score"] / top]
        row += [math.log1p(at[0]), at[1] / top] if at else [_MISSING_RANK, 0.0]
        for source in _SOURCES:
            row += _source_features(per_source.get(source, {}).get(unit.id), source)
        row += [float(unit.granularity == g) for g in _GRANULARITIES]
        hits = sum(1 for k in plan.keywords if k in found[i])  # a repeated keyword counts twice
        row += _unit_features(unit, c, view, named, plan, hits)
        rows.append(row + pool[i])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def _source_table(source: SourceHits, view: NamespaceView) -> dict[str, tuple[int, float, float]]:
    """Unit id → (rank, raw score, min-max normalised score) within one source's current hits."""
    hits = [h for h in source.hits if h.unit_id in view.units]
    return {
        h.unit_id: (rank, h.score, norm)
        for rank, (h, norm) in enumerate(zip(hits, normalised(hits), strict=True))
    }


def _source_features(found: tuple[int, float, float] | None, source: str) -> list[float]:
    raw = [found[1] if found else 0.0] if source in _RAW_SCORED else []
    if found is None:
        return [0.0, _MISSING_RANK, 0.0, *raw]
    return [1.0, math.log1p(found[0]), found[2], *raw]


def _unit_features(
    unit: MemoryUnit,
    c: Candidate,
    view: NamespaceView,
    named: set[str],
    plan: QueryPlan,
    hits: int,
) -> list[float]:
    """The candidate's own features; ``hits`` is how many of the query's keywords it holds."""
    speaker = unit.speaker.casefold() if unit.speaker else None
    in_range = unit.event_time is not None and any(
        a <= unit.event_time.date() <= b for a, b in plan.spans
    )
    return [
        float(speaker is not None and speaker in named),
        float(speaker is not None),
        float("context" in c["sources"]),
        float("reply" in c["sources"]),
        float(says_when(view, unit)),
        float(unit.text.rstrip().endswith("?")),
        float(in_range),
        math.log1p(view.token_count(unit)),
        hits / len(plan.keywords) if plan.keywords else 0.0,
        float(hits),
    ]


def _pool_features(
    units: Sequence[MemoryUnit], found: Sequence[set[str]], keywords: Sequence[str]
) -> list[list[float]]:
    """What a candidate is beside the others of its pass: ``rare_keyword_share`` and
    ``session_company``, one pair per unit.

    ``rare_keyword_share`` weighs each of the question's words by how rare it is among the
    candidates (log((n + 1) / (df + 0.5)), with df the candidates holding the word): a word that
    every candidate holds, such as the name of the person asked about, tells them apart less than
    one that few hold. ``session_company`` is log1p of how many other units of the unit's
    session are among the first :data:`SESSION_TOP` candidates: a session the question is about
    tends to bring several of its units near the top. ``found`` holds each unit's keywords.
    """
    weight = {k: math.log((len(units) + 1) / (sum(k in f for f in found) + 0.5)) for k in keywords}
    total = sum(weight.values())
    near = Counter(u.session_id for u in units[:SESSION_TOP] if u.session_id is not None)
    rows = []
    for i, (unit, hits) in enumerate(zip(units, found, strict=True)):
        rare = sum(weight[k] for k in hits) / total if total > 0 else 0.0
        company = near[unit.session_id] - int(i < SESSION_TOP) if unit.session_id else 0
        rows.append([rare, math.log1p(company)])
    return rows


def _has_prefix(words: tuple[str, ...], prefix: str) -> bool:
    """Whether a word of ``words`` (sorted) starts with ``prefix``: such words sort together,
    from the place ``prefix`` itself would take."""
    at = bisect.bisect_left(words, prefix)
    return at < len(words) and words[at].startswith(prefix)


@dataclass(frozen=True)
class LinearReranker:
    """A logistic regression over standardised :data:`FEATURES`: higher scores rank first."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    weights: NDArray[np.float64]
    bias: float
    trained_on: str = ""
    """What the model was fitted on (data file, questions, regularisation), for the reader."""

    def score(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """The model's score of each row of ``features``."""
        return np.asarray(((features - self.mean) / self.scale) @ self.weights + self.bias)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "mean": self.mean.round(8).tolist(),
            "scale": self.scale.round(8).tolist(),
            "weights": self.weights.round(8).tolist(),
            "bias": round(self.bias, 8),
            "trained_on": self.trained_on,
        }

    def save(self, path: Path) -> None:
        """Write the model as JSON, atomically (a reader never sees half a file)."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path | str) -> LinearReranker:
        """The model stored at ``path``; a file for other features or not a model is refused."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            names = tuple(raw["features"])
            arrays = [np.asarray(raw[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            bias, trained_on = float(raw["bias"]), str(raw.get("trained_on", ""))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: not a re-ranker model ({exc})") from None
        if names != FEATURES or any(a.shape != (len(FEATURES),) for a in arrays):
            raise InvalidInputError(f"{path}: a re-ranker for other features than {FEATURES}")
        if not np.all(arrays[1] > 0):
            raise InvalidInputError(f"{path}: feature scales must be positive")
        mean, scale, weights = arrays
        return cls(mean, scale, weights, bias, trained_on)


@lru_cache(maxsize=1)
def default_reranker() -> LinearReranker:
    """The model shipped with the package (:data:`DEFAULT_MODEL`), loaded once."""
    return LinearReranker.load(DEFAULT_MODEL)


def head_scores(
    model: LinearReranker, features: NDArray[np.float64], provenance: Sequence[Sequence[str]]
) -> list[float]:
    """The model's score of each candidate; -inf for one quoting more than
    :data:`MOVABLE_TURNS` turns, which :func:`rerank_head` leaves in place."""
    scores = model.score(features)
    return [
        float(s) if len(p) <= MOVABLE_TURNS else -math.inf
        for s, p in zip(scores, provenance, strict=True)
    ]


def budget_scores(
    scores: Sequence[float], tokens: Sequence[int], cost: float, lead: int
) -> list[float]:
    """Scores that order the head for a token budget, from the model's ``scores`` (logits;
    -inf: not moved, kept) and each unit's ``tokens``.

    The ``lead`` most probable units come first, in order of probability: a reader reads the
    first items first. The others follow by log P(answers) - ``cost`` x log(tokens): at a fixed
    budget, two short units as likely to answer as one long one are worth more (``cost`` 1 is the
    order of a fractional knapsack; 0 keeps the model's order).
    """
    movable = [i for i, s in enumerate(scores) if s > -math.inf]
    value = [-math.inf] * len(scores)
    for i in movable:
        log_p = -float(np.logaddexp(0.0, -scores[i]))
        value[i] = log_p - cost * math.log(max(tokens[i], 1))
    top = max((value[i] for i in movable), default=0.0)
    leaders = sorted(movable, key=lambda i: -scores[i])[:lead]
    for place, i in enumerate(leaders):
        value[i] = top + lead - place
    return value


def rerank_head(ranked: Sequence[Candidate], scores: Sequence[float], head: int) -> list[Candidate]:
    """The ``head`` best of ``ranked[:len(scores)]`` by ``scores`` (-inf: not moved) first, in
    that order, then the rest in their order; each position keeps the score it had (the ranking
    stays sorted)."""
    movable = [i for i in range(len(scores)) if scores[i] > -math.inf]
    best = sorted(movable, key=lambda i: -scores[i])[:head]
    moved = set(best)
    order = [ranked[i] for i in best] + [c for i, c in enumerate(ranked) if i not in moved]
    return [
        Candidate(unit_id=c["unit_id"], score=place["score"], sources=c["sources"])
        for c, place in zip(order, ranked, strict=True)
    ]
