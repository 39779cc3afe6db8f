"""Fuzzing the engine's own input: namespace ids, raw turns, sessions the agents must remember,
and export lines to import. A value is accepted whole or rejected with one project error, and
a rejected write leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs import Hypermnesia
from memory.backup import export_lines, parse_units, restore, turns_of
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError, InvalidNamespaceError
from memory.model import Granularity, MemoryUnit, Namespace, Turn, UnitKind, make_unit
from memory.settings import Settings
from memory.store import MemoryStore

from .fuzz_strategies import (
    FUZZ,
    ID_PART,
    Case,
    broken_export,
    names,
    ns_parts,
    phrases,
    texts,
    turn_dicts,
    turn_texts,
    words,
)


def _fresh() -> Namespace:
    return Namespace(user_id=f"u{uuid.uuid4().hex}")


def _nothing_in(store: MemoryStore, ns: Namespace) -> None:
    stats = store.stats(ns)
    assert (stats.turns, stats.units, stats.hyperedges, stats.pending_ops) == (0, 0, 0, 0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    root = tmp_path_factory.mktemp("fuzz-store")
    with MemoryStore.open(root, embedder=HashingEmbedder()) as opened:
        yield opened


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypermnesia]:
    settings = Settings().model_copy(update={"llm_model": None})
    root = tmp_path_factory.mktemp("fuzz-engine")
    with Hypermnesia.open(root, settings=settings, embedder=HashingEmbedder()) as hm:
        yield hm


# -- namespaces and turns ------------------------------------------------------------------------


@FUZZ
@given(ns_parts, ns_parts)
def test_namespace_is_valid_or_one_error_naming_the_part(user: Any, agent: Any) -> None:
    try:
        ns = Namespace(user_id=user, agent_id=agent)
    except InvalidNamespaceError as exc:
        assert str(exc).startswith("invalid namespace ")
        assert "\n" not in str(exc) and len(str(exc)) < 300
        return
    assert ID_PART.fullmatch(ns.user_id) and ID_PART.fullmatch(ns.agent_id)
    assert Namespace.parse(ns.key) == ns


@FUZZ
@given(st.lists(turn_dicts, min_size=1, max_size=3))
def test_turns_are_stored_whole_or_rejected_with_nothing_written(
    store: MemoryStore, turns: list[dict[str, Any]]
) -> None:
    ns = _fresh()
    try:
        units = store.add_turns(ns, turns)  # type: ignore[arg-type]
    except InvalidInputError:
        _nothing_in(store, ns)
        return
    assert len(store.turns(ns)) == len(units) == len(turns)
    assert store.stats(ns).pending_ops == 0


@st.composite
def sessions(draw: st.DrawFn) -> list[Turn]:
    """One session of valid turns with text the agents find hard, at any date."""
    when = draw(st.none() | st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)))
    speakers = draw(st.lists(texts, min_size=1, max_size=2, unique_by=str.strip))
    return [
        Turn(
            id=f"t{i}",
            session_id="s",
            speaker=draw(st.sampled_from(speakers)),
            text=draw(turn_texts),
            image_caption=draw(st.none() | words),
            session_time=when,
            index=i,
        )
        for i in range(draw(st.integers(1, 4)))
    ]


@settings(FUZZ, max_examples=15)
@given(sessions())
def test_a_valid_session_is_remembered(engine: Hypermnesia, turns: list[Turn]) -> None:
    ns = _fresh()
    engine.remember(ns, turns, session_end=True)
    stats = engine.store.stats(ns)
    assert stats.turns == len(turns) and stats.pending_ops == 0
    assert stats.units_by_granularity["turn"] == len(turns)
    engine.recall(ns, turns[0].text, budget=300)


# -- import --------------------------------------------------------------------------------------

when = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)).map(lambda d: d.replace(tzinfo=UTC))


@st.composite
def exports(draw: st.DrawFn, ns: Namespace) -> list[MemoryUnit]:
    """Units as an export may hold them: any granularity, closed or current, odd texts, names
    and dates; turn units carry a valid turn."""
    units: dict[str, MemoryUnit] = {}
    for i in range(draw(st.integers(1, 6))):
        granularity = draw(st.sampled_from(Granularity))
        provenance = draw(st.lists(texts, max_size=2))
        turn = granularity == Granularity.TURN
        valid_from = draw(when)
        unit = make_unit(
            ns,
            granularity,
            draw(turn_texts),
            provenance=[f"t{i}", *provenance] if turn else provenance,
            kind=draw(st.sampled_from(UnitKind)),
            session_id=draw(names) if turn else draw(st.none() | words),
            speaker=draw(texts) if turn else draw(st.none() | words),
            event_time=draw(st.none() | when),
            recorded_at=draw(when),
            valid_from=valid_from,
            valid_to=draw(st.none() | st.just(valid_from + timedelta(seconds=1))),
            superseded_by=draw(st.none() | words),
            entities=tuple(draw(st.lists(st.one_of(phrases, words), max_size=4))),
            keywords=tuple(draw(st.lists(words, max_size=3))),
            attribute=draw(st.none() | words),
            importance=draw(st.floats(0.0, 1.0)),
        )
        units.setdefault(unit.id, unit)
    return list(units.values())


@settings(FUZZ, max_examples=15)
@given(st.data())
def test_any_export_is_restored_identically(store: MemoryStore, data: st.DataObject) -> None:
    ns = _fresh()
    units = data.draw(exports(ns))
    lines = sorted(units, key=lambda u: (u.recorded_at, u.id))
    exported = "".join(f"{u.model_dump_json()}\n" for u in lines).encode()
    restore(store, ns, parse_units(exported, ns, "export.jsonl"))
    assert "".join(f"{line}\n" for line in export_lines(store, ns)).encode() == exported
    assert store.turns(ns) == turns_of(lines)
    assert store.stats(ns).pending_ops == 0


@st.composite
def bad_exports(draw: st.DrawFn) -> tuple[Namespace, Case]:
    ns = _fresh()
    units = sorted(draw(exports(ns)), key=lambda u: (u.recorded_at, u.id))
    if not any(u.granularity == Granularity.TURN for u in units):
        units.append(make_unit(ns, Granularity.TURN, "Hello.", provenance=["t"], speaker="A"))
        units[-1] = units[-1].model_copy(update={"session_id": "s"})
    return ns, draw(broken_export([u.model_dump_json() for u in units]))


@FUZZ
@given(bad_exports())
def test_a_broken_export_is_refused_naming_the_line(
    store: MemoryStore, case: tuple[Namespace, Case]
) -> None:
    ns, (content, fragment) = case
    with pytest.raises(InvalidInputError) as info:
        restore(store, ns, parse_units(content, ns, "export.jsonl"))
    assert str(info.value).startswith("export.jsonl line ") and fragment in str(info.value)
    assert "\n" not in str(info.value)
    _nothing_in(store, ns)


# -- found by fuzzing, to be fixed outside the input checks --------------------------------------


def test_a_session_of_long_turns_is_remembered(tmp_path: Path) -> None:
    settings = Settings().model_copy(update={"llm_model": None})
    text = "garden " * 2300  # 16 100 characters: two make a segment over the limit
    turns = [Turn(id=f"t{i}", session_id="s", speaker="Sam", text=text) for i in range(2)]
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ns = _fresh()
        hm.remember(ns, turns, session_end=True)
        assert hm.store.stats(ns).units_by_granularity["turn"] == 2
