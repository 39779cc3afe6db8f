"""The vector index facade: behaviour, errors and persistence of both cores, int8 recall on real
MiniLM embeddings of LoCoMo, and personalized PageRank against networkx."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from memory.errors import InvalidInputError, StoreCorruptError, UnitNotFoundError
from memory.native_index import (
    NATIVE_AVAILABLE,
    Incidence,
    IndexFilter,
    NativeIndex,
    NumpyIndex,
    VectorIndex,
    open_index,
    personalized_pagerank,
)

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
NATIVE = pytest.param(
    NativeIndex,
    marks=pytest.mark.skipif(not NATIVE_AVAILABLE, reason="hypermnesia_native is not built"),
)
BACKENDS = [NumpyIndex, NATIVE]
STORAGES = ["f32", "int8", "int8_dim"]


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def build(cls: type[VectorIndex], storage: str = "int8", n: int = 300, dim: int = 16) -> Any:
    ix = cls(dim, storage=storage)  # type: ignore[arg-type]
    x = unit_rows(n, dim)
    ix.add(
        [f"u{i}" for i in range(n)],
        x,
        namespace=[f"user{i % 3}/default" for i in range(n)],
        granularity=["turn", "fact"] * (n // 2),
    )
    return ix, x


def test_the_native_core_is_built_when_its_crate_is_present() -> None:
    crate = Path(__file__).resolve().parents[1] / "native" / "Cargo.toml"
    assert NATIVE_AVAILABLE or not crate.exists(), "run `make install` to build hypermnesia_native"


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_search_returns_exact_scores_best_first(cls: Any, storage: str, metric: str) -> None:
    ix = cls(16, metric=metric, storage=storage)
    x = unit_rows(300, 16) * np.linspace(0.5, 2, 300, dtype=np.float32)[:, None]
    ix.add([f"u{i}" for i in range(300)], x, namespace="u/a", granularity="fact")
    assert len(ix) == 300 and "u7" in ix and "nope" not in ix and 7 not in ix
    assert ix.ids() == [f"u{i}" for i in range(300)]
    hits = ix.search(x[7], k=5, candidates=300)
    rows = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
    q = rows[7]
    exact = rows @ q
    assert [h[0] for h in hits] == [f"u{i}" for i in np.argsort(-exact)[:5]]
    np.testing.assert_allclose([h[1] for h in hits], np.sort(exact)[::-1][:5], rtol=1e-5)
    assert ix.search_batch(x[[7, 9]], k=5, candidates=300) == [
        hits,
        ix.search(x[9], k=5, candidates=300),
    ]
    assert len(ix.search(x[0], k=1000)) == 300


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("storage", ["int8", "int8_dim"])
def test_the_int8_pool_decides_what_is_reranked(cls: Any, storage: str) -> None:
    # Both rows quantize to the same codes; exact f32 scores tell them apart.
    ix = cls(2, metric="dot", storage=storage)
    ix.add(["older", "better"], [[1.0, 0.0], [1.0, 0.003]], namespace="n", granularity="fact")
    assert ix.search([1.0, 1.0], k=1, candidates=1) == [("older", 1.0)]
    assert ix.search([1.0, 1.0], k=1, candidates=2)[0][0] == "better"
    assert ix.search([1.0, 1.0], k=1, exact=True)[0][0] == "better"


@pytest.mark.parametrize("cls", BACKENDS)
def test_updates_upserts_and_removes_change_what_search_sees(cls: Any) -> None:
    ix, x = build(cls)
    ix.update(["u5"], -x[9:10], namespace="user2/default", granularity="turn")
    assert ix.search(-x[9], k=1)[0][0] == "u5"
    ix.upsert(["u6", "new"], x[[9, 9]], namespace="user0/default", granularity="fact")
    assert {h[0] for h in ix.search(x[9], k=3)} == {"u6", "new", "u9"}
    ix.remove(["u9", "new"])
    assert "u9" not in ix and len(ix) == 299
    assert ix.search(x[9], k=1)[0][0] == "u6"
    ix.compact()
    assert len(ix) == 299 and sorted(ix.ids()) == sorted({f"u{i}" for i in range(300)} - {"u9"})
    assert ix.search(x[9], k=1)[0][0] == "u6"


@pytest.mark.parametrize("cls", BACKENDS)
def test_filters_apply_namespace_granularity_validity_and_ids(cls: Any) -> None:
    ix, x = build(cls, n=60)
    scoped = ix.search(x[4], k=60, filter=IndexFilter(namespace="user1/default"))
    assert {h[0] for h in scoped} == {f"u{i}" for i in range(60) if i % 3 == 1}
    facts = IndexFilter(namespace="user1/default", granularities=frozenset({"fact", "other"}))
    assert {h[0] for h in ix.search(x[4], k=60, filter=facts)} == {
        f"u{i}" for i in range(60) if i % 3 == 1 and i % 2 == 1
    }
    ix.set_current(["u1", "u4"], False)
    current = ix.search(
        x[4], k=60, filter=IndexFilter(namespace="user1/default", current_only=True)
    )
    assert {h[0] for h in current} == {f"u{i}" for i in range(7, 60, 3)}
    by_id = ix.search(x[4], k=5, filter=IndexFilter(ids=frozenset({"u4", "u8", "ghost"})))
    assert [h[0] for h in by_id] == ["u4", "u8"]
    assert ix.search(x[4], k=5, filter=IndexFilter(namespace="nobody/default")) == []


@pytest.mark.parametrize("cls", BACKENDS)
def test_score_ranks_an_explicit_subset(cls: Any) -> None:
    ix, x = build(cls)
    got = ix.score(x[3], ["u10", "u3", "u20"])
    assert got[0] == ("u3", pytest.approx(1.0, abs=1e-6))
    want = sorted([("u10", float(x[10] @ x[3])), ("u20", float(x[20] @ x[3]))], key=lambda h: -h[1])
    assert [h[0] for h in got[1:]] == [h[0] for h in want]
    np.testing.assert_allclose([h[1] for h in got[1:]], [h[1] for h in want], rtol=1e-5)
    with pytest.raises(UnitNotFoundError, match="ghost"):
        ix.score(x[3], ["u1", "ghost"])


BAD_WRITES: list[tuple[Any, Any, type[Exception]]] = [
    (["a"], np.ones((1, 15)), InvalidInputError),
    (["a"], np.array([["x"] * 16]), InvalidInputError),
    (["a"], np.ones((1, 16), dtype=complex), InvalidInputError),
    (["a"], np.full((1, 16), np.nan), InvalidInputError),
    (["a", "b"], np.vstack([np.ones(16), np.full(16, np.inf)]), InvalidInputError),
    (["a"], np.zeros((1, 16)), InvalidInputError),
    (["a"], np.full((1, 16), 1e300), InvalidInputError),
    (["a", "a"], np.ones((2, 16)), InvalidInputError),
    (["u1"], np.ones((1, 16)), InvalidInputError),
    (["a", ""], np.ones((2, 16)), InvalidInputError),
    ("ab", np.ones((2, 16)), InvalidInputError),
]


@pytest.mark.parametrize("cls", BACKENDS)
def test_bad_input_raises_typed_errors_and_changes_nothing(cls: Any) -> None:
    ix, x = build(cls, n=10)
    before = (ix.ids(), ix.search(x[0], k=3))
    for ids, vectors, error in BAD_WRITES:
        with pytest.raises(error):
            ix.add(ids, vectors, namespace="user0/default", granularity="fact")
    with pytest.raises(InvalidInputError, match="namespace"):
        ix.add(["a"], np.ones((1, 16)), namespace=["x", "y"], granularity="fact")
    with pytest.raises(InvalidInputError, match="granularity"):
        ix.add(["a"], np.ones((1, 16)), namespace="x", granularity=3)
    with pytest.raises(UnitNotFoundError, match="ghost"):
        ix.update(["u1", "ghost"], np.ones((2, 16)), namespace="n", granularity="fact")
    with pytest.raises(UnitNotFoundError, match="ghost"):
        ix.remove(["u1", "ghost"])
    with pytest.raises(UnitNotFoundError):
        ix.set_current(["ghost"], False)
    bad_queries: list[tuple[Any, dict[str, Any]]] = [
        (np.ones(15), {}),
        (np.full(16, np.nan), {}),
        (np.zeros(16), {}),
        (np.ones((2, 16)), {}),
        (["a"] * 16, {}),
        (np.ones(16), {"k": 0}),
        (np.ones(16), {"k": True}),
        (np.ones(16), {"candidates": 0}),
    ]
    for query, kwargs in bad_queries:
        with pytest.raises(InvalidInputError):
            ix.search(query, **kwargs)
    with pytest.raises(InvalidInputError):
        ix.search_batch(np.ones(16))
    with pytest.raises(InvalidInputError):
        cls(0)
    with pytest.raises(InvalidInputError):
        cls(8, metric="l2")
    with pytest.raises(InvalidInputError):
        cls(8, storage="int4")
    assert (ix.ids(), ix.search(x[0], k=3)) == before


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("storage", STORAGES)
def test_save_and_load_round_trip(cls: Any, storage: str, tmp_path: Path) -> None:
    ix, x = build(cls, storage=storage)
    ix.remove(["u0", "u1"])
    ix.set_current(["u2"], False)
    path = tmp_path / "index.bin"
    ix.save(path)
    for mmap in (True, False):
        back = cls.load(path, mmap=mmap)
        assert (back.dim, back.metric, back.storage) == (16, "cosine", storage)
        assert sorted(back.ids()) == sorted(ix.ids())
        f = IndexFilter(namespace="user2/default", current_only=True)
        assert back.search(x[5], k=8, filter=f) == ix.search(x[5], k=8, filter=f)
        back.add(["later"], x[:1], namespace="user0/default", granularity="fact")
        assert "later" in back and "later" not in ix
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(StoreCorruptError):
        cls.load(path)
    with pytest.raises(OSError):
        cls.load(tmp_path / "missing.bin")


@pytest.mark.parametrize("cls", BACKENDS)
def test_many_deletes_compact_without_changing_results(cls: Any) -> None:
    ix, x = build(cls, n=3000)
    before = ix.search(x[2999], k=5, filter=IndexFilter(namespace="user2/default"))
    ix.remove([f"u{i}" for i in range(2000)])
    assert len(ix) == 1000
    after = ix.search(x[2999], k=5, filter=IndexFilter(namespace="user2/default"))
    assert [h for h in before if int(h[0][1:]) >= 2000] == after[: len(before)] or after[
        0
    ] == before[0]


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="hypermnesia_native is not built")
def test_native_searches_run_while_other_threads_write() -> None:
    ix, x = build(NativeIndex, n=20_000, dim=32)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for i in range(30):
                assert ix.search(x[i], k=3)[0][0] == f"u{i}"
        except BaseException as e:  # collected, asserted empty below
            errors.append(e)

    def writer() -> None:
        for j in range(30):
            ix.upsert([f"w{j}"], -x[j : j + 1], namespace="user0/default", granularity="fact")

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(ix) == 20_030


def test_open_index_prefers_the_native_core() -> None:
    assert isinstance(open_index(8, prefer_native=False), NumpyIndex)
    assert isinstance(open_index(8), NativeIndex if NATIVE_AVAILABLE else NumpyIndex)


@pytest.fixture(scope="module")
def minilm_locomo() -> tuple[np.ndarray, np.ndarray]:
    if not LOCOMO.exists():
        pytest.skip(f"{LOCOMO} is absent")
    from memory.embeddings import MiniLMEmbedder

    turns, questions = [], []
    for conv in json.loads(LOCOMO.read_text()):
        for key, session in conv["conversation"].items():
            if key.startswith("session_") and isinstance(session, list):
                turns += [f"{t['speaker']}: {t['text']}" for t in session]
        questions += [str(q["question"]) for q in conv["qa"]]
    embedder = MiniLMEmbedder()
    return embedder.embed(turns[::2]), embedder.embed(questions[::8])


@pytest.mark.slow
@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("storage", ["int8", "int8_dim"])
def test_int8_recall_at_10_on_minilm_embeddings_of_locomo(
    cls: Any, storage: str, minilm_locomo: tuple[np.ndarray, np.ndarray]
) -> None:
    turns, questions = minilm_locomo
    ix = cls(turns.shape[1], storage=storage)
    ix.add([f"t{i}" for i in range(len(turns))], turns, namespace="locomo", granularity="turn")
    exact = np.argsort(-(questions @ turns.T), axis=1)[:, :10]
    found = ix.search_batch(questions, k=10)
    recall = np.mean(
        [
            len({f"t{i}" for i in want} & {h[0] for h in got}) / 10
            for want, got in zip(exact, found, strict=True)
        ]
    )
    assert len(turns) > 1500 and recall >= 0.99


def bipartite(ptr: list[int], verts: list[int], nv: int, weights: list[float]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(nv))
    g.add_nodes_from(("e", e) for e in range(len(weights)))
    for e, w in enumerate(weights):
        g.add_edges_from((v, ("e", e)) for v in verts[ptr[e] : ptr[e + 1]])
        for v in verts[ptr[e] : ptr[e + 1]]:
            g.edges[v, ("e", e)]["weight"] = w
    return g


@pytest.mark.parametrize("native", [False, pytest.param(True, marks=NATIVE.marks)])
def test_personalized_pagerank_matches_networkx(native: bool) -> None:
    ptr, verts, nv, weights = [0, 3, 5, 5, 7], [0, 1, 2, 2, 3, 4, 0], 6, [1.0, 2.0, 1.0, 0.5]
    seeds_e, seeds_v = {1: 1.0}, {0: 2.0, 5: 1.0}
    edges, vertices = personalized_pagerank(
        np.array(ptr),
        np.array(verts),
        nv,
        np.array(weights, dtype=np.float32),
        seeds_e,
        seeds_v,
        prefer_native=native,
    )
    personalization = {v: w for v, w in seeds_v.items()} | {("e", e): w for e, w in seeds_e.items()}
    want = nx.pagerank(bipartite(ptr, verts, nv, weights), personalization=personalization)
    np.testing.assert_allclose(vertices, [want[v] for v in range(nv)], atol=1e-6)
    np.testing.assert_allclose(edges, [want[("e", e)] for e in range(4)], atol=1e-6)
    assert abs(edges.sum() + vertices.sum() - 1) < 1e-9
    bad: list[tuple[Any, ...]] = [
        ([0, 2], [0, 0], 2, [1.0], {}, {}),
        ([0, 1], [7], 2, [1.0], {}, {}),
        ([0, 1], [0], 2, [-1.0], {}, {}),
        ([0, 2, 1], [0, 1], 2, [1.0, 1.0], {}, {}),
        ([0, 1], [0], 2, [1.0], {5: 1.0}, {}),
        ([0, 1], [0], 2, [1.0], {0: 0.0}, {}),
        ([0.5, 1], [0], 2, [1.0], {}, {}),
    ]
    for args in bad:
        with pytest.raises(InvalidInputError):
            personalized_pagerank(*args, prefer_native=native)


@pytest.mark.parametrize("native", [False, pytest.param(True, marks=NATIVE.marks)])
def test_one_incidence_serves_many_walks(native: bool) -> None:
    rng = np.random.default_rng(4)
    nv, sizes = 40, rng.integers(1, 6, 60)
    verts = np.concatenate([rng.choice(nv, size, replace=False) for size in sizes])
    ptr, weights = np.concatenate([[0], np.cumsum(sizes)]), rng.uniform(0.5, 1.5, len(sizes))
    incidence = Incidence(ptr, verts, nv, weights, prefer_native=native)
    for seed in range(5):  # the same walks as one call each, from different seeds
        seeds_e, seeds_v = {seed: 1.0}, {int(rng.integers(nv)): 0.5}
        got = incidence.pagerank(seeds_e, seeds_v, tol=1e-9)
        want = personalized_pagerank(ptr, verts, nv, weights, seeds_e, seeds_v, tol=1e-9)
        np.testing.assert_allclose(got[0], want[0], atol=1e-9)
        np.testing.assert_allclose(got[1], want[1], atol=1e-9)
    with pytest.raises(InvalidInputError):
        incidence.pagerank({len(sizes): 1.0}, {})  # a seed outside the hyperedges
    with pytest.raises(InvalidInputError):
        Incidence([0, 2], [0, 0], 2, [1.0], prefer_native=native)  # a vertex listed twice
