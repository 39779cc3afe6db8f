"""Forgetting is erasing: no byte of a forgotten turn is left in any file of the data folder.

A turn with a distinctive phrase is ingested, recalled (so traces and checkpoints hold it), then
forgotten; every file under the data folder is then read as raw bytes and the phrase's words must
be absent. On PostgreSQL beside a Chroma server, no row of any table may hold them (the server's
write-ahead log is its operator's). A forgotten successor reopens the fact it had superseded, and
history records it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
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


def _rows_holding(url: str, words: list[bytes]) -> dict[str, list[bytes]]:
    """Each ``table.column`` of the database whose rows still hold any of ``words``."""
    found: dict[str, list[bytes]] = {}
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
        for table, column, kind in columns:
            value = (
                f'"{column}"'
                if kind == "bytea"
                else f"convert_to(lower(\"{column}\"::text), 'UTF8')"
            )
            hits = [
                w
                for w in words
                if conn.execute(
                    f'SELECT count(*) FROM "{table}" WHERE position(%s IN {value}) > 0'.encode(),
                    (w,),
                ).fetchone()[0]  # type: ignore[index]
            ]
            if hits:
                found[f"{table}.{column}"] = hits
    return found


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_a_forgotten_turn_leaves_no_row_in_postgres(tmp_path: Path, deployment: Settings) -> None:
    with Hypermnesia.open(tmp_path, settings=deployment, embedder=HashingEmbedder()) as hm:
        hm.remember(SAM, [_turn(1, "I moved to Boston for a new job.", 3)])
        hm.remember(SAM, [_turn(2, f"By the way, {SECRET}.", 4)])
        hm.flush()
        assert any(
            "quokka" in e.text for e in hm.recall(SAM, "Where does the quokka sleep?").evidence
        )
        assert deployment.database_url is not None
        assert set(_rows_holding(deployment.database_url, WORDS)) >= {
            "turns.payload",
            "ops.payload",
        }
        turn = next(u for u in hm.store.units(SAM) if u.provenance == ("D2:1",))
        report = hm.forget(SAM, [turn.id])
        assert turn.id in report.deleted and report.turns_deleted == ["D2:1"]
        assert _rows_holding(deployment.database_url, WORDS) == {}
        assert not any("quokka" in e.text for e in hm.recall(SAM, "quokka zeppelin").evidence)
    assert not list(tmp_path.rglob("*.sqlite3"))


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


def test_erasing_while_another_thread_writes_another_namespace(engine: Hypermnesia) -> None:
    """Erasure rewrites every file (checkpoints included) while another user's writes, run on
    another thread, keep committing: both succeed and every written turn is kept."""
    max_ns = Namespace(user_id="max")
    written = engine.remember(SAM, [_turn(i, f"Sam visited city {i} in May.", 5) for i in range(4)])
    errors: list[BaseException] = []

    def write_max() -> None:
        try:
            for i in range(40):
                engine.remember(max_ns, [_turn(100 + i, f"Max visited town {i} in June.", 6)])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    writer = threading.Thread(target=write_max)
    writer.start()
    for decision in written.decisions:
        if decision.granularity == "turn":
            engine.forget(SAM, [decision.unit_id])
    writer.join()
    assert errors == []
    assert len(engine.store.turns(max_ns)) == 40
