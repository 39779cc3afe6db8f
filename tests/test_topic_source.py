"""The ``topic`` source: the dense index searched without the names common in the namespace."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agents.recipes import get_recipe
from agents.retrieval import QueryPlan, build_view, rank_candidates, search_sources, view_for
from agents.retrieval.topic import common_names, topic_text, without_names
from memory.model import Granularity, MemoryUnit, Namespace, make_unit
from memory.store import MemoryStore

NS = Namespace(user_id="tim")
BOOKS = "Finished a long novel about dragons and wizards; two more books wait on my shelf."


def _turn(n: int, speaker: str, text: str, *names: str) -> MemoryUnit:
    return make_unit(
        NS,
        Granularity.TURN,
        text,
        provenance=[f"D1:{n}"],
        session_id="S1",
        speaker=speaker,
        entities=(speaker, *names),
    )


def _chat() -> list[MemoryUnit]:
    """Twenty turns between Tim and John; Tim's dog Biscuit comes up once."""
    chat = [
        _turn(
            n, "Tim" if n % 2 else "John", f"Tim, Tim, it is Tim: has John told Tim about part {n}?"
        )
        for n in range(1, 19)
    ]
    chat.append(_turn(19, "John", "Tim, how is Biscuit doing?", "Biscuit"))
    chat.append(_turn(20, "Tim", BOOKS))
    return chat


def test_names_most_units_mention_are_common_and_rare_ones_are_not() -> None:
    view = build_view({u.id: u for u in _chat()}, [])
    assert common_names(view, ["Tim", "John", "Biscuit", "Nobody"]) == ["Tim", "John"]


def test_without_names_drops_whole_names_and_possessives_only() -> None:
    text = "Did Tim's sister meet TIM and Timothy at the timber yard?"
    assert without_names(text, ["Tim"]) == "Did sister meet and Timothy at the timber yard?"
    assert without_names("Where do John and Tim live?", ["Tim", "John"]) == "Where do and live?"


def test_the_topic_keeps_rare_names_and_is_none_when_nothing_or_everything_goes() -> None:
    view = build_view({u.id: u for u in _chat()}, [])
    assert topic_text(view, "Is Tim's dog Biscuit well?", ["Tim", "Biscuit"]) == (
        "Is dog Biscuit well?"
    )
    assert topic_text(view, "Is Biscuit well?", ["Biscuit"]) is None  # no common name
    assert topic_text(view, "Tim?", ["Tim"]) == "?"
    assert topic_text(view, "Tim", ["Tim"]) is None  # nothing would be left to search


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    store = open_store(backend="memory")
    store.add_units(NS, _chat())
    return store


def test_the_topic_source_finds_what_the_names_crowd_out(store: MemoryStore) -> None:
    view = view_for(store, NS)
    question = "Which books has Tim read?"
    plan = QueryPlan(question, question, ["Tim"], [])
    lists, _ = search_sources(store, NS, view, plan, get_recipe("full"))
    first = {s.name: view.units[s.hits[0].unit_id].text for s in lists}
    assert first["topic"] == BOOKS
    assert first["dense"] != BOOKS  # the question's vector leans to the turns saying "Tim"
    ranks = {}
    for name in ("full", "no-topic"):
        # the learned re-ranker off: it lifts the books turn on its words alone
        recipe = get_recipe(name).model_copy(update={"rerank_head": 0})
        found, route = search_sources(store, NS, view, plan, recipe)
        assert ("topic" in [s.name for s in found]) is (name == "full")
        ranked = [
            view.units[c["unit_id"]].text for c in rank_candidates(found, view, plan, route, recipe)
        ]
        ranks[name] = ranked.index(BOOKS)
    assert ranks["full"] < ranks["no-topic"]


def test_a_question_without_common_names_searches_no_topic(store: MemoryStore) -> None:
    view = view_for(store, NS)
    plan = QueryPlan("Which books were read?", "Which books were read?", [], [])
    lists, _ = search_sources(store, NS, view, plan, get_recipe("full"))
    assert [s.name for s in lists] == ["dense", "lexical", "graph"]
