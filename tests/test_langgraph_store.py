"""The LangGraph store contract, run against LangGraph's own ``InMemoryStore`` (to show the tests
test the contract) and against ``HypermnesiaStore`` (to show the engine keeps it).

The behaviours are those LangGraph's store tests check: get/put/delete, namespace validation,
search by namespace prefix, value filters and their operators, pagination, semantic ranking that
follows updates and skips unindexed items, namespace listing with prefixes, suffixes, wildcards
and depth, the batch core, the async twins, and a compiled graph using the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

from graphs.client import Hypermnesia
from graphs.langgraph_store import HypermnesiaStore
from memory.embeddings import HashingEmbedder
from memory.model import Namespace

BACKENDS = ["langgraph-inmemory", "hypermnesia"]


def _embed(texts: list[str]) -> list[list[float]]:
    return HashingEmbedder().embed(texts).tolist()  # type: ignore[no-any-return]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    if request.param == "langgraph-inmemory":
        yield InMemoryStore(index={"dims": HashingEmbedder().dim, "embed": _embed})
        return
    engine = Hypermnesia.open(tmp_path / "data", embedder=HashingEmbedder(), llm=None)
    hm_store = HypermnesiaStore(engine, tmp_path / "items.sqlite3", tenant=Namespace(user_id="t"))
    yield hm_store
    hm_store.close()
    engine.close()


def _keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


# -- get, put, delete ----------------------------------------------------------------------------


def test_put_then_get_returns_the_item(store: BaseStore) -> None:
    store.put(("users", "sam"), "prefs", {"theme": "dark", "langs": ["en", "fr"], "n": 3})
    item = store.get(("users", "sam"), "prefs")
    assert item is not None
    assert item.value == {"theme": "dark", "langs": ["en", "fr"], "n": 3}
    assert (tuple(item.namespace), item.key) == (("users", "sam"), "prefs")
    assert item.created_at <= item.updated_at
    assert store.get(("users", "sam"), "other") is None
    assert store.get(("users", "max"), "prefs") is None


def test_put_replaces_and_delete_removes(store: BaseStore) -> None:
    store.put(("docs",), "d1", {"text": "first version"})
    first = store.get(("docs",), "d1")
    store.put(("docs",), "d1", {"text": "second version"})
    second = store.get(("docs",), "d1")
    assert first is not None and second is not None
    assert second.value == {"text": "second version"}
    assert second.updated_at >= first.updated_at
    assert len(store.search(("docs",))) == 1
    store.delete(("docs",), "d1")
    assert store.get(("docs",), "d1") is None
    assert store.search(("docs",)) == []
    store.delete(("docs",), "never-there")  # not an error


@pytest.mark.parametrize(
    "namespace", [(), ("the", "thing.about"), ("some", "fun", ""), ("langgraph", "foo")]
)
def test_bad_namespaces_are_refused(store: BaseStore, namespace: tuple[str, ...]) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(namespace, "k", {"a": 1})
    with pytest.raises(InvalidNamespaceError):
        asyncio.run(store.aput(namespace, "k", {"a": 1}))
    assert store.list_namespaces() == []


def test_langgraph_inside_a_namespace_is_fine(store: BaseStore) -> None:
    store.put(("foo", "langgraph", "foo"), "bar", {"x": 1})
    assert store.search(("foo", "langgraph", "foo"))[0].value == {"x": 1}


# -- search ------------------------------------------------------------------------------------


def test_search_stays_under_the_prefix(store: BaseStore) -> None:
    store.put(("a", "b"), "1", {"n": 1})
    store.put(("a", "b", "c"), "2", {"n": 2})
    store.put(("a", "bc"), "3", {"n": 3})  # shares a string prefix, not a namespace prefix
    store.put(("x",), "4", {"n": 4})
    assert sorted(_keys(store.search(("a", "b")))) == ["1", "2"]
    assert sorted(_keys(store.search(("a",)))) == ["1", "2", "3"]
    assert sorted(_keys(store.search(()))) == ["1", "2", "3", "4"]
    assert store.search(("nothing",)) == []


def _products(store: BaseStore) -> None:
    docs = {
        "d1": {"text": "red apple", "color": "red", "score": 4.5, "meta": {"tag": "fruit"}},
        "d2": {"text": "red car", "color": "red", "score": 3.0, "meta": {"tag": "vehicle"}},
        "d3": {"text": "green apple", "color": "green", "score": 4.0, "meta": {"tag": "fruit"}},
        "d4": {"text": "blue car", "color": "blue", "score": 3.5, "meta": {"tag": "vehicle"}},
    }
    for key, value in docs.items():
        store.put(("shop",), key, value)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"color": "red"}, {"d1", "d2"}),
        ({"color": {"$eq": "blue"}}, {"d4"}),
        ({"color": {"$ne": "red"}}, {"d3", "d4"}),
        ({"score": {"$gt": 3.5}}, {"d1", "d3"}),
        ({"score": {"$gte": 3.5}}, {"d1", "d3", "d4"}),
        ({"score": {"$lt": 3.5}}, {"d2"}),
        ({"score": {"$lte": 3.5}}, {"d2", "d4"}),
        ({"score": {"$gte": 4.0}, "color": "green"}, {"d3"}),
        ({"meta": {"tag": "fruit"}}, {"d1", "d3"}),
        ({"color": "purple"}, set()),
    ],
)
def test_search_filters_on_values(
    store: BaseStore, flt: dict[str, Any], expected: set[str]
) -> None:
    _products(store)
    assert set(_keys(store.search(("shop",), filter=flt))) == expected


def test_search_pages_without_overlap(store: BaseStore) -> None:
    for i in range(7):
        store.put(("pages",), f"k{i}", {"i": i})
    pages = [store.search(("pages",), limit=3, offset=o) for o in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]
    keys = [k for p in pages for k in _keys(p)]
    assert sorted(keys) == [f"k{i}" for i in range(7)]


def test_query_ranks_by_meaning_and_filters_still_apply(store: BaseStore) -> None:
    _products(store)
    best = store.search(("shop",), query="apple", filter={"color": "red"})
    assert _keys(best) == ["d1", "d2"]
    assert best[0].score is not None and best[1].score is not None
    assert best[0].score > best[1].score
    assert _keys(store.search(("shop",), query="blue car", limit=1)) == ["d4"]


def test_query_follows_updates_and_skips_unindexed_items(store: BaseStore) -> None:
    store.put(("t",), "doc1", {"text": "zany zebra xerxes"})
    store.put(("t",), "doc2", {"text": "something about dogs"})
    store.put(("t",), "doc3", {"text": "text about birds"})
    first = store.search(("t",), query="zany zebra xerxes")
    assert first[0].key == "doc1"
    store.put(("t",), "doc1", {"text": "new text about cats"})
    after = store.search(("t",), query="zany zebra xerxes")
    assert next(r.score for r in after if r.key == "doc1") < first[0].score  # type: ignore[operator]
    assert store.search(("t",), query="new text about cats")[0].key == "doc1"
    store.put(("t",), "doc4", {"text": "new text about cats"}, index=False)
    top = store.search(("t",), query="new text about cats", limit=3)
    assert "doc4" not in _keys(top)


def test_empty_query_means_no_query(store: BaseStore) -> None:
    store.put(("t",), "doc1", {"text": "test document"})
    for query in ("", None, "test " * 100, "test!@#$%^&*()"):
        assert len(store.search(("t",), query=query)) == 1


def test_index_fields_choose_what_is_searched(store: BaseStore) -> None:
    store.put(("f",), "a", {"title": "pottery class", "body": "zebra"}, index=["title"])
    store.put(("f",), "b", {"title": "zebra", "body": "pottery class"}, index=["title"])
    assert store.search(("f",), query="pottery class")[0].key == "a"


# -- list_namespaces -------------------------------------------------------------------------------


def test_list_namespaces(store: BaseStore) -> None:
    namespaces = [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
        ("admin", "users", "789"),
    ]
    for i, ns in enumerate(namespaces):
        store.put(ns, f"id{i}", {"i": i})
    under_ab = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")]
    assert store.list_namespaces(prefix=("a", "b")) == under_ab
    assert store.list_namespaces(suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("a",), suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), limit=2) == under_ab[:2]
    assert store.list_namespaces(prefix=("a", "b"), offset=2) == under_ab[2:]
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []
    assert store.list_namespaces(prefix=("nonexistent",)) == []
    assert len(store.list_namespaces()) == len(namespaces)


def test_list_namespaces_of_an_empty_store(store: BaseStore) -> None:
    assert store.list_namespaces() == []


# -- the batch core and the async twins ----------------------------------------------------------


def test_batch_answers_each_operation_in_order(store: BaseStore) -> None:
    store.put(("b",), "x", {"v": 1})
    results = store.batch(
        [
            GetOp(("b",), "x"),
            PutOp(("b",), "y", {"v": 2}),
            SearchOp(("b",), filter={"v": 1}),
            ListNamespacesOp(),
            GetOp(("b",), "missing"),
        ]
    )
    assert isinstance(results[0], Item) and results[0].value == {"v": 1}
    assert results[1] is None
    assert _keys(results[2]) == ["x"]  # type: ignore[arg-type]
    assert results[3] == [("b",)]
    assert results[4] is None
    assert store.get(("b",), "y") is not None


def test_async_methods_match_the_sync_ones(store: BaseStore) -> None:
    async def scenario() -> None:
        await store.aput(("as",), "k1", {"text": "red apple", "n": 1})
        await asyncio.gather(*(store.aput(("as", str(i)), "k", {"n": 10 + i}) for i in range(5)))
        got = await store.aget(("as",), "k1")
        assert got is not None and got.value["n"] == 1
        found = await store.asearch(("as",), query="apple", filter={"n": 1})
        assert _keys(found) == ["k1"]
        assert len(await store.alist_namespaces(prefix=("as",))) == 6
        await store.adelete(("as",), "k1")
        assert await store.aget(("as",), "k1") is None
        results = await store.abatch([GetOp(("as", "3"), "k"), SearchOp(("as",), limit=100)])
        assert isinstance(results[0], Item) and len(results[1]) == 5  # type: ignore[arg-type]

    asyncio.run(scenario())


class _State(TypedDict):
    user: str
    text: str
    recalled: list[str]


def test_a_compiled_graph_uses_the_store(store: BaseStore) -> None:
    def write(state: _State, *, store: BaseStore) -> dict[str, Any]:
        store.put(("memories", state["user"]), str(len(state["text"])), {"text": state["text"]})
        return {}

    def read(state: _State, *, store: BaseStore) -> dict[str, Any]:
        hits = store.search(("memories", state["user"]), query=state["text"], limit=5)
        return {"recalled": [h.value["text"] for h in hits]}

    builder = StateGraph(_State)
    builder.add_node("write", write)
    builder.add_node("read", read)
    builder.add_edge(START, "write")
    builder.add_edge("write", "read")
    builder.add_edge("read", END)
    graph = builder.compile(store=store)
    graph.invoke({"user": "sam", "text": "I adopted a beagle", "recalled": []})
    out = graph.invoke({"user": "sam", "text": "beagle named Biscuit", "recalled": []})
    assert out["recalled"][0] in {"I adopted a beagle", "beagle named Biscuit"}
    assert set(out["recalled"]) == {"I adopted a beagle", "beagle named Biscuit"}
    other = graph.invoke({"user": "max", "text": "hello there", "recalled": []})
    assert other["recalled"] == ["hello there"]


# -- what only the engine-backed store does --------------------------------------------------------


def _open(tmp_path: Path) -> HypermnesiaStore:
    engine = Hypermnesia.open(tmp_path / "data", embedder=HashingEmbedder(), llm=None)
    return HypermnesiaStore(
        engine,
        tmp_path / "items.sqlite3",
        tenant=lambda ns: Namespace(user_id=ns[-1]),
        fields=["content"],
        owns_engine=True,
    )


def test_items_are_memories_of_their_tenant(tmp_path: Path) -> None:
    with _open(tmp_path) as store:
        store.put(("memories", "sam"), "m1", {"content": "Sam adopted a beagle named Biscuit"})
        store.put(("memories", "max"), "m1", {"content": "Max adopted a cat named Biscuit"})
        sam = Namespace(user_id="sam")
        recall = store.engine.recall(sam, "What is the name of the beagle?")
        texts = " ".join(e.text for e in recall.evidence)
        assert "beagle" in texts and "cat" not in texts
        assert {u.text for u in store.engine.store.units(Namespace(user_id="max"))} == {
            "Max adopted a cat named Biscuit"
        }
        store.put(("memories", "sam"), "m1", {"content": "Sam sold the bike"})
        assert [u.text for u in store.engine.store.units(sam)] == ["Sam sold the bike"]
        store.delete(("memories", "sam"), "m1")
        assert store.engine.store.units(sam) == []
        assert store.engine.store.turns(sam) == []


def test_items_survive_a_restart(tmp_path: Path) -> None:
    with _open(tmp_path) as store:
        store.put(("memories", "sam"), "m1", {"content": "lives in Denver"})
        created = store.get(("memories", "sam"), "m1")
    with _open(tmp_path) as store:
        again = store.get(("memories", "sam"), "m1")
        assert again == created
        assert store.search(("memories",), query="Denver")[0].key == "m1"


def test_a_unit_forgotten_through_the_engine_does_not_break_the_item(tmp_path: Path) -> None:
    with _open(tmp_path) as store:
        store.put(("memories", "sam"), "m1", {"content": "lives in Denver"})
        sam = Namespace(user_id="sam")
        store.engine.forget(sam, [u.id for u in store.engine.store.units(sam)])
        store.put(("memories", "sam"), "m1", {"content": "lives in Boston"})
        assert [u.text for u in store.engine.store.units(sam)] == ["lives in Boston"]
