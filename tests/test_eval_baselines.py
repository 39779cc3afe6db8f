"""The baselines: turn rendering, BM25, dense, reciprocal-rank fusion, full context, caching."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from evals.baselines import (
    BM25System,
    DenseSystem,
    FullContextSystem,
    HybridSystem,
    render_turn,
    rrf,
)
from evals.embedding_cache import CachedEmbedder
from evals.systems import Conversation, EvalTurn, Question, make_system
from memory.embeddings import HashingEmbedder
from memory.errors import UnitNotFoundError
from memory.tokens import count_tokens

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def turn(i: int, speaker: str, text: str, caption: str | None = None) -> EvalTurn:
    return EvalTurn(f"D1:{i}", "session_1", speaker, text, WHEN, caption, i - 1)


CONV = Conversation(
    id="c1",
    speakers=["Ann", "Ben"],
    turns=[
        turn(1, "Ann", "I adopted a grey cat named Pixel."),
        turn(2, "Ben", "My sister moved to Lisbon last spring."),
        turn(3, "Ann", "Pixel sleeps on the sofa all day.", "a photo of a cat on a sofa"),
        turn(4, "Ben", "I am learning to play the violin."),
        turn(5, "Ann", "Good luck with the violin lessons!"),
    ],
)


def ask(text: str) -> Question:
    return Question("q", "c1", text, "", (), None, None)


def ids(items: Sequence[object]) -> list[str]:
    return [i.source_turn_ids[0] for i in items]  # type: ignore[attr-defined]


def test_render_turn_has_date_speaker_text_and_caption() -> None:
    assert render_turn(CONV.turns[0]) == "8 May 2023 Ann: I adopted a grey cat named Pixel."
    assert render_turn(CONV.turns[2]) == (
        "8 May 2023 Ann: Pixel sleeps on the sofa all day. [shares: a photo of a cat on a sofa]"
    )
    undated = EvalTurn("t", "s", "user", "hi", None, None, 0)
    assert render_turn(undated) == "user: hi"


def test_rrf_hand_computed() -> None:
    # doc 2: 1/61 + 1/62; doc 1: 1/62 + 1/61 (a tie, lower id first); doc 3: 1/63 + 1/63.
    assert rrf([[2, 1, 3], [1, 2, 3]]) == [1, 2, 3]
    assert rrf([[3, 1], [3, 2]]) == [3, 1, 2]
    assert rrf([[5]], k=0) == [5]


def test_full_context_is_every_turn_most_recent_first(tmp_path: Path) -> None:
    system = FullContextSystem()
    stats = system.ingest(CONV, tmp_path)
    assert stats.turns == 5 and stats.llm_calls == 0
    items = system.retrieve("c1", ask("anything"), 100)
    assert ids(items) == ["D1:5", "D1:4", "D1:3", "D1:2", "D1:1"]
    assert items[0].tokens == count_tokens(items[0].text)


def test_bm25_ranks_the_turn_sharing_the_rare_words_first(tmp_path: Path) -> None:
    system = BM25System()
    system.ingest(CONV, tmp_path)
    assert ids(system.retrieve("c1", ask("Where did Ben's sister move?"), 100))[0] == "D1:2"
    ranked = ids(system.retrieve("c1", ask("What does Pixel like?"), 100))
    assert set(ranked[:2]) == {"D1:1", "D1:3"}
    # A query of stopwords only scores nothing; every turn still comes back, in turn order.
    assert ids(system.retrieve("c1", ask("the of and"), 100)) == [f"D1:{i}" for i in range(1, 6)]


def test_unknown_conversation_is_an_error() -> None:
    with pytest.raises(UnitNotFoundError, match="conversation nope is not ingested"):
        BM25System().retrieve("nope", ask("x"), 10)


def test_dense_and_hybrid_rank_by_embedding_similarity(tmp_path: Path) -> None:
    fake = HashingEmbedder()
    dense = DenseSystem(embedder=fake, cache_dir=tmp_path / "cache")
    dense.ingest(CONV, tmp_path)
    assert ids(dense.retrieve("c1", ask("violin lessons"), 100))[0] in {"D1:4", "D1:5"}
    hybrid = HybridSystem(embedder=fake, cache_dir=tmp_path / "cache")
    hybrid.ingest(CONV, tmp_path)
    items = hybrid.retrieve("c1", ask("Where did Ben's sister move?"), 100)
    assert ids(items)[0] == "D1:2"
    assert [i.score for i in items] == sorted((i.score for i in items), reverse=True)


@pytest.mark.slow
def test_dense_with_minilm_matches_meaning_not_only_words(tmp_path: Path) -> None:
    dense = make_system("dense", cache_dir=tmp_path / "cache", seed=0)
    dense.ingest(CONV, tmp_path)
    assert ids(dense.retrieve("c1", ask("Which pet does Ann have?"), 100))[0] in {"D1:1", "D1:3"}
    assert ids(dense.retrieve("c1", ask("musical instrument practice"), 100))[0] in {
        "D1:4",
        "D1:5",
    }


class CountingEmbedder:
    name = "counting"

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.inner = HashingEmbedder(16)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return self.inner.embed(texts)


def test_embedding_cache_persists_across_instances(tmp_path: Path) -> None:
    first = CountingEmbedder()
    cache = CachedEmbedder(first, first.name, tmp_path)
    vectors = cache.embed(["a cat", "a dog", "a cat"])
    assert first.seen == ["a cat", "a dog"]
    assert np.array_equal(vectors[0], vectors[2])
    cache.close()
    second = CountingEmbedder()
    again = CachedEmbedder(second, second.name, tmp_path).embed(["a dog", "a cat", "a bird"])
    assert second.seen == ["a bird"]
    assert np.allclose(again[:2], vectors[[1, 0]])
    other_model = CountingEmbedder()
    other_model.name = "other"
    CachedEmbedder(other_model, other_model.name, tmp_path).embed(["a cat"])
    assert other_model.seen == ["a cat"]  # the model name is part of the key
