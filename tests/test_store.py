"""MemoryStore facade: writes, supersede, merge, delete cascade, history, stats, persistence; on
SQLite beside embedded Chroma and on PostgreSQL beside a Chroma server (the ``deployment``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory.errors import InvalidInputError, UnitNotFoundError
from memory.model import Granularity, Namespace, Turn, UnitFilter, UnitKind, make_unit
from memory.settings import Settings
from memory.store import MemoryStore

from .conftest import StoreFactory, deployment_env

NS = Namespace(user_id="sam")
DAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def _turns() -> list[Turn]:
    texts = [
        ("Sam", "I live in Boston and work as a nurse."),
        ("Ana", "Nice! Do you have pets?"),
        ("Sam", "Yesterday I adopted a beagle named Biscuit."),
    ]
    return [
        Turn(id=f"D1:{i + 1}", session_id="S1", speaker=s, text=t, session_time=DAY, index=i)
        for i, (s, t) in enumerate(texts)
    ]


@pytest.mark.parametrize("backend", ["memory", "chroma"])
def test_add_turns_and_search(open_store: StoreFactory, backend: str, deployment: Settings) -> None:
    store = open_store(backend, settings=deployment)
    units = store.add_turns(NS, _turns())
    assert len(units) == 3
    hits = store.search(NS, "beagle named Biscuit", k=2)
    assert hits[0].unit.provenance == ("D1:3",)
    assert store.stats(NS).turns == 3
    assert store.stats(NS).units_by_granularity == {"turn": 3}
    # idempotent replay: same ids, nothing new
    store.add_turns(NS, _turns())
    assert store.stats(NS).units == 3


@pytest.mark.parametrize("backend", ["memory", "chroma"])
def test_supersede_keeps_history(
    open_store: StoreFactory, backend: str, deployment: Settings
) -> None:
    store = open_store(backend, settings=deployment)
    old = make_unit(
        NS,
        Granularity.FACT,
        "Sam lives in Boston",
        provenance=["D1:1"],
        entities=("Sam", "Boston"),
        attribute="lives_in",
    )
    new = make_unit(
        NS,
        Granularity.FACT,
        "Sam lives in Denver",
        provenance=["D3:1"],
        entities=("Sam", "Denver"),
        attribute="lives_in",
    )
    store.add_units(NS, [old])
    closed = store.supersede(NS, old.id, new, reason="moved")
    assert closed.valid_to is not None and closed.superseded_by == new.id
    current = store.units(NS, UnitFilter(current_only=True))
    assert [u.id for u in current] == [new.id]
    assert store.get_one(NS, old.id).superseded_by == new.id
    events = store.history(NS, new.id)
    assert [e.op for e in events] == ["put", "supersede"]
    assert events[1].reason == "moved"
    assert store.history(NS, old.id) == events
    with pytest.raises(InvalidInputError, match="already superseded"):
        store.supersede(NS, old.id, new)


def test_merge_folds_provenance(open_store: StoreFactory, deployment: Settings) -> None:
    store = open_store("memory", settings=deployment)
    a = make_unit(NS, Granularity.FACT, "Sam has a beagle", provenance=["D1:3"])
    b = make_unit(NS, Granularity.FACT, "Sam owns a beagle", provenance=["D2:1"])
    store.add_units(NS, [a, b])
    merged = store.merge(NS, a.id, [b.id], reason="duplicate")
    assert merged.provenance == ("D1:3", "D2:1")
    assert store.get_one(NS, b.id).superseded_by == a.id
    assert [e.op for e in store.history(NS, b.id)] == ["put", "merge"]


@pytest.mark.parametrize("backend", ["memory", "chroma"])
def test_delete_cascades_through_provenance(
    open_store: StoreFactory, backend: str, deployment: Settings
) -> None:
    store = open_store(backend, settings=deployment)
    turns = store.add_turns(NS, _turns())
    fact = make_unit(
        NS,
        Granularity.FACT,
        "Sam adopted Biscuit on 7 May 2023",
        provenance=["D1:3"],
        entities=("Sam", "Biscuit"),
    )
    insight = make_unit(
        NS,
        Granularity.INSIGHT,
        "Sam is a dog person",
        kind=UnitKind.INFERENCE,
        provenance=["D1:3"],
        derived_from=(fact.id,),
    )
    unrelated = make_unit(NS, Granularity.FACT, "Sam is a nurse", provenance=["D1:1"])
    store.add_units(NS, [fact, insight, unrelated])
    report = store.delete(NS, [turns[2].id])
    assert set(report.deleted) == {turns[2].id, fact.id, insight.id}
    assert report.turns_deleted == ["D1:3"]
    assert store.get(NS, [fact.id, insight.id, unrelated.id])[0].id == unrelated.id
    assert [t.id for t in store.turns(NS)] == ["D1:1", "D1:2"]
    remaining = set(store._hypergraph.edge_ids(NS))
    assert fact.id not in remaining and unrelated.id in remaining
    with pytest.raises(UnitNotFoundError, match="no unit"):
        store.delete(NS, ["u-missing"])


def test_access_statistics(open_store: StoreFactory, deployment: Settings) -> None:
    store = open_store("memory", settings=deployment)
    unit = store.add_turns(NS, _turns())[0]
    store.record_access(NS, [unit.id])
    store.record_access(NS, [unit.id])
    got = store.get_one(NS, unit.id)
    assert got.access_count == 2 and got.last_accessed is not None
    plain = store.get(NS, [unit.id], access=False)[0]  # the same unit, without the journal read
    assert plain.id == unit.id and plain.access_count == 0 and plain.last_accessed is None


def test_reopen_in_another_process(
    tmp_path: Path, fake_embedder: object, deployment: Settings
) -> None:
    data = tmp_path / "data"
    with MemoryStore.open(data, embedder=fake_embedder, settings=deployment) as store:  # type: ignore[arg-type]
        store.add_turns(NS, _turns())
    script = textwrap.dedent(
        f"""
        from memory.embeddings import HashingEmbedder
        from memory.model import Namespace
        from memory.store import MemoryStore
        with MemoryStore.open({str(data)!r}, embedder=HashingEmbedder()) as store:
            ns = Namespace(user_id="sam")
            hit = store.search(ns, "beagle named Biscuit", k=1)[0]
            print(store.stats(ns).units, hit.unit.provenance[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
        env={**os.environ, **deployment_env(deployment)},
    )
    assert out.stdout.split() == ["3", "D1:3"]


def test_turns_of_one_session(open_store: StoreFactory, deployment: Settings) -> None:
    store = open_store("memory", settings=deployment)
    later = [
        t.model_copy(update={"id": f"D2:{n}", "session_id": "S2"}) for n, t in enumerate(_turns())
    ]
    store.add_turns(NS, [*_turns(), *later])
    store.add_turns(Namespace(user_id="ana"), [later[0].model_copy(update={"id": "A:1"})])
    assert [t.id for t in store.turns(NS, session_id="S2")] == ["D2:0", "D2:1", "D2:2"]
    assert [t.id for t in store.turns(NS, session_id="S1")] == ["D1:1", "D1:2", "D1:3"]
    assert store.turns(NS, session_id="S9") == []
    assert len(store.turns(NS)) == 6


def test_a_journal_from_before_the_session_column_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    from memory.journal import Journal

    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    journal.record_turns(NS, _turns())
    journal.close()
    with sqlite3.connect(path) as db:  # the file as an older version wrote it
        db.execute("DROP INDEX turns_session")
        db.execute("ALTER TABLE turns DROP COLUMN session_id")
    journal = Journal(path)
    try:
        assert [t.id for t in journal.turns(NS, session_id="S1")] == ["D1:1", "D1:2", "D1:3"]
        with pytest.raises(InvalidInputError, match="not both"):
            journal.turns(NS, ["D1:1"], session_id="S1")
    finally:
        journal.close()
