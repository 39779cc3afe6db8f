"""The hypergraph stores: operations, persistence, namespace isolation, PageRank; the contract runs
on SQLite and on PostgreSQL (a fresh database of the session's server per test)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from memory.errors import (
    InvalidInputError,
    StoreCorruptError,
    StoreUnavailableError,
    UnitNotFoundError,
)
from memory.hypergraph import HypergraphStats, HypergraphStore, Incidence
from memory.model import Granularity, Hyperedge, Namespace, Vertex, VertexKind, vertex_id

REPO = Path(__file__).resolve().parents[1]
A = Namespace(user_id="alice")
B = Namespace(user_id="bob")
ALPHA = 0.85


def vx(ns: Namespace, label: str, kind: VertexKind = VertexKind.ENTITY) -> Vertex:
    return Vertex(id=vertex_id(ns, kind, label), namespace=ns, kind=kind, label=label)


def ed(
    ns: Namespace,
    edge: str,
    *members: Vertex,
    weight: float = 1.0,
    granularity: Granularity = Granularity.FACT,
    event_time: datetime | None = None,
) -> Hyperedge:
    return Hyperedge(
        id=edge,
        namespace=ns,
        vertices=tuple(v.id for v in members),
        granularity=granularity,
        event_time=event_time,
        weight=weight,
    )


def build(store: HypergraphStore, ns: Namespace, spec: dict[str, str]) -> dict[str, Vertex]:
    """Add edges given as ``{"e1": "a b c"}`` (vertex labels) and return the vertices by label."""
    labels = sorted({lb for members in spec.values() for lb in members.split()})
    verts = {lb: vx(ns, lb) for lb in labels}
    edges = [ed(ns, e, *(verts[lb] for lb in members.split())) for e, members in spec.items()]
    store.add(ns, edges, list(verts.values()))
    return verts


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HypergraphStore]:
    if request.param == "sqlite":
        with HypergraphStore(tmp_path / "graph.db") as s:
            yield s
        return
    from memory.pg_hypergraph import PgHypergraphStore

    with PgHypergraphStore(request.getfixturevalue("pg_url")) as pg:
        yield pg  # type: ignore[misc]  # the same contract, not the same class


def nx_reference(
    store: HypergraphStore,
    ns: Namespace,
    seed_vertices: dict[str, float],
    seed_edges: dict[str, float],
    *,
    current_only: bool = True,
) -> tuple[dict[str, float], dict[str, float]]:
    """``networkx.pagerank`` on the bipartite graph, built from the store's public reads."""
    graph = nx.Graph()
    inc = store.incidence(ns, current_only=current_only)
    graph.add_nodes_from(("v", v) for v in inc.vertex_ids)
    for edge in store.get_edges(ns, store.edge_ids(ns, current_only=current_only)):
        graph.add_node(("e", edge.id))
        for v in edge.vertices:
            graph.add_edge(("e", edge.id), ("v", v), weight=edge.weight)
    seeds = {("v", k): w for k, w in seed_vertices.items()}
    seeds |= {("e", k): w for k, w in seed_edges.items()}
    ref = nx.pagerank(graph, alpha=ALPHA, personalization=seeds)
    return (
        {k: x for (t, k), x in ref.items() if t == "e"},
        {k: x for (t, k), x in ref.items() if t == "v"},
    )


# -- basic operations ---------------------------------------------------------------------------


def test_round_trip_keeps_every_field(store: HypergraphStore) -> None:
    alice, paris = vx(A, "Alice"), vx(A, "Paris")
    day = vx(A, "2023-05-07", VertexKind.TIME)
    when = datetime(2023, 5, 7, 14, 30, tzinfo=UTC)
    edge = ed(A, "u1", paris, alice, day, weight=2.5, event_time=when, granularity=Granularity.TURN)
    store.add(A, [edge], [alice, paris, day])
    assert store.get_edges(A, ["u1"]) == [edge]
    assert store.get_edges(A, ["u1"])[0].vertices == (paris.id, alice.id, day.id)
    assert store.get_vertices(A, [day.id, "nope", alice.id]) == [day, alice]
    assert store.stats(A) == HypergraphStats(vertices=3, edges=1, current_edges=1, incidences=3)
    assert store.namespaces() == [A]


def test_find_vertices_by_normalised_label_and_kind(store: HypergraphStore) -> None:
    may = vx(A, "May", VertexKind.TIME)
    may_person = vx(A, "may")
    bob = vx(A, "Bob")
    store.add(A, [ed(A, "u1", may, may_person, bob)], [may, may_person, bob])
    assert {v.id for v in store.find_vertices(A, ["  MAY. "])} == {may.id, may_person.id}
    assert store.find_vertices(A, ["may"], VertexKind.TIME) == [may]
    assert store.find_vertices(A, ["bob!", "nobody", "May"], VertexKind.ENTITY) == [
        bob,
        may_person,
    ]


def test_incident_edges_and_neighbours(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b", "e2": "b c", "e3": "c d"})
    assert [e.id for e in store.incident_edges(A, [v["b"].id])] == ["e1", "e2"]
    assert [e.id for e in store.incident_edges(A, [v["a"].id, v["d"].id])] == ["e1", "e3"]
    assert store.neighbours(A, v["b"].id) == {v["a"].id, v["c"].id}
    assert store.neighbours(A, "unknown") == set()


def test_incidence_is_csr_sorted_by_id(store: HypergraphStore) -> None:
    v = build(store, A, {"e2": "b c", "e1": "a b"})
    lonely = vx(A, "lonely")
    store.add(A, [ed(A, "e0")], [lonely])  # an edge without vertices, a vertex without edges
    inc = store.incidence(A)
    assert inc.edge_ids == ["e0", "e1", "e2"]
    assert inc.vertex_ids == sorted(x.id for x in [*v.values(), lonely])
    assert inc.edge_ptr.tolist() == [0, 0, 2, 4]
    assert inc.edge_ptr.dtype == np.dtype(np.int64)
    assert inc.edge_vertices.dtype == np.dtype(np.int32)
    assert inc.edge_vertex_ids("e1") == [v["a"].id, v["b"].id]
    assert inc.edge_vertex_ids("e2") == [v["b"].id, v["c"].id]
    assert inc.edge_weights.tolist() == [1.0, 1.0, 1.0]
    assert not inc.edge_vertices.flags.writeable


def test_incidence_cache_follows_writes_to_its_namespace_only(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b"})
    first = store.incidence(A)
    assert store.incidence(A) is first
    build(store, B, {"e1": "a b"})
    assert store.incidence(A) is first
    store.set_current(A, ["e1"], False)
    assert store.incidence(A).edge_ids == []
    assert store.incidence(A, current_only=False).edge_ids == ["e1"]
    with pytest.raises(InvalidInputError):
        store.add(A, [ed(A, "e2", v["a"], vx(A, "ghost"))], [])
    assert store.incidence(A).edge_ids == []


def test_add_is_idempotent(store: HypergraphStore) -> None:
    build(store, A, {"e1": "a b", "e2": "b c"})
    before = (store.stats(A), store.get_edges(A, ["e1", "e2"]))
    build(store, A, {"e1": "a b", "e2": "b c"})
    assert (store.stats(A), store.get_edges(A, ["e1", "e2"])) == before


def test_add_again_replaces_an_edge_and_keeps_the_first_label(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b"})
    store.add(
        A, [ed(A, "e1", v["a"], weight=3.0)], [Vertex(**{**v["a"].model_dump(), "label": "A"})]
    )
    (edge,) = store.get_edges(A, ["e1"])
    assert (edge.vertices, edge.weight) == ((v["a"].id,), 3.0)
    assert store.get_vertices(A, [v["a"].id])[0].label == "a"


def test_remove_drops_orphan_vertices(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b", "e2": "b c"})
    assert store.remove(A, ["e1", "missing"]) == 1
    assert store.get_vertices(A, [v["a"].id, v["b"].id, v["c"].id]) == [v["b"], v["c"]]
    assert store.incident_edges(A, [v["b"].id]) == store.get_edges(A, ["e2"])
    assert store.remove(A, ["e1"]) == 0
    assert store.remove(A, ["e2"]) == 1
    assert store.stats(A) == HypergraphStats(0, 0, 0, 0)
    assert store.namespaces() == []


def test_supersede_excludes_edge_from_current_views(store: HypergraphStore) -> None:
    v = build(store, A, {"old": "alice paris", "new": "alice london", "far": "london tea"})
    store.set_current(A, ["old"], False)
    assert store.get_edges(A, ["old"])[0].current is False
    assert store.edge_ids(A, current_only=True) == ["far", "new"]
    assert store.edge_ids(A) == ["far", "new", "old"]
    seed = [v["alice"].id]
    assert store.expand(A, seed, hops=2) == {"new": 1, "far": 2}
    assert store.expand(A, seed, hops=1, current_only=False) == {"new": 1, "old": 1}
    assert store.expand(A, seed_edges=["old"], hops=1) == {}
    assert [e.id for e in store.incident_edges(A, seed, current_only=True)] == ["new"]
    assert store.neighbours(A, v["alice"].id, current_only=True) == {v["london"].id}
    edges, _ = store.personalized_pagerank(A, {v["alice"].id: 1.0})
    assert set(edges) == {"far", "new"}
    edges, _ = store.personalized_pagerank(A, {v["alice"].id: 1.0}, current_only=False)
    assert set(edges) == {"far", "new", "old"} and edges["old"] > edges["far"]
    store.set_current(A, ["old"], True)
    assert store.stats(A).current_edges == 3


def test_set_current_on_unknown_edge_changes_nothing(store: HypergraphStore) -> None:
    build(store, A, {"e1": "a b"})
    with pytest.raises(UnitNotFoundError, match="nope"):
        store.set_current(A, ["e1", "nope"], False)
    assert store.stats(A).current_edges == 1


# -- expansion ----------------------------------------------------------------------------------


def test_expand_hop_distances(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b", "e2": "b c", "e3": "c d", "e4": "d e", "x": "y z"})
    assert store.expand(A, [v["a"].id], hops=0) == {}
    assert store.expand(A, [v["a"].id], hops=3) == {"e1": 1, "e2": 2, "e3": 3}
    assert store.expand(A, seed_edges=["e2"], hops=0) == {"e2": 0}
    assert store.expand(A, seed_edges=["e2"], hops=1) == {"e2": 0, "e1": 1, "e3": 1}
    assert store.expand(A, [v["e"].id], ["e1"], hops=1) == {"e1": 0, "e4": 1, "e2": 1}
    assert store.expand(A, ["unknown"], ["unknown"], hops=5) == {}


def test_expand_max_edges_keeps_nearest_then_heaviest(store: HypergraphStore) -> None:
    hub, a, b, c = vx(A, "hub"), vx(A, "a"), vx(A, "b"), vx(A, "c")
    edges = [
        ed(A, "light", hub, a, weight=0.5),
        ed(A, "heavy", hub, b, weight=2.0),
        ed(A, "plain", hub, c),
        ed(A, "next", c),
    ]
    store.add(A, edges, [hub, a, b, c])
    assert list(store.expand(A, [hub.id], hops=2)) == ["heavy", "plain", "light", "next"]
    assert store.expand(A, [hub.id], hops=2, max_edges=2) == {"heavy": 1, "plain": 1}
    assert store.expand(A, [hub.id], hops=2, max_edges=0) == {}


@pytest.mark.parametrize("hops", [-1, 1.5, True])
def test_expand_rejects_bad_hops(store: HypergraphStore, hops: object) -> None:
    build(store, A, {"e1": "a b"})
    with pytest.raises(InvalidInputError, match="hops"):
        store.expand(A, ["x"], hops=hops)  # type: ignore[arg-type]


# -- personalized PageRank on hand-computable graphs ---------------------------------------------


def test_ppr_star_seeded_at_the_edge(store: HypergraphStore) -> None:
    v = build(store, A, {"e": "a b c"})
    edges, verts = store.personalized_pagerank(A, seed_edges={"e": 1.0}, tol=1e-12, max_iter=1000)
    # x_e = (1-α) + α·(vertex mass), vertex mass = α·x_e  ⇒  x_e = 1/(1+α), each leaf α/(3(1+α)).
    assert edges["e"] == pytest.approx(1 / (1 + ALPHA), abs=1e-9)
    for leaf in v.values():
        assert verts[leaf.id] == pytest.approx(ALPHA / (3 * (1 + ALPHA)), abs=1e-9)


def test_ppr_star_seeded_at_a_leaf(store: HypergraphStore) -> None:
    v = build(store, A, {"e": "a b c"})
    edges, verts = store.personalized_pagerank(A, {v["a"].id: 2.0}, tol=1e-12, max_iter=1000)
    # x_e = α·(1 - x_e); other leaves α·x_e/3; the seed adds the teleport 1-α.
    x_e = ALPHA / (1 + ALPHA)
    assert edges["e"] == pytest.approx(x_e, abs=1e-9)
    assert verts[v["b"].id] == pytest.approx(ALPHA * x_e / 3, abs=1e-9)
    assert verts[v["a"].id] == pytest.approx(1 - ALPHA + ALPHA * x_e / 3, abs=1e-9)


def test_ppr_mass_stays_in_the_seed_component(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b", "e2": "b c", "f1": "x y", "f2": "y z"})
    edges, verts = store.personalized_pagerank(A, {v["a"].id: 1.0}, tol=1e-12, max_iter=1000)
    other = edges["f1"] + edges["f2"] + sum(verts[v[k].id] for k in "xyz")
    assert other < 1e-9
    assert edges["e1"] + edges["e2"] + sum(verts[v[k].id] for k in "abc") == pytest.approx(1.0)


def test_ppr_symmetric_vertices_score_equal(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "hub a", "e2": "hub b", "e3": "a b c"})
    edges, verts = store.personalized_pagerank(A, {v["hub"].id: 1.0})
    assert verts[v["a"].id] == pytest.approx(verts[v["b"].id], rel=1e-12)
    assert edges["e1"] == pytest.approx(edges["e2"], rel=1e-12)
    assert verts[v["c"].id] < verts[v["a"].id]


def test_ppr_decays_along_a_chain(store: HypergraphStore) -> None:
    labels = [f"n{i}" for i in range(6)]
    build(store, A, {f"e{i}": f"{labels[i]} {labels[i + 1]}" for i in range(5)})
    v = {lb: vx(A, lb) for lb in labels}
    edges, verts = store.personalized_pagerank(A, {v["n0"].id: 1.0})
    edge_scores = [edges[f"e{i}"] for i in range(5)]
    vertex_scores = [verts[v[lb].id] for lb in labels[:-1]]  # the far end has half the degree
    assert edge_scores == sorted(edge_scores, reverse=True)
    assert vertex_scores == sorted(vertex_scores, reverse=True)
    assert len(set(edge_scores)) == 5


def test_ppr_follows_edge_weights(store: HypergraphStore) -> None:
    hub, a, b = vx(A, "hub"), vx(A, "a"), vx(A, "b")
    edges = [ed(A, "heavy", hub, a, weight=3.0), ed(A, "light", hub, b, weight=1.0)]
    store.add(A, edges, [hub, a, b])
    scores, verts = store.personalized_pagerank(A, {hub.id: 1.0})
    assert scores["heavy"] > 2.5 * scores["light"]
    assert verts[a.id] > verts[b.id]


@pytest.mark.parametrize("seed", range(5))
def test_ppr_matches_networkx_on_random_graphs(store: HypergraphStore, seed: int) -> None:
    rng = random.Random(seed)
    verts = [vx(A, f"v{i}") for i in range(60)]
    edges = [
        ed(A, f"u{i:03d}", *rng.sample(verts, rng.randint(1, 6)), weight=rng.uniform(0.1, 3.0))
        for i in range(150)
    ]
    edges.append(ed(A, "empty"))  # dangling edge; some vertices are never used: dangling too
    store.add(A, edges, verts)
    store.set_current(A, [e.id for e in rng.sample(edges, 20)], False)
    seed_v = {v.id: rng.random() for v in rng.sample(verts, 3)}
    seed_e = {e.id: rng.random() for e in rng.sample(edges, 2)}
    for current_only in (True, False):
        got = store.personalized_pagerank(A, seed_v, seed_e, current_only=current_only)
        known_e = {k: w for k, w in seed_e.items() if k in got[0]}
        ref = nx_reference(store, A, seed_v, known_e, current_only=current_only)
        for ours, theirs in zip(got, ref, strict=True):
            assert ours.keys() == theirs.keys()
            assert max(abs(ours[k] - theirs[k]) for k in ours) < 1e-10


def test_ppr_rejects_bad_seeds_and_arguments(store: HypergraphStore) -> None:
    v = build(store, A, {"e1": "a b"})
    with pytest.raises(InvalidInputError, match="no seed"):
        store.personalized_pagerank(A, {"unknown": 1.0})
    with pytest.raises(InvalidInputError, match="no seed"):
        store.personalized_pagerank(A, {v["a"].id: 0.0})
    with pytest.raises(InvalidInputError, match="no seed"):
        store.personalized_pagerank(A)
    with pytest.raises(InvalidInputError, match="weights must be"):
        store.personalized_pagerank(A, {v["a"].id: -1.0})
    with pytest.raises(InvalidInputError, match="alpha"):
        store.personalized_pagerank(A, {v["a"].id: 1.0}, alpha=1.5)
    with pytest.raises(InvalidInputError, match="not a number"):
        store.personalized_pagerank(A, {v["a"].id: "1"})  # type: ignore[dict-item]
    edges, verts = store.personalized_pagerank(A, {v["a"].id: 1.0}, max_iter=1)
    assert sum(edges.values()) + sum(verts.values()) == pytest.approx(1.0)


# -- namespaces ---------------------------------------------------------------------------------


def test_namespaces_are_isolated(store: HypergraphStore) -> None:
    va = build(store, A, {"shared": "alice paris", "a_only": "alice tea"})
    vb = build(store, B, {"shared": "alice paris", "b_only": "paris rain"})
    b_vertices = [v.id for v in vb.values()]
    assert not set(b_vertices) & {v.id for v in va.values()}

    assert all(e.namespace == A for e in store.get_edges(A, ["shared", "b_only", "a_only"]))
    assert [e.id for e in store.get_edges(A, ["b_only"])] == []
    assert store.get_edges(A, ["shared"])[0].vertices == (va["alice"].id, va["paris"].id)
    assert store.get_vertices(A, b_vertices) == []
    assert {v.namespace for v in store.find_vertices(A, ["alice", "paris", "rain"])} == {A}
    assert store.find_vertices(A, ["rain"]) == []
    assert store.incident_edges(A, b_vertices) == []
    assert store.neighbours(A, vb["paris"].id) == set()
    assert store.expand(A, b_vertices, ["b_only"], hops=3) == {}
    assert store.edge_ids(A) == ["a_only", "shared"]
    inc = store.incidence(A)
    assert set(inc.vertex_ids) == {v.id for v in va.values()}
    assert "b_only" not in inc.edge_ids
    with pytest.raises(InvalidInputError, match="no seed"):
        store.personalized_pagerank(A, dict.fromkeys(b_vertices, 1.0), {"b_only": 1.0})
    edges, verts = store.personalized_pagerank(A, {va["alice"].id: 1.0}, {"shared": 1.0})
    assert set(edges) == {"a_only", "shared"} and set(verts) <= {v.id for v in va.values()}
    with pytest.raises(UnitNotFoundError):
        store.set_current(A, ["b_only"], False)
    assert store.remove(A, ["b_only"]) == 0

    b_before = (store.stats(B), store.get_edges(B, ["shared", "b_only"]))
    assert store.remove(A, ["shared", "a_only"]) == 2
    assert store.stats(A) == HypergraphStats(0, 0, 0, 0)
    assert (store.stats(B), store.get_edges(B, ["shared", "b_only"])) == b_before
    assert store.namespaces() == [B]


def test_same_raw_ids_in_two_namespaces(store: HypergraphStore) -> None:
    for ns, label in ((A, "Alice"), (B, "Bob")):
        vertex = Vertex(id="v1", namespace=ns, kind=VertexKind.ENTITY, label=label)
        edge = Hyperedge(id="u1", namespace=ns, vertices=("v1",), granularity=Granularity.FACT)
        store.add(ns, [edge], [vertex])
    assert store.get_vertices(A, ["v1"])[0].label == "Alice"
    assert store.find_vertices(A, ["bob"]) == []
    store.remove(A, ["u1"])
    assert store.get_vertices(B, ["v1"])[0].label == "Bob"
    assert store.stats() == HypergraphStats(1, 1, 1, 1)


# -- bad input changes nothing ------------------------------------------------------------------


def test_edge_with_unknown_vertex_writes_nothing(store: HypergraphStore) -> None:
    a, b = vx(A, "a"), vx(A, "b")
    with pytest.raises(InvalidInputError, match=f"bad.*{vx(A, 'ghost').id}"):
        store.add(A, [ed(A, "good", a), ed(A, "bad", a, b, vx(A, "ghost"))], [a, b])
    assert store.stats() == HypergraphStats(0, 0, 0, 0)
    store.add(A, [ed(A, "good", a)], [a])
    store.add(A, [ed(A, "later", a)], [])  # a stored vertex need not be given again
    assert store.edge_ids(A) == ["good", "later"]


def test_namespace_mismatch_writes_nothing(store: HypergraphStore) -> None:
    a = vx(A, "a")
    with pytest.raises(InvalidInputError, match="edge e1 belongs to namespace bob/default"):
        store.add(A, [ed(B, "e1", vx(B, "a"))], [a])
    with pytest.raises(InvalidInputError, match=r"vertex .* belongs to namespace alice"):
        store.add(B, [], [a])
    with pytest.raises(InvalidInputError, match="Namespace"):
        store.add("alice", [], [a])  # type: ignore[arg-type]
    assert store.stats() == HypergraphStats(0, 0, 0, 0)


def test_conflicting_duplicates_in_one_batch_are_rejected(store: HypergraphStore) -> None:
    a = vx(A, "a")
    with pytest.raises(InvalidInputError, match="e1 is given twice"):
        store.add(A, [ed(A, "e1", a), ed(A, "e1", a, weight=2.0)], [a])
    with pytest.raises(InvalidInputError, match="string"):
        store.get_edges(A, "e1")
    assert store.stats() == HypergraphStats(0, 0, 0, 0)


# -- persistence --------------------------------------------------------------------------------


def test_reopen_in_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "graph.db"
    with HypergraphStore(path) as first:
        v = build(first, A, {"e1": "a b", "e2": "b c"})
        first.set_current(A, ["e2"], False)
        expected = first.get_edges(A, ["e1", "e2"])
    with pytest.raises(StoreUnavailableError, match="closed"):
        first.stats()
    with HypergraphStore(path) as second:
        assert second.get_edges(A, ["e1", "e2"]) == expected
        assert second.find_vertices(A, ["B"]) == [v["b"]]
        assert second.expand(A, [v["a"].id], hops=3) == {"e1": 1}


_CHILD = """
import json, sys
from memory.hypergraph import HypergraphStore
from memory.model import Hyperedge, Namespace
ns = Namespace(user_id="alice")
with HypergraphStore(sys.argv[1]) as store:
    edges = store.get_edges(ns, store.edge_ids(ns))
    (vid,) = edges[0].vertices[:1]
    edge = Hyperedge(id="from_child", namespace=ns, vertices=(vid,), granularity="fact")
    store.add(ns, [edge], [])
    print(json.dumps({"edges": [e.model_dump(mode="json") for e in edges]}))
"""


def test_reopen_in_a_subprocess_and_see_its_writes(tmp_path: Path) -> None:
    path = tmp_path / "graph.db"
    with HypergraphStore(path) as store:
        v = build(store, A, {"e1": "a b"})
        assert store.incidence(A).edge_ids == ["e1"]  # cached before the child writes
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=REPO,
            timeout=60,
        )
        seen = json.loads(out.stdout)["edges"]
        assert [Hyperedge.model_validate(e) for e in seen] == store.get_edges(A, ["e1"])
        assert store.incidence(A).edge_ids == ["e1", "from_child"]
        assert store.expand(A, [v["a"].id]) == {"e1": 1, "from_child": 1}


def test_a_second_postgres_store_sees_writes_through_the_version(pg_url: str) -> None:
    from memory.pg_hypergraph import PgHypergraphStore

    with PgHypergraphStore(pg_url) as first, PgHypergraphStore(pg_url) as second:
        v = build(first, A, {"e1": "a b"})
        assert second.incidence(A).edge_ids == ["e1"]  # cached before the other one writes
        second_edge = ed(A, "from_second", v["a"])
        second.add(A, [second_edge], [])
        assert first.incidence(A).edge_ids == ["e1", "from_second"]
        assert first.expand(A, [v["a"].id]) == {"e1": 1, "from_second": 1}
        first.set_current(A, ["e1"], False)
        assert second.incidence(A).edge_ids == ["from_second"]


def test_corrupt_file_raises_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "graph.db"
    path.write_bytes(b"this is not a database" * 300)
    with pytest.raises(StoreCorruptError, match=str(path)):
        HypergraphStore(path)


def test_memory_store_and_threads() -> None:
    with HypergraphStore(":memory:") as store:
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                ns = Namespace(user_id=f"t{i}")
                v = build(store, ns, {f"e{j}": f"a{j} a{j + 1}" for j in range(20)})
                assert len(store.expand(ns, [v["a0"].id], hops=25)) == 20
                store.personalized_pagerank(ns, {v["a0"].id: 1.0})
            except BaseException as exc:  # collected, re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.stats() == HypergraphStats(
            vertices=84, edges=80, current_edges=80, incidences=160
        )


# -- performance sanity -------------------------------------------------------------------------


def test_ppr_on_ten_thousand_edges(tmp_path: Path) -> None:
    rng = random.Random(7)
    verts = [vx(A, f"entity {i}") for i in range(3000)]
    edges = [
        ed(A, f"u{i:05d}", *rng.sample(verts, rng.randint(1, 8)), weight=rng.uniform(0.5, 2.0))
        for i in range(10_000)
    ]
    with HypergraphStore(tmp_path / "big.db") as store:
        t0 = time.perf_counter()
        store.add(A, edges, verts)
        t1 = time.perf_counter()
        inc: Incidence = store.incidence(A)
        t2 = time.perf_counter()
        seeds = {verts[0].id: 1.0, verts[1].id: 0.5}
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            scores, _ = store.personalized_pagerank(A, seeds, {"u00003": 1.0})
            runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        reached = store.expand(A, list(seeds), hops=2, max_edges=200)
        t_expand = time.perf_counter() - start
    print(
        f"\nhypergraph 10k edges / 3k vertices / {inc.n_incidences} incidences: "
        f"add {1000 * (t1 - t0):.0f} ms, incidence build {1000 * (t2 - t1):.0f} ms, "
        f"PPR median {1000 * sorted(runs)[2]:.1f} ms, expand(2 hops) {1000 * t_expand:.1f} ms"
    )
    assert len(scores) == 10_000 and sum(scores.values()) < 1.0
    assert len(reached) == 200
    assert sorted(runs)[2] < 1.0  # loose: the machine is shared
