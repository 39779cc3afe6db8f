"""Tenant isolation: nothing done in namespace A ever returns or touches data of namespace B.

Both namespaces hold the same texts (so identical content cannot leak through shared ids), and a
random sequence of operations runs in A; B must read back exactly as it was written. It runs on
SQLite beside embedded Chroma and on PostgreSQL beside a Chroma server (the ``deployment``), where
every example takes a fresh pair of namespaces in one shared database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.embeddings import HashingEmbedder
from memory.errors import UnitNotFoundError
from memory.model import Granularity, Namespace, Turn, make_unit
from memory.settings import Settings
from memory.store import MemoryStore

WORDS = ["boston", "beagle", "pottery", "nurse", "denver", "maya", "bakery", "hiking"]

EXAMPLES = {
    ("memory", "sqlite"): 60,
    ("chroma", "sqlite"): 25,
    ("memory", "postgres"): 30,
    ("chroma", "postgres"): 15,
}
texts = st.lists(st.sampled_from(WORDS), min_size=2, max_size=5).map(" ".join)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("search"), texts),
        st.tuples(st.just("get_b"), st.integers(0, 5)),
        st.tuples(st.just("delete_b"), st.integers(0, 5)),
        st.tuples(st.just("expand"), st.sampled_from(WORDS)),
        st.tuples(st.just("ppr"), st.sampled_from(WORDS)),
        st.tuples(st.just("add"), texts),
    ),
    min_size=1,
    max_size=12,
)


def _seed(store: MemoryStore, ns: Namespace, sentences: list[str]) -> list[str]:
    turns = [
        Turn(id=f"T{i}", session_id="S1", speaker="Sam", text=s) for i, s in enumerate(sentences)
    ]
    units = store.add_turns(ns, turns)
    facts = [
        make_unit(ns, Granularity.FACT, s, provenance=[f"T{i}"], entities=tuple(s.split()[:2]))
        for i, s in enumerate(sentences)
    ]
    store.add_units(ns, facts)
    return [u.id for u in units] + [f.id for f in facts]


def _snapshot(store: MemoryStore, ns: Namespace) -> tuple[object, ...]:
    units = sorted((u.id, u.text, u.valid_to) for u in store.units(ns))
    edges = sorted(store._hypergraph.edge_ids(ns))
    turns = sorted(t.id for t in store.turns(ns))
    return units, edges, turns


@pytest.mark.parametrize("backend", ["memory", "chroma"])
def test_no_operation_in_a_touches_b(tmp_path: Path, backend: str, deployment: Settings) -> None:
    counter = iter(range(10_000))

    @settings(
        max_examples=EXAMPLES[backend, "postgres" if deployment.database_url else "sqlite"],
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(sentences=st.lists(texts, min_size=3, max_size=6, unique=True), ops=operations)
    def check(sentences: list[str], ops: list[tuple[str, object]]) -> None:
        run = next(counter)
        A, B = Namespace(user_id=f"alice{run}"), Namespace(user_id=f"bob{run}")
        data = tmp_path / f"run{run}"
        with MemoryStore.open(
            data,
            embedder=HashingEmbedder(),
            backend=backend,  # type: ignore[arg-type]
            settings=deployment,
        ) as store:
            b_ids = _seed(store, B, sentences)
            _seed(store, A, sentences)
            before = _snapshot(store, B)
            for op, arg in ops:
                if op == "search":
                    hits = store.search(A, str(arg), k=50)
                    assert all(h.unit.namespace == A for h in hits)
                    assert not {h.unit.id for h in hits} & set(b_ids)
                elif op == "get_b":
                    assert store.get(A, [b_ids[int(arg) % len(b_ids)]]) == []
                elif op == "delete_b":
                    with pytest.raises(UnitNotFoundError):
                        store.delete(A, [b_ids[int(arg) % len(b_ids)]])
                elif op == "expand":
                    seeds = [v.id for v in store._hypergraph.find_vertices(A, [str(arg)])]
                    reached = store._hypergraph.expand(A, seed_vertices=seeds, hops=2)
                    assert not set(reached) & set(b_ids)
                    b_vertices = [v.id for v in store._hypergraph.find_vertices(B, [str(arg)])]
                    assert not store._hypergraph.expand(A, seed_vertices=b_vertices, hops=2)
                elif op == "ppr":
                    seeds = {v.id: 1.0 for v in store._hypergraph.find_vertices(A, ["Sam"])}
                    edge_scores, _ = store._hypergraph.personalized_pagerank(A, seed_vertices=seeds)
                    assert not set(edge_scores) & set(b_ids)
                    related = store.related(A, entities=["Sam"], seed_units={b_ids[0]: 1.0})
                    assert not {uid for uid, _ in related} & set(b_ids)
                    about = store.units_about(A, ["Sam", str(arg)])
                    assert all(u.namespace == A for u in about)
                    assert not set(store.current_units(A)) & set(b_ids)
                elif op == "add":
                    store.add_units(A, [make_unit(A, Granularity.FACT, str(arg))])
            # deleting everything in A leaves B intact
            store.delete(A, [u.id for u in store.units(A)])
            assert store.units(A) == []
            assert _snapshot(store, B) == before

    check()
