"""Export and import: every unit of a namespace as JSON lines, restored identically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphs import Hypermnesia
from graphs.cli.ingest import ingest, load_plan
from memory.backup import export_lines, parse_units, restore, turns_of
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError
from memory.model import Granularity, Namespace, Turn
from memory.settings import Settings
from memory.store import turn_unit

SAMPLE = Path(__file__).resolve().parent.parent / "evals" / "samples" / "demo_conversation.json"
NS = Namespace(user_id="sam")
QUESTIONS = [
    "Where does Sam live now?",
    "When did Sam adopt Biscuit?",
    "Is Sam allergic to anything?",
    "Where does the nurse buy bread?",
]


def _open(root: Path) -> Hypermnesia:
    settings = Settings().model_copy(update={"llm_model": None})
    return Hypermnesia.open(root, settings=settings, embedder=HashingEmbedder())


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypermnesia]:
    """The sample conversation ingested (Boston is superseded by Denver), then reflected on."""
    with _open(tmp_path_factory.mktemp("source")) as hm:
        ingest(hm, load_plan(SAMPLE, None, "sam", "default"))
        hm.reflect(NS)
        yield hm


def _export(hm: Hypermnesia) -> bytes:
    return "".join(f"{line}\n" for line in export_lines(hm.store, NS)).encode()


def _evidence(hm: Hypermnesia) -> list[list[tuple[str, str, float]]]:
    """Per question, the evidence's ids, texts and scores (which differ in the ninth decimal:
    the stores hold the units in another order, so float sums run in another order)."""
    return [[(e.unit_id, e.text, e.score) for e in hm.recall(NS, q).evidence] for q in QUESTIONS]


def test_export_then_import_is_identical_and_recalls_the_same(
    source: Hypermnesia, tmp_path: Path
) -> None:
    exported = _export(source)
    lines = [json.loads(line) for line in exported.decode().splitlines()]
    assert len(lines) == source.store.count(NS)
    assert {"id", "granularity", "kind", "text", "provenance", "valid_from", "valid_to"} <= set(
        lines[0]
    )
    assert [(u["recorded_at"], u["id"]) for u in lines] == sorted(
        (u["recorded_at"], u["id"]) for u in lines
    )
    closed = [u for u in lines if u["valid_to"] is not None]
    assert any("Boston" in u["text"] and u["superseded_by"] for u in closed)
    assert any(u["kind"] == "inference" and u["derived_from"] for u in lines)

    with _open(tmp_path) as copy:
        turns = restore(copy.store, NS, parse_units(exported, NS, "backup.jsonl"))
        assert len(turns) == 19
        assert _export(copy) == exported
        assert copy.store.turns(NS) == source.store.turns(NS)
        restored, original = _evidence(copy), _evidence(source)
        assert [[e[:2] for e in r] for r in restored] == [[e[:2] for e in r] for r in original]
        assert [[e[2] for e in r] for r in restored] == [
            pytest.approx([e[2] for e in r], abs=1e-6) for r in original
        ]
        turn = next(u["id"] for u in lines if u["granularity"] == "turn")
        # the same units go; the copy holds no traces, so it names no runs to erase
        in_copy = copy.forget(NS, [turn], dry_run=True).model_dump(exclude={"runs"})
        assert in_copy == source.forget(NS, [turn], dry_run=True).model_dump(exclude={"runs"})
        assert copy.store.stats(NS) == source.store.stats(NS)


def test_import_refuses_a_namespace_that_holds_anything(
    source: Hypermnesia, tmp_path: Path
) -> None:
    units = parse_units(_export(source), NS, "backup.jsonl")
    with _open(tmp_path) as copy:
        copy.store.add_turns(NS, [Turn(id="x1", session_id="s", speaker="Sam", text="Hello.")])
        before = copy.store.stats(NS)
        with pytest.raises(InvalidInputError, match="namespace sam/default is not empty"):
            restore(copy.store, NS, units)
        assert copy.store.stats(NS) == before


def _line(source: Hypermnesia, n: int = 0) -> dict[str, Any]:
    return dict(json.loads(_export(source).decode().splitlines()[n]))


def _lines(*rows: dict[str, Any] | str) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda u: _lines(u, "{not json"), "line 2: not a memory unit: Invalid JSON"),
        (lambda u: _lines(u, "[1, 2]"), "line 2: not a memory unit: Input should be an object"),
        (lambda u: _lines({**u, "text": "  "}), "line 1: not a memory unit: text: text is empty"),
        (lambda u: _lines({**u, "valid_from": "soon"}), "line 1: not a memory unit: valid_from:"),
        (
            lambda u: _lines({**u, "valid_to": "2001-01-01T00:00:00Z"}),
            "valid_to is before valid_from",
        ),
        (lambda u: _lines(u, "", u), "line 3: unit {id} is also on line 1"),
        (
            lambda u: _lines({**u, "namespace": {"user_id": "eve"}}),
            "line 1: unit {id} belongs to namespace eve/default, not sam/default",
        ),
        (
            lambda u: _lines(u, {**u, "id": "u2", "provenance": []}),
            "line 2: turn unit u2 lacks its turn",
        ),
        (lambda u: _lines(u) + b"\n\xff", "line 2: not UTF-8 text"),
        (lambda u: _lines({**u, "id": ""}), "line 1: not a memory unit: id: String should have"),
    ],
)
def test_bad_lines_are_named_and_nothing_is_written(
    source: Hypermnesia, tmp_path: Path, build: Any, message: str
) -> None:
    unit = _line(source)
    assert unit["granularity"] == "turn"
    with pytest.raises(InvalidInputError) as info:
        parse_units(build(unit), NS, "backup.jsonl")
    assert str(info.value).startswith("backup.jsonl line ")
    assert message.format(id=unit["id"]) in str(info.value)


def test_turns_come_back_from_turn_units_with_captions_and_first_copies() -> None:
    shared = Turn(id="a", session_id="s", speaker="Sam", text="Look!", image_caption="a red bike")
    plain = Turn(id="b", session_id="s", speaker="Sam", text="Odd [shares a tail]")
    again = Turn(id="a", session_id="s", speaker="Sam", text="A second text for turn a.")
    units = [turn_unit(NS, t) for t in (shared, plain, again)]
    assert [u.granularity for u in units] == [Granularity.TURN] * 3
    turns = turns_of(units)
    assert [t.id for t in turns] == ["a", "b"] and turns[0] == shared.model_copy()
    assert (turns[1].text, turns[1].image_caption, turns[1].index) == ("Odd", "a tail", 1)
    assert [turn_unit(NS, t).text for t in turns] == [units[0].text, units[1].text]


def test_an_imported_unit_has_one_import_event_of_its_own(
    source: Hypermnesia, tmp_path: Path
) -> None:
    units = parse_units(_export(source), NS, "backup.jsonl")
    with _open(tmp_path) as copy:
        restore(copy.store, NS, units)
        events = copy.history(NS, units[-1].id)
    assert [(e.op, e.reason, e.unit_ids) for e in events] == [("put", "import", [units[-1].id])]
