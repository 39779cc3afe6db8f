"""Crash anywhere, lose nothing: ``app.py ingest`` killed with SIGKILL at random points.

A reference run ingests a conversation uninterrupted. Other folders are ingested by real
``app.py ingest`` processes, each killed with SIGKILL at a random moment after it has opened the
data folder (the next run starts where the journal says it stopped; a run that gets to finish
starts a new folder). After every kill the folder
is reopened, which finishes the interrupted writes and resumes due reflections, and checked:
every journaled turn has its turn unit and the facts and segments the reference derived from
its session; every hyperedge, vector and lexical entry belongs to a stored unit. At the end the
units (ids and validity) are exactly the reference's.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Namespace
from memory.settings import Settings

ROOT = Path(__file__).parents[1]
NS = Namespace(user_id="crash")
KILLS = 50
MAX_RUNS = 160

_TOPICS = [
    ("Sam", "I moved to {city} last month and I love it."),
    ("Maya", "My sister Maya started working at {place} yesterday."),
    ("Sam", "We adopted a puppy named {pet} on Saturday."),
    ("Maya", "I went hiking near {city} with {pet} last weekend."),
    ("Sam", "I work as a {job} now, it is a lot of reading."),
    ("Maya", "Next week I am visiting {place} for the pottery class."),
]
_VALUES = {
    "city": ["Boston", "Denver", "Austin", "Portland", "Chicago", "Seattle"],
    "place": ["Flour Bakery", "the city library", "Blue Door Cafe", "Elm Street Clinic"],
    "pet": ["Biscuit", "Pepper", "Mochi", "Rex"],
    "job": ["nurse", "teacher", "carpenter", "librarian"],
}


def _conversation(sessions: int = 12) -> dict[str, object]:
    rng = random.Random(7)
    out = []
    for s in range(sessions):
        turns = []
        for speaker, template in _TOPICS:
            values = {k: rng.choice(v) for k, v in _VALUES.items()}
            turns.append({"speaker": speaker, "text": template.format(**values)})
        date = f"2023-{1 + s // 2:02d}-{1 + 14 * (s % 2):02d}T10:00:00"
        out.append({"session_id": f"S{s + 1}", "date": date, "turns": turns})
    return {"conversation_id": "crash", "speakers": ["Sam", "Maya"], "sessions": out}


def _env() -> dict[str, str]:
    env = {**os.environ, "HYPERMNESIA_EMBEDDER": "fake", "COLUMNS": "200"}
    env.pop("HYPERMNESIA_CHROMA_HOST", None)
    env.pop("HYPERMNESIA_LLM_MODEL", None)
    return env


def _ingest(file: Path, data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "app.py", "--data-dir", str(data), "ingest", str(file), "--user", "crash"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_open(proc: subprocess.Popen[bytes], data: Path, timeout: float = 60.0) -> bool:
    """Wait until ``proc`` holds the data folder (its name is in the lock file)."""
    lock = data / ".lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if lock.exists() and f"process {proc.pid} " in lock.read_text(encoding="utf-8"):
            return True
        time.sleep(0.005)
    return False


def _open(data: Path) -> Hypermnesia:
    return Hypermnesia.open(
        data, settings=Settings(embedder="fake", llm_model=None), embedder=HashingEmbedder()
    )


def _state(hm: Hypermnesia) -> dict[str, tuple[bool, str | None]]:
    return {u.id: (u.is_current, u.superseded_by) for u in hm.store.units(NS)}


def _check_consistent(hm: Hypermnesia, reference: dict[str, MemoryUnit]) -> int:
    """Invariants after a reopen; returns how many turns were journaled so far."""
    units = {u.id: u for u in hm.store.units(NS)}
    journaled = {t.id for t in hm.store.turns(NS)}
    sessions = {t.session_id for t in hm.store.turns(NS)}
    stored_turns = {
        p for u in units.values() if u.granularity == Granularity.TURN for p in u.provenance
    }
    assert journaled <= stored_turns, "a journaled turn has no turn unit"
    evidence = (Granularity.TURN, Granularity.FACT, Granularity.SESSION)
    expected = {
        uid
        for uid, u in reference.items()
        if u.granularity in evidence and u.session_id in sessions
    }
    missing = expected - units.keys()
    assert not missing, f"{len(missing)} turn, fact or segment units of journaled sessions missing"
    edges = set(hm.store._hypergraph.edge_ids(NS))
    assert edges == set(units), "hyperedges and units differ"
    current = {uid for uid, u in units.items() if u.is_current}
    assert len(hm.store.lexical_index(NS)) == len(current), "the lexical index and units differ"
    assert hm.store.pending_writes() == []
    return len(journaled)


@pytest.mark.slow
def test_sigkill_anywhere_loses_nothing(tmp_path: Path) -> None:
    file = tmp_path / "conversation.json"
    file.write_text(json.dumps(_conversation()), encoding="utf-8")
    reference_dir = tmp_path / "reference"
    started = time.monotonic()
    proc = _ingest(file, reference_dir)
    assert _wait_open(proc, reference_dir)
    opened = time.monotonic()
    assert proc.wait(timeout=600) == 0
    work = time.monotonic() - opened
    with _open(reference_dir) as hm:
        hm.flush()
        reference = {u.id: u for u in hm.store.units(NS)}
        reference_state = _state(hm)
    assert any(u.granularity == Granularity.INSIGHT for u in reference.values())
    rng = random.Random(20261201)
    kills = runs = episodes = 0
    crashed = tmp_path / "crashed-0"
    while kills < KILLS and runs < MAX_RUNS:
        runs += 1
        proc = _ingest(file, crashed)
        if _wait_open(proc, crashed):
            time.sleep(rng.uniform(0.0, work / 4))  # usually before the run could finish
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        code = proc.wait(timeout=600)
        with _open(crashed) as hm:
            hm.flush()
            _check_consistent(hm, reference)
            if code == 0:  # this run finished the file: the folder must equal the reference
                assert _state(hm) == reference_state
        if code == 0:
            episodes += 1
            crashed = tmp_path / f"crashed-{episodes}"
    assert kills >= KILLS, f"only {kills} kills in {runs} runs ({time.monotonic() - started:.0f} s)"
    proc = _ingest(file, crashed)
    assert proc.wait(timeout=600) == 0
    with _open(crashed) as hm:
        hm.flush()
        _check_consistent(hm, reference)
        assert _state(hm) == reference_state
