"""A session segment's vector is the mean of its turns' vectors: from the same write, from the
stored turn units when the turns came one at a time, and again after a rebuild; the encoder never
sees a segment's text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agents.constructor import build_segments
from graphs import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Namespace, Turn, make_unit
from memory.segment_vectors import vectors_with_pooled_segments

NS = Namespace(user_id="sam")
DAY = datetime(2024, 3, 2, 10, tzinfo=UTC)
TURNS = [
    Turn(id=f"D1:{i}", session_id="S1", speaker=s, text=t, session_time=DAY)
    for i, (s, t) in enumerate(
        [
            ("Sam", "I adopted a beagle named Biscuit."),
            ("Maya", "Lovely! Where did you find him?"),
            ("Sam", "At the shelter on Elm Street, last Sunday."),
        ]
    )
]


class _Recording(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return super().embed(texts)


def _turn_unit(turn: Turn) -> MemoryUnit:
    return make_unit(NS, Granularity.TURN, turn.text, provenance=[turn.id], speaker=turn.speaker)


def _mean(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return np.asarray(mean / np.linalg.norm(mean))


def _embedded(units: Sequence[MemoryUnit]) -> np.ndarray:
    return HashingEmbedder().embed([u.text for u in units])


def test_a_segment_gets_its_turns_mean_and_other_units_are_embedded() -> None:
    turns = [_turn_unit(t) for t in TURNS]
    (segment,) = build_segments(NS, TURNS)
    asked: list[list[str]] = []

    def embed(units: Sequence[MemoryUnit]) -> np.ndarray:
        asked.append([u.text for u in units])
        return _embedded(units)

    vectors = vectors_with_pooled_segments([*turns, segment], {}, embed, embed)
    assert asked == [[u.text for u in turns]]  # one encoder call, no segment text
    assert np.allclose(vectors[3], _mean(_embedded(turns)))
    assert np.allclose(vectors[:3], _embedded(turns))


def test_stored_turns_are_read_and_a_segment_missing_a_turn_is_embedded() -> None:
    turns = [_turn_unit(t) for t in TURNS]
    (segment,) = build_segments(NS, TURNS)
    read: list[str] = []

    def stored(units: Sequence[MemoryUnit]) -> np.ndarray:
        read.extend(u.id for u in units)
        return _embedded(units)

    found = {u.provenance[0]: u for u in turns}
    pooled = vectors_with_pooled_segments([segment], found, _embedded, stored)
    assert sorted(read) == sorted(u.id for u in turns)
    assert np.allclose(pooled[0], _mean(_embedded(turns)))
    del found["D1:1"]
    alone = vectors_with_pooled_segments([segment], found, _embedded, stored)
    assert np.allclose(alone[0], _embedded([segment])[0])  # its own text, embedded


def test_a_chat_session_ends_with_a_segment_pooled_from_the_stored_turns(tmp_path: Path) -> None:
    embedder = _Recording()
    with Hypermnesia.open(tmp_path, embedder=embedder, llm=None) as hm:
        for turn in TURNS:  # one turn per call, as a chatbot sends them
            hm.remember(NS, [turn], session_end=turn is TURNS[-1])
        hm.flush()
        records = hm.store._vectors.backend.get(NS, with_embeddings=True)
    by_gran = {g: [r for r in records if r.unit.granularity == g] for g in Granularity}
    (segment,) = by_gran[Granularity.SESSION]
    turns = {r.unit.provenance[0]: r.embedding for r in by_gran[Granularity.TURN]}
    expected = _mean(np.stack([turns[t] for t in segment.unit.provenance]))
    assert segment.embedding is not None and np.allclose(segment.embedding, expected, atol=1e-6)
    assert segment.unit.text not in embedder.texts
