"""The lexical index: BM25 as FTS5 computes it, current units only, one namespace per table."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from memory.lexical import LexicalIndex, index_text
from memory.model import Granularity, MemoryUnit, Namespace, make_unit
from memory.text import content_tokens

A = Namespace(user_id="alice")
B = Namespace(user_id="bob")
TEXTS = [
    "Sam adopted a beagle named Biscuit from the shelter.",
    "Biscuit loves the dog park near the river.",
    "Maya works at Flour Bakery on Main Street.",
    "Sam went hiking in the Rockies with Maya.",
    "The shelter on Elm Street has many dogs and cats.",
]


def _units(ns: Namespace, texts: list[str] = TEXTS) -> list[MemoryUnit]:
    return [
        make_unit(ns, Granularity.FACT if i % 2 else Granularity.TURN, t, provenance=[f"D1:{i}"])
        for i, t in enumerate(texts)
    ]


@pytest.fixture
def index(tmp_path: Path) -> LexicalIndex:
    idx = LexicalIndex(tmp_path / "lexical.sqlite3")
    yield idx
    idx.close()


def _reference_bm25(docs: list[list[str]], query: list[str]) -> list[float]:
    """BM25 as FTS5 defines it: k1 1.2, b 0.75, idf log((N - n + 0.5) / (n + 0.5)) floored."""
    n_docs = len(docs)
    avgdl = sum(len(d) for d in docs) / n_docs
    scores = []
    for doc in docs:
        tf = Counter(doc)
        score = 0.0
        for term in query:
            n = sum(term in d for d in docs)
            idf = max(math.log((n_docs - n + 0.5) / (n + 0.5)), 1e-6)
            f = tf[term]
            score += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len(doc) / avgdl))
        scores.append(score)
    return scores


def test_scores_are_bm25_over_the_namespace(index: LexicalIndex) -> None:
    units = _units(A)
    index.apply(A, units)
    query = "Where did Sam's beagle come from, the shelter?"
    hits = index.search(A, query, 10)
    docs = [content_tokens(index_text(u)) for u in units]
    expected = _reference_bm25(docs, content_tokens(query))
    by_id = dict(hits)
    for unit, score in zip(units, expected, strict=True):
        if score > 0:
            assert by_id[unit.id] == pytest.approx(score, rel=1e-6)
        else:
            assert unit.id not in by_id
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(index.search(A, query, 1)) == 1
    assert index.search(A, "the of and", 10) == []  # stopwords only: no content words


def test_granularities_filter_results_but_not_statistics(index: LexicalIndex) -> None:
    units = _units(A)
    index.apply(A, units)
    all_hits = dict(index.search(A, "Biscuit shelter", 10))
    facts = index.search(A, "Biscuit shelter", 10, frozenset({Granularity.FACT}))
    assert facts and all(
        next(u for u in units if u.id == uid).granularity == "fact" for uid, _ in facts
    )
    assert all(all_hits[uid] == pytest.approx(score) for uid, score in facts)


def test_only_current_units_are_indexed_and_writes_are_idempotent(index: LexicalIndex) -> None:
    units = _units(A)
    index.apply(A, units)
    index.apply(A, units)
    assert index.count(A) == len(units)
    closed = units[0].closed(units[0].valid_from, None)
    index.apply(A, [closed])
    assert units[0].id not in dict(index.search(A, "beagle Biscuit", 10))
    index.apply(A, [], removed=[units[2].id])
    assert index.search(A, "Flour Bakery", 10) == []
    assert index.count(A) == len(units) - 2


def test_namespaces_never_meet(index: LexicalIndex) -> None:
    index.apply(A, _units(A))
    index.apply(B, _units(B, ["Zanzibar is where Bob keeps his boat."]))
    assert index.search(A, "Zanzibar boat", 10) == []
    assert [uid for uid, _ in index.search(B, "Zanzibar boat", 10)] == [
        _units(B, ["Zanzibar is where Bob keeps his boat."])[0].id
    ]


def test_another_connection_sees_a_committed_write(tmp_path: Path) -> None:
    first = LexicalIndex(tmp_path / "lexical.sqlite3")
    second = LexicalIndex(tmp_path / "lexical.sqlite3")
    try:
        assert second.search(A, "beagle", 5) == []
        first.apply(A, _units(A))
        assert second.search(A, "beagle", 5)
    finally:
        first.close()
        second.close()


def test_the_file_holds_no_readable_text(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    index = LexicalIndex(path)
    index.apply(A, _units(A, ["Zanzibar giraffes eat persimmons."]))
    assert index.search(A, "giraffe persimmon", 5)
    index.compact()
    index.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for word in (b"zanzibar", b"giraff", b"persimmon"):
        assert word not in raw.lower()
