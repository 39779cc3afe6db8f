"""Forgetting is erasing: no byte of a forgotten turn is left in any file of the data folder.

A turn with a distinctive phrase is ingested, recalled (so traces and checkpoints hold it), then
forgotten; every file under the data folder is then read as raw bytes and the phrase's words must
be absent. A forgotten successor reopens the fact it had superseded, and history records it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Namespace, Turn, UnitFilter
from memory.settings import Settings

SAM = Namespace(user_id="sam")
SECRET = "my quokka Thelonious sleeps inside the zeppelin hangar"
WORDS = [b"quokka", b"thelonious", b"zeppelin", b"hangar"]


def _turn(n: int, text: str, month: int) -> Turn:
    when = datetime(2023, month, 8, 13, 0, tzinfo=UTC)
    return Turn(id=f"D{n}:1", session_id=f"S{n}", speaker="Sam", text=text, session_time=when)


def _raw(folder: Path) -> bytes:
    return b"".join(p.read_bytes().lower() for p in folder.rglob("*") if p.is_file())


def _files_holding(folder: Path, words: list[bytes]) -> dict[str, list[bytes]]:
    """Each file under ``folder`` that still holds any of ``words``, with the words it holds."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes().lower()
            if hits := [w for w in words if w in raw]:
                found[str(path.relative_to(folder))] = hits
    return found


@pytest.fixture
def engine(tmp_path: Path) -> Hypermnesia:
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        yield hm


def test_a_forgotten_turn_leaves_no_byte_behind(engine: Hypermnesia, tmp_path: Path) -> None:
    engine.remember(SAM, [_turn(1, "I moved to Boston for a new job.", 3)])
    engine.remember(SAM, [_turn(2, f"By the way, {SECRET}.", 4)])
    engine.remember(SAM, [_turn(3, "Work at the hospital is busy.", 5)])
    engine.flush()
    hit = engine.recall(SAM, "Where does Thelonious the quokka sleep?")
    assert any("quokka" in e.text for e in hit.evidence)
    assert all(word in _raw(tmp_path) for word in WORDS)
    turn = next(
        u
        for u in engine.store.units(SAM)
        if u.provenance == ("D2:1",) and u.granularity == Granularity.TURN
    )
    report = engine.forget(SAM, [turn.id])
    assert turn.id in report.deleted and report.turns_deleted == ["D2:1"]
    assert len(report.deleted) > 1  # its facts went with it
    assert _files_holding(tmp_path, WORDS) == {}
    assert all(u.provenance != ("D2:1",) for u in engine.store.units(SAM))
    assert "Boston" in engine.recall(SAM, "Where did Sam move?").evidence[0].text
    assert not any("quokka" in e.text for e in engine.recall(SAM, "quokka zeppelin").evidence)


def test_forgetting_a_successor_reopens_what_it_replaced(engine: Hypermnesia) -> None:
    engine.remember(SAM, [_turn(1, "I live in Boston.", 3)])
    engine.remember(SAM, [_turn(2, "I moved to Denver last month.", 9)])
    facts = engine.store.units(SAM, UnitFilter(granularities=frozenset({Granularity.FACT})))
    boston = next(f for f in facts if "Boston" in f.text)
    denver = next(f for f in facts if "Denver" in f.text)
    assert not boston.is_current and boston.superseded_by == denver.id
    report = engine.forget(SAM, [denver.id], compact=False)
    assert report.reopened == [boston.id]
    (reopened,) = engine.store.get(SAM, [boston.id])
    assert reopened.is_current and reopened.superseded_by is None
    events = engine.history(SAM, boston.id)
    assert [e.op for e in events][-1] == "reopen"
    assert boston.id in engine.store.current_units(SAM)
