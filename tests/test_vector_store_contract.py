"""One contract for every vector backend: NumPy in memory, embedded Chroma, a real Chroma server."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError, StoreCorruptError, StoreUnavailableError
from memory.model import (
    Granularity,
    MemoryUnit,
    Namespace,
    UnitFilter,
    UnitKind,
    make_unit,
)
from memory.vector_store import (
    ChromaBackend,
    InMemoryBackend,
    VectorBackend,
    VectorRecord,
    VectorStore,
)
from tests.chroma_server import ChromaServer, free_port, running_chroma_server

ROOT = Path(__file__).resolve().parents[1]
EMBEDDER = HashingEmbedder()
A = Namespace(user_id="alice")
B = Namespace(user_id="bob")
T0 = datetime(2023, 5, 1, 12, 0, tzinfo=UTC)
_collections = itertools.count()

WORDS = [
    *("hiking", "mountain", "lake", "dog", "cat", "guitar", "painting", "sunrise", "coffee"),
    *("paris", "boston", "sushi", "race", "charity", "school", "book", "movie", "garden", "rain"),
    *("bike", "piano", "friend", "sister", "brother", "job", "interview", "camping", "beach"),
]


def _units(ns: Namespace, n: int, *, seed: int = 0) -> list[MemoryUnit]:
    """Varied units: granularities, kinds, sessions, event times (some absent), some closed."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS, size=6))
        event = None if i % 5 == 4 else T0 + timedelta(days=i % 17, seconds=i)
        unit = make_unit(
            ns,
            list(Granularity)[i % len(Granularity)],
            f"{words} number {i}",
            provenance=[f"D{i % 7}:{i}"],
            kind=UnitKind.INFERENCE if i % 3 == 0 else UnitKind.EVIDENCE,
            session_id=None if i % 11 == 10 else f"s{i % 4}",
            event_time=event,
            valid_from=T0,
        )
        if i % 6 == 5:
            unit = unit.closed(T0 + timedelta(days=30), successor_id=None)
        out.append(unit)
    return out


@pytest.fixture(params=["memory", "chroma-embedded", "chroma-server"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "chroma-server":
        request.applymarker(pytest.mark.integration)
    return str(request.param)


@pytest.fixture
def backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[VectorBackend]:
    if kind == "memory":
        yield InMemoryBackend()
        return
    if kind == "chroma-embedded":
        chroma = ChromaBackend.persistent(tmp_path / "chroma", EMBEDDER)
    else:
        server: ChromaServer = request.getfixturevalue("chroma_server")
        name = f"contract_{next(_collections)}_{tmp_path.name[-20:]}"
        chroma = ChromaBackend.http(server.host, server.port, EMBEDDER, collection=name)
    yield chroma
    chroma.close()


@pytest.fixture
def store(backend: VectorBackend) -> VectorStore:
    return VectorStore(backend, EMBEDDER)


def _ids(units: list[MemoryUnit]) -> list[str]:
    return [u.id for u in units]


def _snapshot(store: VectorStore) -> dict[str, list[str]]:
    return {
        ns.key: sorted(r.unit.model_dump_json() for r in store.all_records(ns, None, False))
        for ns in store.backend.namespaces()
    }


# --- writes ---------------------------------------------------------------------------------------


def test_upsert_is_idempotent(store: VectorStore) -> None:
    units = _units(A, 40)
    assert store.put(A, units) == _ids(units)
    assert store.put(A, units) == _ids(units)
    assert store.count(A) == 40 and store.count() == 40
    assert sorted(_ids(store.get(A, _ids(units)))) == sorted(_ids(units))
    assert store.backend.namespaces() == [A]


def test_closing_a_unit_updates_it_in_place(store: VectorStore) -> None:
    units = _units(A, 10)
    current = [u for u in units if u.is_current]
    store.put(A, units)
    old = current[0]
    successor = make_unit(A, Granularity.FACT, "moved to Boston", event_time=None)
    store.put(A, [old.closed(T0 + timedelta(days=40), successor.id), successor])
    assert store.count(A) == 12 - 1  # the closed unit replaced its old copy
    (reloaded,) = store.get(A, [old.id])
    assert not reloaded.is_current and reloaded.superseded_by == successor.id
    assert reloaded.version == old.version + 1
    only_current = UnitFilter(current_only=True)
    listed = _ids([r.unit for r in store.all_records(A, only_current, False)])
    assert old.id not in listed and successor.id in listed
    hits = store.search(A, old.text, k=20, flt=only_current)
    assert old.id not in [h.unit.id for h in hits]
    # Clearing a field on update removes it (Chroma merges metadata unless told otherwise).
    (no_event,) = [u for u in units if u.event_time is not None and u.id != old.id][:1]
    store.put(A, [no_event.model_copy(update={"event_time": None, "session_id": None})])
    after = UnitFilter(event_after=T0 - timedelta(days=1))
    assert no_event.id not in _ids([r.unit for r in store.all_records(A, after, False)])
    in_sessions = UnitFilter(session_ids=frozenset({"s0", "s1", "s2", "s3"}))
    assert no_event.id not in _ids([r.unit for r in store.all_records(A, in_sessions, False)])


def test_records_round_trip_with_embeddings(store: VectorStore) -> None:
    units = _units(A, 25)
    vectors = EMBEDDER.embed([u.text for u in units])
    store.put(A, units, vectors)
    records = {r.unit.id: r for r in store.all_records(A)}
    for unit, vector in zip(units, vectors, strict=True):
        assert records[unit.id].unit == unit
        emb = records[unit.id].embedding
        assert emb is not None
        np.testing.assert_allclose(emb, vector, atol=1e-6)


def test_get_keeps_the_order_asked_and_skips_missing(store: VectorStore) -> None:
    units = _units(A, 8)
    store.put(A, units)
    asked = [units[5].id, "u-missing", units[1].id, units[5].id, units[3].id]
    assert _ids(store.get(A, asked)) == [units[5].id, units[1].id, units[3].id]
    assert store.get(A, []) == []
    assert len(store.backend.get(A, None, None, limit=3)) == 3


# --- filters and queries --------------------------------------------------------------------------


FILTERS = [
    UnitFilter(granularities=frozenset({Granularity.FACT, Granularity.TURN})),
    UnitFilter(kinds=frozenset({UnitKind.INFERENCE})),
    UnitFilter(current_only=True),
    UnitFilter(session_ids=frozenset({"s1", "s3"})),
    UnitFilter(event_after=T0 + timedelta(days=5, seconds=5)),  # equals one unit's event time
    UnitFilter(event_before=T0 + timedelta(days=3, seconds=3)),
    UnitFilter(
        granularities=frozenset({Granularity.TURN, Granularity.SESSION}),
        current_only=True,
        event_after=T0 + timedelta(days=2),
        event_before=T0 + timedelta(days=12),
    ),
    UnitFilter(granularities=frozenset()),
    UnitFilter(session_ids=frozenset()),
]


def test_every_filter_field_matches_the_reference(store: VectorStore) -> None:
    units = _units(A, 60)
    store.put(A, units)
    store.put(B, _units(B, 20, seed=1))
    pick = frozenset(_ids(units[::7]))
    for flt in [*FILTERS, UnitFilter(ids=pick), UnitFilter(ids=pick, kinds=frozenset(UnitKind))]:
        expected = sorted(u.id for u in units if flt.matches(u))
        got = sorted(_ids([r.unit for r in store.all_records(A, flt, False)]))
        assert got == expected, flt
        hits = store.search(A, "hiking lake dog", k=100, flt=flt)
        assert sorted(h.unit.id for h in hits) == expected, flt
    assert 0 < len([u for u in units if FILTERS[4].matches(u)]) < 60


def test_query_ordering_matches_brute_force(store: VectorStore) -> None:
    units = _units(A, 300)
    vectors = EMBEDDER.embed([u.text for u in units])
    store.put(A, units, vectors)
    queries = EMBEDDER.embed(["hiking by the lake", "guitar and piano", "sister job interview"])
    results = store.backend.query(A, queries, k=10)
    for query, hits in zip(queries, results, strict=True):
        scores = vectors @ query
        best = np.argsort(-scores, kind="stable")[:10]
        assert [r.unit.id for r, _ in hits] == [units[i].id for i in best]
        np.testing.assert_allclose([s for _, s in hits], scores[best], atol=1e-5)
    flt = UnitFilter(current_only=True)
    found = store.search(A, queries[0], k=5, flt=flt)
    allowed = np.array([u.is_current for u in units])
    best = np.argsort(-np.where(allowed, vectors @ queries[0], -2.0), kind="stable")[:5]
    assert [h.unit.id for h in found] == [units[i].id for i in best]
    assert all(h.source == "dense" for h in found)
    assert len(store.search(A, "hiking", k=1000)) == 300


def test_search_on_an_empty_namespace_returns_nothing(store: VectorStore) -> None:
    store.put(A, _units(A, 3))
    assert store.search(B, "hiking") == []
    assert store.backend.query(B, EMBEDDER.embed(["a", "b"]), k=3) == [[], []]


# --- deletes --------------------------------------------------------------------------------------


def test_delete_counts_what_was_there(store: VectorStore) -> None:
    units = _units(A, 10)
    store.put(A, units)
    assert store.delete(A, [units[0].id, units[1].id, "u-missing", units[0].id]) == 2
    assert store.delete(A, [units[0].id]) == 0
    assert store.delete(A, []) == 0
    assert store.count(A) == 8
    assert store.get(A, [units[0].id]) == []
    assert store.delete(A, _ids(units)) == 8
    assert store.count(A) == 0 and store.backend.namespaces() == []


# --- namespaces -----------------------------------------------------------------------------------


def test_no_call_crosses_namespaces(store: VectorStore) -> None:
    a_units, b_units = _units(A, 30), _units(B, 12, seed=1)
    store.put(A, a_units)
    store.put(B, b_units)
    a_ids = _ids(a_units)
    assert store.get(B, a_ids) == []
    assert store.backend.get(B, a_ids, UnitFilter(ids=frozenset(a_ids))) == []
    assert all(h.unit.namespace == B for h in store.search(B, a_units[0].text, k=50))
    assert store.delete(B, a_ids) == 0
    assert store.count(A) == 30 and store.count(B) == 12 and store.count() == 42
    assert store.backend.namespaces() == [A, B]


def test_the_same_unit_id_in_two_namespaces_stays_apart(store: VectorStore) -> None:
    shared = "u-same-id"
    a = MemoryUnit(id=shared, namespace=A, granularity=Granularity.FACT, text="alice likes tea")
    b = MemoryUnit(id=shared, namespace=B, granularity=Granularity.FACT, text="bob likes coffee")
    store.put(A, [a])
    store.put(B, [b])
    assert store.get(A, [shared]) == [a] and store.get(B, [shared]) == [b]
    assert store.delete(B, [shared]) == 1
    assert store.get(A, [shared]) == [a] and store.count(B) == 0


# --- bad input changes nothing --------------------------------------------------------------------


def test_bad_input_leaves_the_store_unchanged(store: VectorStore) -> None:
    units = _units(A, 20)
    store.put(A, units[:10])
    before = _snapshot(store)
    good = EMBEDDER.embed([u.text for u in units[10:]])
    nan = good.copy()
    nan[3, 7] = np.nan
    zero = good.copy()
    zero[9] = 0.0
    twice = VectorRecord(units[10], good[0])
    bad_calls: dict[str, Callable[[], object]] = {
        "belongs to namespace alice/default, not bob/default": lambda: store.put(B, units),
        "not alice/default": lambda: store.put(A, [*units[10:], _units(B, 1)[0]]),
        "have 383 dimensions": lambda: store.put(A, units[10:], good[:, :-1]),
        "NaN": lambda: store.put(A, units[10:], nan),
        "all-zero": lambda: store.put(A, units[10:], zero),
        "floating point": lambda: store.put(A, units[10:], good.astype(np.int64)),
        "9 embeddings given for 10 units": lambda: store.put(A, units[10:], good[:9]),
        "appears twice": lambda: store.backend.upsert(
            A, [*(VectorRecord(u, v) for u, v in zip(units[10:], good, strict=True)), twice]
        ),
        "has no embedding": lambda: store.backend.upsert(A, [VectorRecord(units[10])]),
        "k must be": lambda: store.search(A, "x", k=0),
        "query is empty": lambda: store.search(A, "   "),
        "Namespace, not str": lambda: store.get("alice", [units[0].id]),  # type: ignore[arg-type]
        "not the string": lambda: store.delete(A, units[0].id),
    }
    for message, call in bad_calls.items():
        with pytest.raises(InvalidInputError, match=message):
            call()
    assert _snapshot(store) == before


# --- batching and persistence ---------------------------------------------------------------------


@pytest.mark.slow
def test_batches_above_the_per_call_limit(store: VectorStore) -> None:
    n = 5_600  # Chroma takes at most 5461 records per call
    units = [
        make_unit(A, Granularity.TURN, f"{WORDS[i % len(WORDS)]} entry {i}", provenance=[str(i)])
        for i in range(n)
    ]
    store.put(A, units)
    assert store.count(A) == n and store.count() == n
    assert len(store.get(A, _ids(units))) == n
    assert len(store.all_records(A, with_embeddings=False)) == n
    assert store.delete(A, _ids(units)) == n
    assert store.count() == 0


def test_small_batches_give_the_same_answers(store: VectorStore) -> None:
    """Every call split into many small Chroma requests (pagination included)."""
    units = _units(A, 50)
    store.put(A, units)
    whole = store.backend.query(A, EMBEDDER.embed(WORDS), k=4)
    listed = sorted(_ids([r.unit for r in store.all_records(A, with_embeddings=False)]))
    if isinstance(store.backend, ChromaBackend):
        with pytest.raises(InvalidInputError, match="above the Chroma limit"):
            store.backend.batch_size = store.backend.max_batch_size + 1
        store.backend.batch_size = 7
    more = _units(A, 80)[50:]
    store.put(A, more)
    assert store.count(A) == 80 and store.backend.namespaces() == [A]
    assert _ids(store.get(A, _ids(units))) == _ids(units)
    assert sorted(_ids([r.unit for r in store.all_records(A, with_embeddings=False)])) == sorted(
        listed + _ids(more)
    )
    assert len(store.backend.get(A, None, None, limit=17)) == 17
    assert store.delete(A, _ids(more)) == 30
    again = store.backend.query(A, EMBEDDER.embed(WORDS), k=4)
    # Same scores (ties may swap ids), and only units still stored.
    np.testing.assert_allclose(
        [[s for _, s in row] for row in again], [[s for _, s in row] for row in whole], atol=1e-5
    )
    assert {r.unit.id for row in again for r, _ in row} <= set(_ids(units))


_READER = """
import json, sys
from memory.embeddings import HashingEmbedder
from memory.model import Namespace
from memory.vector_store import ChromaBackend, VectorStore
e = HashingEmbedder()
args = json.loads(sys.argv[1])
if "path" in args:
    backend = ChromaBackend.persistent(args["path"], e)
else:
    backend = ChromaBackend.http(args["host"], args["port"], e, collection=args["collection"])
store = VectorStore(backend, e)
ns = Namespace.parse(args["ns"])
units = store.get(ns, args["ids"])
hits = store.search(ns, args["query"], k=3)
print(json.dumps({"units": [u.model_dump_json() for u in units], "count": store.count(),
                  "hits": [h.unit.id for h in hits]}))
"""


@pytest.mark.parametrize("kind", ["chroma-embedded", "chroma-server"], indirect=True)
def test_a_fresh_process_reads_the_same_data(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    units = _units(A, 15)
    args: dict[str, object] = {"ns": A.key, "ids": _ids(units), "query": units[4].text}
    if kind == "chroma-embedded":
        backend = ChromaBackend.persistent(tmp_path / "db", EMBEDDER)
        args["path"] = str(tmp_path / "db")
    else:
        server: ChromaServer = request.getfixturevalue("chroma_server")
        backend = ChromaBackend.http(server.host, server.port, EMBEDDER, collection="reopen_test")
        args |= {"host": server.host, "port": server.port, "collection": "reopen_test"}
    store = VectorStore(backend, EMBEDDER)
    store.put(A, units)
    hits = [h.unit.id for h in store.search(A, units[4].text, k=3)]
    backend.close()
    done = subprocess.run(
        [sys.executable, "-c", _READER, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert [MemoryUnit.model_validate_json(u) for u in seen["units"]] == units
    assert seen["count"] == 15 and seen["hits"] == hits and hits[0] == units[4].id


# --- Chroma failure modes -------------------------------------------------------------------------


def test_reopening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    ChromaBackend.persistent(tmp_path, EMBEDDER).close()
    with pytest.raises(InvalidInputError, match="embedder 'hashing-384', not of the configured"):
        ChromaBackend.persistent(tmp_path, HashingEmbedder(64))


def test_a_garbage_database_is_store_corrupt(tmp_path: Path) -> None:
    (tmp_path / "chroma.sqlite3").write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(StoreCorruptError, match=str(tmp_path)):
        ChromaBackend.persistent(tmp_path, EMBEDDER)


def test_a_damaged_database_is_store_corrupt(tmp_path: Path) -> None:
    backend = ChromaBackend.persistent(tmp_path / "db", EMBEDDER)
    VectorStore(backend, EMBEDDER).put(A, _units(A, 5))
    backend.close()
    db = tmp_path / "db" / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    data[:100] = b"\x00" * 100  # header gone
    db.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=str(tmp_path / "db")):
        ChromaBackend.persistent(tmp_path / "db", EMBEDDER)


def test_a_server_that_is_not_there_is_unavailable() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        ChromaBackend.http("127.0.0.1", port, EMBEDDER)


@pytest.mark.integration
@pytest.mark.slow
def test_a_server_that_goes_away_is_unavailable(tmp_path: Path) -> None:
    with running_chroma_server(tmp_path) as server:
        backend = ChromaBackend.http(server.host, server.port, EMBEDDER)
        store = VectorStore(backend, EMBEDDER)
        store.put(A, _units(A, 3))
        server.process.terminate()
        server.process.wait(timeout=20)
        with pytest.raises(StoreUnavailableError, match=server.url):
            store.search(A, "hiking")
        with pytest.raises(StoreUnavailableError):
            store.put(A, _units(A, 3))
        backend.close()


def test_public_names() -> None:
    import memory.vector_store as module

    assert sorted(module.__all__) == [
        "COLLECTION",
        "ChromaBackend",
        "InMemoryBackend",
        "VectorBackend",
        "VectorRecord",
        "VectorStore",
    ]
