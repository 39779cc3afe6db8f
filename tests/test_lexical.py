"""The lexical index: the same BM25 scores as ``bm25s``, kept current write by write."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.lexical import LexicalIndex, index_text
from memory.model import Granularity, MemoryUnit, Namespace, make_unit
from memory.text import content_tokens

NS = Namespace(user_id="alice")
WORDS = [
    "beagle",
    "biscuit",
    "shelter",
    "park",
    "river",
    "bakery",
    "street",
    "hiking",
    "rockies",
    "dog",
    "cat",
    "pottery",
]
TEXTS = [
    "Sam adopted a beagle named Biscuit from the shelter.",
    "Biscuit loves the dog park near the river.",
    "Maya works at Flour Bakery on Main Street.",
    "Sam went hiking in the Rockies with Maya.",
    "The shelter on Elm Street has many dogs and cats.",
    "Oh wow!",
]


def _unit(i: int, text: str, speaker: str | None = None) -> MemoryUnit:
    granularity = Granularity.FACT if i % 2 else Granularity.TURN
    return make_unit(NS, granularity, text, provenance=[f"D1:{i}"], speaker=speaker)


def _reference(units: list[MemoryUnit], query: str) -> dict[str, float]:
    """``bm25s`` (Lucene BM25, k1 1.2, b 0.75) over the same tokens: unit id → score > 0."""
    corpus = [content_tokens(index_text(u)) or ["_"] for u in units]
    index = bm25s.BM25(k1=1.2, b=0.75)
    index.index(corpus, show_progress=False)
    known = [t for t in content_tokens(query) if t in index.vocab_dict]
    if not known:
        return {}
    scores = index.get_scores(known)
    return {u.id: float(s) for u, s in zip(units, scores, strict=True) if s > 0}


def _assert_same(index: LexicalIndex, units: list[MemoryUnit], query: str) -> None:
    expected = _reference(units, query)
    got = dict(index.search(query, len(units) + 1))
    assert got.keys() == expected.keys()
    for uid, score in expected.items():
        assert got[uid] == pytest.approx(score, rel=1e-5)


def test_scores_equal_bm25s() -> None:
    units = [_unit(i, t, "Sam" if i % 3 else None) for i, t in enumerate(TEXTS)]
    index = LexicalIndex.build(units)
    for query in ("Where did Sam's beagle come from, the shelter?", "Maya bakery bakery", "zebra"):
        _assert_same(index, units, query)
    hits = index.search("beagle shelter", 2)
    assert len(hits) == 2 and hits[0][1] >= hits[1][1]
    assert index.search("the of and", 5) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=8), min_size=2, max_size=25
    ),
    steps=st.lists(st.tuples(st.sampled_from(["add", "close", "delete"]), st.integers(0, 99))),
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
)
def test_an_index_brought_forward_equals_bm25s_over_what_is_current(
    docs: list[list[str]], steps: list[tuple[str, int]], query: list[str]
) -> None:
    units = {u.id: u for u in (_unit(i, " ".join(d) or "hm") for i, d in enumerate(docs))}
    index = LexicalIndex.build(units.values())
    extra = len(docs)
    for action, n in steps:
        ids = list(units)
        target = ids[n % len(ids)] if ids else None
        if action == "add" or target is None:
            new = _unit(extra, f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7) % len(WORDS)]}")
            extra += 1
            units[new.id] = new
            index = index.updated([new.id], units)
        elif action == "close":
            units[target] = units[target].closed(units[target].valid_from, None)
            index = index.updated([target, target], units)  # twice: harmless
        else:
            del units[target]
            index = index.updated([target], units)
    current = [u for u in units.values() if u.is_current]
    assert len(index) == len(current)
    if current:
        _assert_same(index, current, " ".join(query))
        facts = dict(index.search(" ".join(query), len(current) + 1, frozenset({Granularity.FACT})))
        expected = _reference(current, " ".join(query))
        is_fact = {u.id for u in current if u.granularity == Granularity.FACT}
        assert facts.keys() == expected.keys() & is_fact


def test_granularities_filter_results_but_not_statistics() -> None:
    units = [_unit(i, t) for i, t in enumerate(TEXTS)]
    index = LexicalIndex.build(units)
    everything = dict(index.search("Biscuit shelter", 10))
    facts = index.search("Biscuit shelter", 10, frozenset({Granularity.FACT}))
    kinds = {u.id: u.granularity for u in units}
    assert facts and all(kinds[uid] == Granularity.FACT for uid, _ in facts)
    assert all(everything[uid] == pytest.approx(score) for uid, score in facts)


def test_many_updates_compact_without_changing_scores() -> None:
    rng = random.Random(3)
    units = {u.id: u for u in (_unit(i, t) for i, t in enumerate(TEXTS))}
    index = LexicalIndex.build(units.values())
    for _ in range(1500):  # re-indexing the same units leaves rows behind until compaction
        uid = rng.choice(list(units))
        index = index.updated([uid], units)
    assert len(index.unit_ids) <= 2 * len(units) + 1024
    _assert_same(index, list(units.values()), "beagle shelter street")
    assert np.isclose(
        index.lengths.sum(),
        sum(len(content_tokens(index_text(u)) or ["_"]) for u in units.values()),
    )
