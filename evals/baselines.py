"""Baselines the harness runs beside Hypermnesia, through the same metrics.

Every baseline retrieves whole turns, rendered as Hypermnesia renders a turn
(``8 May 2023 Caroline: text [shares: caption]``):

- ``full_context``: all turns, most recent first (what a context window cut to the budget keeps);
- ``bm25``: BM25 over turns (``bm25s``, k1 1.2, b 0.75, lowercase words minus English stopwords);
- ``dense``: cosine similarity of MiniLM embeddings (the embedder Hypermnesia uses);
- ``hybrid``: reciprocal-rank fusion (k = 60) of the BM25 and dense rankings.

Each returns its full ranking of the conversation's turns; the harness packs it into budgets.
"""

from __future__ import annotations

import time
import weakref
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from agents.analysis import format_day
from evals.embedding_cache import CachedEmbedder
from evals.systems import (
    Conversation,
    EvalTurn,
    IngestStats,
    Question,
    RetrievedItem,
    register_system,
)
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.tokens import count_tokens

__all__ = [
    "BASELINES",
    "BM25System",
    "DenseSystem",
    "FullContextSystem",
    "HybridSystem",
    "render_turn",
    "rrf",
]

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60


def render_turn(turn: EvalTurn) -> str:
    """A turn as the baselines present it to a reader."""
    text = f"{turn.speaker}: {turn.text}"
    if turn.session_time is not None:
        text = f"{format_day(turn.session_time)} {text}"  # as hypermnesia presents a turn
    if turn.image_caption:
        text = f"{text} [shares: {turn.image_caption}]"
    return text


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion of rankings of the same ids; ties keep the lower id first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda d: (-scores[d], d))


class _TurnBaseline(ABC):
    """Shared state: the rendered turns of each ingested conversation."""

    name = "baseline"

    def __init__(self, seed: int = 0, cache_dir: Path | None = None, **_: Any) -> None:
        self.seed = seed
        self.cache_dir = cache_dir
        self._turns: dict[str, list[EvalTurn]] = {}
        self._texts: dict[str, list[str]] = {}
        self._tokens: dict[str, list[int]] = {}

    def _load(self, conversation: Conversation) -> None:
        if not conversation.turns:
            raise InvalidInputError(f"conversation {conversation.id} has no turns")
        texts = [render_turn(t) for t in conversation.turns]
        self._turns[conversation.id] = list(conversation.turns)
        self._texts[conversation.id] = texts
        self._tokens[conversation.id] = [count_tokens(t) for t in texts]
        self._build(conversation.id, texts)

    def _build(self, conversation_id: str, texts: list[str]) -> None:  # noqa: B027
        """Index the rendered turns (nothing to do for a system that ranks without an index)."""

    def ingest(self, conversation: Conversation, workdir: Path) -> IngestStats:
        start = time.perf_counter()
        self._load(conversation)
        return IngestStats(turns=len(conversation.turns), seconds=time.perf_counter() - start)

    def restore(self, conversation: Conversation, workdir: Path) -> None:
        self._load(conversation)

    @abstractmethod
    def _rank(self, conversation_id: str, question: Question) -> tuple[list[int], list[float]]:
        """Turn indices best first, with their scores."""

    def retrieve(
        self, conversation_id: str, question: Question, budget_tokens: int
    ) -> list[RetrievedItem]:
        if conversation_id not in self._turns:
            raise UnitNotFoundError(f"{self.name}: conversation {conversation_id} is not ingested")
        order, scores = self._rank(conversation_id, question)
        turns, texts, tokens = (
            self._turns[conversation_id],
            self._texts[conversation_id],
            self._tokens[conversation_id],
        )
        return [
            RetrievedItem(
                text=texts[i], source_turn_ids=(turns[i].id,), tokens=tokens[i], score=score
            )
            for i, score in zip(order, scores, strict=True)
        ]


class FullContextSystem(_TurnBaseline):
    """All turns, most recent first."""

    name = "full_context"

    def _rank(self, conversation_id: str, question: Question) -> tuple[list[int], list[float]]:
        n = len(self._turns[conversation_id])
        order = list(range(n - 1, -1, -1))
        return order, [float(i) for i in order]


def _bm25_tokens(texts: list[str]) -> list[list[str]]:
    tokens: list[list[str]] = bm25s.tokenize(
        texts, lower=True, stopwords="en", return_ids=False, show_progress=False
    )
    return tokens


class BM25System(_TurnBaseline):
    """BM25 over turns."""

    name = "bm25"

    def __init__(self, seed: int = 0, cache_dir: Path | None = None, **options: Any) -> None:
        super().__init__(seed, cache_dir, **options)
        self._indexes: dict[str, bm25s.BM25] = {}

    def _build(self, conversation_id: str, texts: list[str]) -> None:
        index = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        index.index(_bm25_tokens(texts), show_progress=False)
        self._indexes[conversation_id] = index

    def scores(self, conversation_id: str, query: str) -> npt.NDArray[np.float64]:
        """BM25 score of every turn of the conversation for ``query``."""
        n = len(self._turns[conversation_id])
        index = self._indexes[conversation_id]
        vocab: dict[str, int] = index.vocab_dict
        query_tokens = [t for t in _bm25_tokens([query])[0] if t in vocab]
        if not query_tokens:
            return np.zeros(n, dtype=np.float64)
        return np.asarray(index.get_scores(query_tokens), dtype=np.float64)[:n]

    def _rank(self, conversation_id: str, question: Question) -> tuple[list[int], list[float]]:
        scores = self.scores(conversation_id, question.text)
        order = np.argsort(-scores, kind="stable")
        return [int(i) for i in order], [float(scores[i]) for i in order]


@cache
def _minilm() -> Any:
    from memory.embeddings import MiniLMEmbedder

    return MiniLMEmbedder()


class DenseSystem(_TurnBaseline):
    """Cosine similarity of turn and question embeddings."""

    name = "dense"

    def __init__(
        self,
        seed: int = 0,
        cache_dir: Path | None = None,
        embedder: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(seed, cache_dir, **options)
        model = embedder if embedder is not None else _minilm()
        model_name = str(getattr(model, "name", type(model).__name__))
        self._embedder = _shared_cache(model, model_name, cache_dir)
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}

    def _build(self, conversation_id: str, texts: list[str]) -> None:
        self._vectors[conversation_id] = self._embedder.embed(texts)

    def scores(self, conversation_id: str, query: str) -> npt.NDArray[np.float64]:
        """Cosine similarity of every turn of the conversation to ``query``."""
        q = self._embedder.embed([query])[0]
        return np.asarray(self._vectors[conversation_id] @ q, dtype=np.float64)

    def _rank(self, conversation_id: str, question: Question) -> tuple[list[int], list[float]]:
        scores = self.scores(conversation_id, question.text)
        order = np.argsort(-scores, kind="stable")
        return [int(i) for i in order], [float(scores[i]) for i in order]


_CACHES: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], CachedEmbedder]] = (
    weakref.WeakKeyDictionary()
)


def _shared_cache(model: Any, model_name: str, folder: Path | None) -> CachedEmbedder:
    """One cache per (embedder, folder), so dense and hybrid embed each text once; it goes when
    the embedder does."""
    per_model = _CACHES.setdefault(model, {})
    key = (model_name, str(folder))
    if key not in per_model:
        per_model[key] = CachedEmbedder(model, model_name, folder)
    return per_model[key]


class HybridSystem(_TurnBaseline):
    """Reciprocal-rank fusion of the BM25 and dense rankings."""

    name = "hybrid"

    def __init__(
        self,
        seed: int = 0,
        cache_dir: Path | None = None,
        embedder: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(seed, cache_dir, **options)
        self._bm25 = BM25System(seed, cache_dir)
        self._dense = DenseSystem(seed, cache_dir, embedder=embedder)

    def _load(self, conversation: Conversation) -> None:
        super()._load(conversation)
        self._bm25._load(conversation)
        self._dense._load(conversation)

    def _rank(self, conversation_id: str, question: Question) -> tuple[list[int], list[float]]:
        lexical, _ = self._bm25._rank(conversation_id, question)
        dense, _ = self._dense._rank(conversation_id, question)
        fused = rrf([lexical, dense])
        lex_rank = {d: r for r, d in enumerate(lexical, start=1)}
        den_rank = {d: r for r, d in enumerate(dense, start=1)}
        scores = [1.0 / (RRF_K + lex_rank[d]) + 1.0 / (RRF_K + den_rank[d]) for d in fused]
        return fused, scores


BASELINES = ("full_context", "bm25", "dense", "hybrid")

register_system("full_context", FullContextSystem)
register_system("bm25", BM25System)
register_system("dense", DenseSystem)
register_system("hybrid", HybridSystem)
