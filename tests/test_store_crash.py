"""Crash safety: a writer killed with SIGKILL at random points loses no journaled turn and leaves
no hyperedge pointing at a missing unit once the store is reopened: on SQLite beside embedded
Chroma, and on PostgreSQL beside a Chroma server (the ``deployment``), where the reopened store
finishes the work of the killed writer because its lease went with it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Namespace, UnitFilter
from memory.settings import Settings
from memory.store import MemoryStore

from .conftest import deployment_env

ROOT = Path(__file__).parents[1]
RUNS = {"sqlite": 20, "postgres": 8}


def _run_and_kill(data: Path, delay: float, first_batch: int, env: dict[str, str]) -> set[int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "tests.crash_writer",
            str(data),
            str(first_batch),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "open": the store is open, the writes start now
    assert first.strip() == "open", first + (proc.stderr.read() if proc.stderr else "")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    return {int(line.split()[1]) for line in out.splitlines() if line.startswith("journaled")}


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(tmp_path: Path, deployment: Settings) -> None:
    rng = random.Random(20231122)
    ns = Namespace(user_id="crash")
    data = tmp_path / "data"
    env = {**os.environ, **deployment_env(deployment)}
    journaled: set[int] = set()
    runs = RUNS["postgres" if deployment.database_url else "sqlite"]
    for run in range(runs):
        journaled |= _run_and_kill(data, rng.uniform(0.0, 1.5), run * 1000, env)
        with MemoryStore.open(data, embedder=HashingEmbedder(), settings=deployment) as store:
            assert store._journal.count_ops("pending") == 0
            turn_ids = {t.id for t in store.turns(ns)}
            for batch in journaled:
                assert {f"B{batch}:{i}" for i in range(5)} <= turn_ids, f"batch {batch} lost"
            units = store.units(ns)
            unit_ids = {u.id for u in units}
            stored_turns = {
                p for u in units if u.granularity == Granularity.TURN for p in u.provenance
            }
            assert turn_ids <= stored_turns, "a journaled turn has no stored unit"
            edges = set(store._hypergraph.edge_ids(ns))
            assert edges <= unit_ids, "a hyperedge points at a missing unit"
            assert unit_ids <= edges, "a unit is missing its hyperedge"
            current = store.units(ns, UnitFilter(current_only=True))
            assert len(current) == len(units)
    assert journaled, "the writer never got far enough to journal a batch"
