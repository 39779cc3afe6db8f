"""The in-process replica against a real journal and vector store: what it reads from the durable
stores, and when. Another process is played by writing the durable stores directly (as it
would), without telling the replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memory.changes import turn_unit
from memory.embeddings import HashingEmbedder
from memory.journal import Journal
from memory.model import Granularity, MemoryUnit, Namespace, Turn, UnitFilter
from memory.replica import Replica
from memory.settings import Settings
from memory.store import MemoryStore
from memory.vector_store import InMemoryBackend, VectorStore

SAM = Namespace(user_id="sam")


class CountingJournal(Journal):
    """The real SQLite journal, counting the reads the replica makes of it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.version_reads = self.feed_reads = 0

    def version(self, ns: Namespace) -> int:
        self.version_reads += 1
        return super().version(ns)

    def changed_since(self, ns: Namespace, version: int) -> tuple[int, list[str]]:
        self.feed_reads += 1
        return super().changed_since(ns, version)


class Stores:
    def __init__(self, path: Path) -> None:
        self.embedder = HashingEmbedder()
        self.journal = CountingJournal(path / "journal.sqlite")
        self.vectors = VectorStore(InMemoryBackend(), self.embedder)
        self.replica = Replica(self.journal, self.vectors, self.embedder.dim)
        self.fetches = 0
        original = self.vectors.all_records

        def counted(*args: object, **kwargs: object) -> object:
            self.fetches += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        self.vectors.all_records = counted  # type: ignore[method-assign]

    def write(self, units: list[MemoryUnit]) -> tuple[np.ndarray, int]:
        """Store ``units`` durably, as any process does; the new version."""
        embeddings = self.embedder.embed([u.text for u in units])
        self.vectors.put(SAM, units, embeddings)
        op = self.journal.begin(SAM, "put", {}, [u.id for u in units])
        return embeddings, self.journal.complete(op)[SAM.key]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(tmp_path)
    yield s
    s.journal.close()


def _unit(n: int, text: str | None = None) -> MemoryUnit:
    turn = Turn(id=f"S1:{n}", session_id="S1", speaker="Sam", text=text or f"Sam said thing {n}.")
    return turn_unit(SAM, turn)


def test_a_snapshot_reads_the_version_once_and_sees_the_writes_before_it(stores: Stores) -> None:
    stores.write([_unit(1)])
    stores.replica.hot(SAM)
    before, during = _unit(2), _unit(3)
    stores.write([before])  # another process
    stores.journal.version_reads = stores.journal.feed_reads = 0
    with stores.replica.snapshot():
        for _ in range(5):
            assert stores.replica.hot(SAM).unit(before.id) is not None
        stores.write([during])  # lands during the call: seen by the next one
        assert stores.replica.hot(SAM).unit(during.id) is None
    # one version read and one change-feed read (which reads the version inside it), not five
    assert (stores.journal.version_reads, stores.journal.feed_reads) == (2, 1)
    assert stores.replica.hot(SAM).unit(during.id) is not None


def test_snapshots_do_not_leak_across_calls(stores: Stores) -> None:
    stores.write([_unit(1)])
    with stores.replica.snapshot():
        stores.replica.hot(SAM)
    later = _unit(2)
    stores.write([later])
    with stores.replica.snapshot():
        assert stores.replica.hot(SAM).unit(later.id) is not None


def test_own_writes_applied_out_of_order_need_no_fetch(stores: Stores) -> None:
    stores.write([_unit(1)])
    hot = stores.replica.hot(SAM)
    first, second = [_unit(2)], [_unit(3)]
    e1, v1 = stores.write(first)
    e2, v2 = stores.write(second)
    stores.replica.written(SAM, second, e2, v2)  # the later write's thread reports first
    assert hot.version == v1 - 1
    stores.replica.written(SAM, first, e1, v1)
    assert hot.version == v2
    fetches = stores.fetches
    stores.replica.sync(SAM)
    assert stores.fetches == fetches
    assert {first[0].id, second[0].id} <= set(hot.units)


def test_a_gap_left_by_another_process_is_fetched(stores: Stores) -> None:
    stores.write([_unit(1)])
    hot = stores.replica.hot(SAM)
    theirs = _unit(2, "Sam moved to Denver.")
    stores.write([theirs])  # another process
    mine = [_unit(3)]
    embeddings, version = stores.write(mine)
    stores.replica.written(SAM, mine, embeddings, version)
    assert hot.version == version - 2  # held back by the gap
    assert stores.replica.sync(SAM) == version
    assert hot.unit(theirs.id) == theirs


def test_a_late_report_of_an_own_write_never_overwrites_a_newer_fetch(stores: Stores) -> None:
    stores.write([_unit(1)])
    hot = stores.replica.hot(SAM)
    old = [_unit(2, "Sam lives in Boston.")]
    embeddings, version = stores.write(old)
    successor = _unit(3, "Sam moved to Denver.")
    closed = old[0].model_copy(
        update={"superseded_by": successor.id, "valid_to": successor.recorded_at}
    )
    stores.write([closed, successor])  # another process closes the same unit
    stores.replica.sync(SAM)
    stores.replica.written(SAM, old, embeddings, version)  # the slow thread reports at last
    assert hot.unit(closed.id) == closed


def test_store_units_from_the_copy_match_the_vector_store(
    tmp_path: Path, deployment: Settings
) -> None:
    with MemoryStore.open(tmp_path, embedder=HashingEmbedder(), settings=deployment) as store:
        units = [_unit(n) for n in range(1, 6)]
        store.add_units(SAM, units)
        store.supersede(SAM, units[1].id, _unit(9, "Sam moved to Denver."))
        filters = [
            None,
            UnitFilter(current_only=True),
            UnitFilter(ids=frozenset({units[0].id, units[3].id, "nope"})),
            UnitFilter(granularities=frozenset({Granularity.FACT})),
        ]
        cold = [[u.id for u in store.units(SAM, f)] for f in filters]  # from the vector store
        store.search(SAM, "Denver")  # loads the in-process copy
        assert [[u.id for u in store.units(SAM, f)] for f in filters] == cold
        assert len(cold[0]) == 6 and len(cold[1]) == 5 and units[1].id not in cold[1]
        assert sorted(cold[2]) == sorted([units[0].id, units[3].id]) and cold[3] == []
