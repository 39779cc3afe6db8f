"""Durable write progress and reflection off the hot path.

- A write journaled but never processed (the process died first) is processed when the folder is
  next opened: its facts and segments appear, and the write is finished.
- A reflection a write makes due runs after ``remember`` returns; the result says so, ``flush``
  waits for it, and the final memory equals that of an engine reflecting inline.
- A reflection still due when the process stops resumes when the folder is next opened.
- With PostgreSQL, a running engine finishes the journaled write of another worker that died
  (its lease went with its connection), without being reopened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.context import Thresholds
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Namespace, Turn, UnitFilter
from memory.settings import Settings
from tests.agent_fixtures import sample_sessions
from tests.conftest import deployment_env

SAM = Namespace(user_id="sam")
SETTINGS = Settings(embedder="fake", llm_model=None)


def _open(folder: Path, **options: object) -> Hypermnesia:
    return Hypermnesia.open(folder, settings=SETTINGS, embedder=HashingEmbedder(), **options)  # type: ignore[arg-type]


def _units(hm: Hypermnesia, *granularities: Granularity) -> set[str]:
    flt = UnitFilter(granularities=frozenset(granularities)) if granularities else None
    return {u.id for u in hm.store.units(SAM, flt)}


def test_a_journaled_write_is_processed_when_the_folder_reopens(tmp_path: Path) -> None:
    session = sample_sessions()[0]
    with _open(tmp_path) as hm:
        hm.store.record_write(SAM, session, session_end=True)  # then the process "dies"
        assert _units(hm, Granularity.FACT) == set()
    with _open(tmp_path) as hm:
        assert hm.store.pending_writes() == []
        facts = _units(hm, Granularity.FACT)
        segments = _units(hm, Granularity.SESSION)
    with _open(tmp_path / "reference") as ref:
        ref.remember(SAM, session, session_end=True)
        assert facts == _units(ref, Granularity.FACT) and facts
        assert segments == _units(ref, Granularity.SESSION)


def test_a_due_reflection_runs_after_remember_returns(tmp_path: Path) -> None:
    few = Thresholds(reflect_every=3)
    with _open(tmp_path / "deferred", thresholds=few) as deferred:
        results = [deferred.remember(SAM, s) for s in sample_sessions()]
        assert any(r.reflection_pending for r in results)
        assert not any(r.reflected for r in results)
        deferred.flush()
        assert deferred.store.pending_work("reflect") == []
        late = _units(deferred)
    with _open(tmp_path / "inline", thresholds=few, reflection="inline") as inline:
        results = [inline.remember(SAM, s) for s in sample_sessions()]
        assert any(r.reflected for r in results)
        assert _units(inline, Granularity.INSIGHT, Granularity.PERSONA)
        assert _units(inline) == late


def test_a_pending_reflection_resumes_on_open(tmp_path: Path) -> None:
    with _open(tmp_path, thresholds=Thresholds(reflect_every=0)) as hm:
        for session in sample_sessions():
            hm.remember(SAM, session)
        assert _units(hm, Granularity.INSIGHT, Granularity.PERSONA) == set()
        hm.store.mark_pending(SAM, "reflect")  # due, and the process stops before it runs
    with _open(tmp_path, thresholds=Thresholds(reflect_every=0)) as hm:
        hm.flush()
        assert _units(hm, Granularity.INSIGHT, Granularity.PERSONA)
        assert hm.store.pending_work("reflect") == []
        runs = hm.traces.list_runs(namespace=SAM.key, limit=1)
        assert runs[0].input == {"reflect": "deferred"}


def test_turns_and_write_records_are_journaled_together(tmp_path: Path) -> None:
    turn = Turn(
        id="X:1",
        session_id="X",
        speaker="Sam",
        text="I adopted a beagle named Biscuit.",
        session_time=datetime(2023, 5, 8, tzinfo=UTC),
    )
    with _open(tmp_path) as hm:
        _, write_id = hm.store.record_write(SAM, [turn], session_end=False)
        assert [t.id for t in hm.store.turns(SAM)] == ["X:1"]
        assert [w.write_id for w in hm.store.pending_writes()] == [write_id]
        hm.store.finish_write(write_id)
        assert hm.store.pending_writes() == []


_DYING_WORKER = textwrap.dedent(
    """
    import os, sys
    from graphs.client import Hypermnesia
    from memory.embeddings import HashingEmbedder
    from memory.model import Namespace
    from memory.settings import Settings
    from tests.agent_fixtures import sample_sessions

    hm = Hypermnesia.open(sys.argv[1], settings=Settings(), embedder=HashingEmbedder())
    hm.store.record_write(Namespace(user_id="sam"), sample_sessions()[0], session_end=True)
    os._exit(0)  # dies with the write journaled and not run
    """
)


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_a_running_engine_finishes_the_write_of_a_worker_that_died(
    tmp_path: Path, deployment: Settings
) -> None:
    settings = deployment.model_copy(update={"adopt_every_s": 0.2})
    env = {**os.environ, **deployment_env(deployment)}
    env.pop("HYPERMNESIA_LLM_MODEL", None)  # the deterministic agents, as in this process
    with Hypermnesia.open(tmp_path / "a", settings=settings, embedder=HashingEmbedder()) as hm:
        subprocess.run(
            [sys.executable, "-c", _DYING_WORKER, str(tmp_path / "b")],
            cwd=Path(__file__).parents[1],
            env=env,
            check=True,
            timeout=300,
        )
        deadline = time.monotonic() + 60
        while hm.store.pending_writes() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hm.store.pending_writes() == [], "the dead worker's write was not taken over"
        facts = _units(hm, Granularity.FACT)
    with _open(tmp_path / "reference") as ref:
        ref.remember(SAM, sample_sessions()[0], session_end=True)
        assert facts == _units(ref, Granularity.FACT) and facts
