"""Bad input gets a clear error that names the problem, and nothing is written."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from memory.errors import InvalidInputError, InvalidNamespaceError, StoreCorruptError
from memory.model import (
    MAX_TEXT_CHARS,
    Granularity,
    Namespace,
    Turn,
    VertexKind,
    make_unit,
    vertex_id,
)
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
        ([{"id": "t1", "session_id": "s", "speaker": "S", "text": "a \ud800"}], "lone surrogate"),
        (
            [
                {
                    "id": "t1",
                    "session_id": "s",
                    "speaker": "S",
                    "text": "a",
                    "image_caption": "\udfff",
                }
            ],
            "lone surrogate",
        ),
        (
            [
                {
                    "id": "t1",
                    "session_id": "s",
                    "speaker": "Sam",
                    "text": "x" * (MAX_TEXT_CHARS - 5),
                    "image_caption": "a photo",
                }
            ],
            "text and image caption are 32012 characters together",
        ),
        (
            [
                {
                    "id": "t1",
                    "session_id": "s",
                    "speaker": "Sam",
                    "text": "hi",
                    "session_time": "9999-12-31T23:00:00-05:00",
                }
            ],
            "date 9999-12-31T23:00:00-05:00 is out of range",
        ),
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


@pytest.mark.parametrize(
    "user_id", ["", "has space", "../etc", "x" * 200, "-lead", "sam\n", "sam\nx", "a\u0661"]
)
def test_invalid_namespace_is_named(user_id: str) -> None:
    with pytest.raises(InvalidNamespaceError, match="invalid namespace part"):
        Namespace(user_id=user_id)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user_id": 7}, "invalid namespace user_id 7: Input should be a valid string"),
        ({"agent_id": "a"}, "invalid namespace user_id {'agent_id': 'a'}: Field required"),
        ({"user_id": "x" * 1000}, "invalid namespace part 'xxx"),
    ],
)
def test_namespace_errors_are_one_short_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidNamespaceError) as info:
        Namespace(**fields)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_a_rejected_caption_leaves_a_store_that_opens(
    tmp_path: Path, fake_embedder: object
) -> None:
    """Before the caption counted toward the limit, the turn was journaled, its unit failed, and
    every later open failed replaying it."""
    turn = {"id": "t1", "session_id": "s", "speaker": "Sam", "text": "x" * 31_990}
    store = MemoryStore.open(tmp_path, embedder=fake_embedder)  # type: ignore[arg-type]
    with store, pytest.raises(InvalidInputError):
        store.record_turns(NS, [{**turn, "image_caption": "y" * 100}])  # type: ignore[list-item]
    with MemoryStore.open(tmp_path, embedder=fake_embedder) as store:  # type: ignore[arg-type]
        _nothing_written(store)


def test_an_overlong_entity_name_is_left_out_of_the_graph(open_store: StoreFactory) -> None:
    """A 300-letter capitalised word became an entity whose vertex failed validation after the
    write was journaled, so the store could not be opened again."""
    store = open_store("chroma")
    name = "Zebra" * 60
    unit = make_unit(NS, Granularity.FACT, f"Sam met {name}.", entities=(name, "Sam"))
    store.add_units(NS, [unit])
    assert store.get_one(NS, unit.id).entities == (name, "Sam")
    assert [u.id for u in store.units_about(NS, ["Sam"])] == [unit.id]
    assert store.stats(NS).vertices == 1
    with pytest.raises(InvalidInputError, match="300 characters long; the limit is 200"):
        vertex_id(NS, VertexKind.ENTITY, name)


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


def test_text_without_a_word_in_it_leaves_a_store_that_opens(
    tmp_path: Path, fake_embedder: object
) -> None:
    turn = Turn(id="t1", session_id="s", speaker="Sam", text="🙂 …")
    store = MemoryStore.open(tmp_path, embedder=fake_embedder)  # type: ignore[arg-type]
    with store, contextlib.suppress(InvalidInputError):
        store.add_turns(NS, [turn])
    with MemoryStore.open(tmp_path, embedder=fake_embedder) as reopened:  # type: ignore[arg-type]
        assert reopened.stats(NS).pending_ops == 0
