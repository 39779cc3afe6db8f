"""Bad input gets a clear error that names the problem, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.errors import InvalidInputError, StoreCorruptError
from memory.model import MAX_TEXT_CHARS, Granularity, Namespace, Turn, make_unit
from memory.store import MemoryStore

from .conftest import StoreFactory

NS = Namespace(user_id="sam")


def _nothing_written(store: MemoryStore) -> None:
    stats = store.stats(NS)
    assert (stats.turns, stats.units, stats.hyperedges, stats.pending_ops) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("turns", "message"),
    [
        ([{"id": "t1", "session_id": "s", "speaker": "Sam", "text": "   "}], "text is empty"),
        (
            [{"id": "t1", "session_id": "s", "speaker": "Sam", "text": "x" * (MAX_TEXT_CHARS + 1)}],
            "limit is",
        ),
        ([{"id": "t1", "session_id": "s", "speaker": "Sam", "text": 42}], "text"),
        ([{"id": "t1", "session_id": "s", "text": "hello"}], "speaker"),
        (["just a string"], "must be a Turn or a dict"),
        ("not a list", "must be a sequence of Turn"),
        (
            [
                {"id": "t1", "session_id": "s", "speaker": "S", "text": "a"},
                {"id": "t1", "session_id": "s", "speaker": "S", "text": "b"},
            ],
            "repeat",
        ),
    ],
)
def test_bad_turns_write_nothing(open_store: StoreFactory, turns: object, message: str) -> None:
    store = open_store("chroma")
    with pytest.raises(InvalidInputError, match=message):
        store.add_turns(NS, turns)  # type: ignore[arg-type]
    _nothing_written(store)


def test_bad_batch_writes_nothing_even_if_first_items_are_fine(open_store: StoreFactory) -> None:
    store = open_store("chroma")
    good = {"id": "t1", "session_id": "s", "speaker": "Sam", "text": "fine"}
    with pytest.raises(InvalidInputError, match="turn 1"):
        store.add_turns(NS, [good, {**good, "id": "t2", "text": ""}])  # type: ignore[list-item]
    _nothing_written(store)


@pytest.mark.parametrize("user_id", ["", "has space", "../etc", "x" * 200, "-lead"])
def test_invalid_namespace_is_named(user_id: str) -> None:
    with pytest.raises(ValueError, match="invalid namespace part"):
        Namespace(user_id=user_id)


def test_unit_of_another_namespace_is_rejected(open_store: StoreFactory) -> None:
    store = open_store("chroma")
    other = make_unit(Namespace(user_id="eve"), Granularity.FACT, "Eve likes tea")
    with pytest.raises(
        InvalidInputError, match="belongs to namespace eve/default, not sam/default"
    ):
        store.add_units(NS, [other])
    _nothing_written(store)


def test_empty_unit_text_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="text is empty"):
        make_unit(NS, Granularity.FACT, "  ")


def test_empty_query_is_rejected(open_store: StoreFactory) -> None:
    with pytest.raises(InvalidInputError, match="query is empty"):
        open_store("memory").search(NS, "   ")


@pytest.mark.parametrize("victim", ["journal.sqlite3", "hypergraph.sqlite3"])
def test_corrupt_data_dir_is_named(tmp_path: Path, fake_embedder: object, victim: str) -> None:
    data = tmp_path / "data"
    with MemoryStore.open(data, embedder=fake_embedder) as store:  # type: ignore[arg-type]
        store.add_turns(NS, [Turn(id="t1", session_id="s", speaker="Sam", text="hello")])
    for suffix in ("", "-wal", "-shm"):
        (data / f"{victim}{suffix}").unlink(missing_ok=True)
    (data / victim).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorruptError, match=victim):
        MemoryStore.open(data, embedder=fake_embedder)  # type: ignore[arg-type]


def test_data_dir_that_is_a_file(tmp_path: Path, fake_embedder: object) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        MemoryStore.open(path, embedder=fake_embedder)  # type: ignore[arg-type]
