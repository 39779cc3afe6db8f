"""Importing a history: ``Hypermnesia.remember_sessions`` and embedding ahead of the writes."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agents.constructor import build_facts, build_segments, build_turn_units, unit_texts
from evals.hypermnesia import sessions_of
from evals.loaders.locomo import load_locomo
from graphs.client import Hypermnesia
from graphs.prefetch import embedded_ahead
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError
from memory.model import Namespace, Turn

from .agent_fixtures import SAM, sample_sessions

DATA = Path(__file__).parent / "data" / "locomo_small.json"
NS = Namespace(user_id="importer")


def _sessions() -> list[list[Turn]]:
    dataset = load_locomo(DATA)
    return [s for c in dataset.conversations for s in sessions_of(c).values()]


class _Calls(HashingEmbedder):
    """The hashing embedder, recording which thread asked for which texts."""

    def __init__(self, fail_on_thread: str | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[str]]] = []
        self._fail_on_thread = fail_on_thread

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        name = threading.current_thread().name
        if self._fail_on_thread and name.startswith(self._fail_on_thread):
            raise RuntimeError("encoder unavailable on this thread")
        self.calls.append((name, list(texts)))
        return super().embed(texts)


def test_a_turns_fact_sentences_are_worked_out_once_for_embedding_ahead_and_building(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bulk import asks for each turn's sentences twice; the second time is remembered."""
    module = sys.modules["agents.constructor"]  # the package exports a node of that name
    seen: list[str] = []
    real = module.atomic_facts

    def counting(text: str, *args: object, **kwargs: object) -> list[str]:
        seen.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(module, "atomic_facts", counting)
    module._clauses_of.cache_clear()
    turns = [
        Turn(id=f"once-{i}", session_id="once", speaker=("Ana", "Ben")[i % 2], text=text)
        for i, text in enumerate(
            ["I adopted a grey cat called Pixel last week.", "Ana, does Pixel like the garden?"]
        )
    ]
    speakers = sorted({t.speaker for t in turns})
    ahead = unit_texts(turns)
    built = build_facts(NS, turns, speakers)
    assert sorted(seen) == sorted(t.text for t in turns)  # once each, not twice
    assert {u.text for u in built} <= set(ahead)


def _snapshot(hm: Hypermnesia, ns: Namespace) -> list[tuple[str, str, bool]]:
    return sorted((u.id, u.text, u.is_current) for u in hm.store.units(ns))


@pytest.mark.parametrize("sessions", [_sessions(), sample_sessions()])
def test_unit_texts_are_the_texts_of_the_units_the_constructor_builds(
    sessions: list[list[Turn]],
) -> None:
    for turns in sessions:
        speakers = sorted({t.speaker for t in turns})
        units = build_turn_units(NS, turns, speakers) + build_facts(NS, turns, speakers)
        assert set(unit_texts(turns)) == {u.text for u in units}
        segments = {u.text for u in build_segments(NS, turns)}
        assert not segments & set(unit_texts(turns))  # a segment's vector is its turns' mean
        facts = {u.text for u in build_facts(NS, turns, speakers)}
        assert not facts & set(unit_texts(turns, facts=False)) - {t.text for t in turns}


def test_an_import_stores_what_remembering_each_session_stores(tmp_path: Path) -> None:
    sessions = sample_sessions()
    with Hypermnesia.open(tmp_path / "one", embedder=HashingEmbedder()) as hm:
        one_by_one = [hm.remember(SAM, s, session_end=True) for s in sessions]
        hm.flush()
        expected = _snapshot(hm, SAM)
    with Hypermnesia.open(tmp_path / "bulk", embedder=HashingEmbedder()) as hm:
        imported = list(hm.remember_sessions(SAM, sessions))
        hm.flush()
        assert _snapshot(hm, SAM) == expected
        writes = [r for r in hm.traces.list_runs(SAM.key, limit=100) if r.graph == "write"]
        assert len(writes) >= len(sessions)
    for a, b in zip(one_by_one, imported, strict=True):
        assert [(d.unit_id, d.decision) for d in a.decisions] == [
            (d.unit_id, d.decision) for d in b.decisions
        ]


def test_the_writes_find_their_texts_embedded_ahead(tmp_path: Path) -> None:
    embedder = _Calls()
    sessions = _sessions()[:3]  # one conversation
    with Hypermnesia.open(tmp_path, embedder=embedder) as hm:
        list(hm.remember_sessions(NS, sessions))
        hm.flush()
    ahead = [t for name, texts in embedder.calls if "prefetch" in name for t in texts]
    inline = [t for name, texts in embedder.calls if "prefetch" not in name for t in texts]
    assert set(ahead) == {t for s in sessions for t in unit_texts(s)}
    assert not set(ahead) & set(inline)  # nothing embedded twice
    segments = {u.text for s in sessions for u in build_segments(NS, s)}
    assert segments and not segments & set(ahead + inline)  # their turns' mean
    assert len(ahead) == len(set(ahead))


def test_a_failing_prefetch_is_logged_and_the_import_still_completes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = sample_sessions()
    with Hypermnesia.open(tmp_path / "one", embedder=HashingEmbedder()) as hm:
        for s in sessions:
            hm.remember(SAM, s, session_end=True)
        hm.flush()
        expected = _snapshot(hm, SAM)
    embedder = _Calls(fail_on_thread="hypermnesia-prefetch")
    with (
        caplog.at_level(logging.WARNING, logger="graphs.prefetch"),
        Hypermnesia.open(tmp_path / "bulk", embedder=embedder) as hm,
    ):
        assert len(list(hm.remember_sessions(SAM, sessions))) == len(sessions)
        hm.flush()
        assert _snapshot(hm, SAM) == expected
    assert "embedding ahead failed" in caplog.text


def test_a_bad_session_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    sessions: list[list[object]] = [list(s) for s in sample_sessions()]
    sessions[1].append({"id": "x", "speaker": "", "text": "no speaker"})
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        with pytest.raises(InvalidInputError, match="session 1: turn"):
            hm.remember_sessions(SAM, sessions)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="sessions must be a sequence"):
            hm.remember_sessions(SAM, "not sessions")  # type: ignore[arg-type]
        assert hm.store.turns(SAM) == []
        assert hm.store.count(SAM) == 0


def test_embedded_ahead_embeds_each_window_before_its_items_and_the_next_while_they_run() -> None:
    events: list[tuple[str, object]] = []
    done = threading.Event()

    def embed(texts: list[str]) -> None:
        events.append(("embed", tuple(texts)))
        if "i3" in texts:
            done.set()

    items = [f"i{n}" for n in range(6)]
    for item in embedded_ahead(items, lambda i: [i, f"{i}-b"], embed, window_texts=4):
        if item == "i1":  # the second window's first item: the third window is under way
            assert done.wait(5)
        events.append(("yield", item))
    windows = [e[1] for e in events if e[0] == "embed"]
    assert windows == [  # the first item alone, then windows of at least 4 texts
        ("i0", "i0-b"),
        ("i1", "i1-b", "i2", "i2-b"),
        ("i3", "i3-b", "i4", "i4-b"),
        ("i5", "i5-b"),
    ]
    yields = [e[1] for e in events if e[0] == "yield"]
    assert yields == items
    for n, item in enumerate(items):
        first_embed = next(k for k, e in enumerate(events) if e[0] == "embed" and item in e[1])
        assert first_embed < events.index(("yield", item)), n


def test_embedded_ahead_keeps_two_windows_embedding_behind_the_one_being_written() -> None:
    third_window = threading.Event()

    def embed(texts: list[str]) -> None:
        if "i3" in texts:
            third_window.set()

    items = [f"i{n}" for n in range(8)]
    for item in embedded_ahead(items, lambda i: [i], embed, window_texts=2):
        if item == "i0":  # the first window (i0), then (i1, i2) and (i3, i4) are under way
            assert third_window.wait(5)
    seen: list[int] = []
    one_ahead = embedded_ahead(items, lambda i: [i], lambda t: seen.append(len(t)), ahead=1)
    assert list(one_ahead) == items and seen == [1, 7]


def test_embedded_ahead_caps_a_window_and_rejects_a_bad_size() -> None:
    seen: list[int] = []
    items = list(
        embedded_ahead(
            ["a", "b"],
            lambda i: [f"{i}{n}" for n in range(100)],
            lambda t: seen.append(len(t)),
            window_texts=8,
        )
    )
    assert items == ["a", "b"] and seen == [16, 16]
    with pytest.raises(InvalidInputError, match="window_texts"):
        list(embedded_ahead(["a"], lambda _: [], lambda _: None, window_texts=0))
    with pytest.raises(InvalidInputError, match="ahead must be a positive integer"):
        list(embedded_ahead(["a"], lambda _: [], lambda _: None, ahead=0))


def test_closing_an_import_early_waits_for_the_embedding_under_way() -> None:
    running = threading.Event()
    release = threading.Event()
    finished: list[str] = []

    def embed(texts: list[str]) -> None:
        if "b" in texts:
            running.set()
            release.wait(5)
            finished.append("b")

    it = embedded_ahead(["a", "b"], lambda i: [i], embed, window_texts=1)
    assert next(it) == "a"
    assert running.wait(5)
    threading.Timer(0.2, release.set).start()
    it.close()
    assert finished == ["b"]
