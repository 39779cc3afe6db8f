"""Many writers: threads sharing one engine, processes sharing one data folder.

- Eight threads writing 200 turns each through one engine lose and duplicate nothing, whether
  they share a namespace or not.
- A second process cannot open an embedded data folder another process holds: it gets one clear
  error naming the holder (embedded Chroma is single-process).
- With a Chroma server, processes share a data folder, and an engine sees what another process
  wrote on its very next call (a durable version check, not a reopen).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.errors import DataFolderInUseError
from memory.model import Granularity, Namespace, Turn, UnitFilter
from memory.settings import Settings
from tests.chroma_server import ChromaServer

ROOT = Path(__file__).parents[1]
WHEN = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
THREADS, TURNS, BATCH = 8, 200, 20


def _turns(writer: int, batch: int) -> list[Turn]:
    return [
        Turn(
            id=f"w{writer}:b{batch}:t{i}",
            session_id=f"w{writer}-s{batch}",
            speaker=f"Writer{writer}",
            text=f"Writer {writer} note {batch * BATCH + i}: item {writer * 997 + batch * 37 + i}.",
            session_time=WHEN,
            index=i,
        )
        for i in range(BATCH)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["one-namespace", "eight-namespaces"])
def test_eight_threads_lose_and_duplicate_nothing(tmp_path: Path, shared: bool) -> None:
    settings = Settings(data_dir=tmp_path, embedder="fake", llm_model=None)
    errors: list[BaseException] = []
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:

        def write(writer: int) -> None:
            ns = Namespace(user_id="shared" if shared else f"user{writer}")
            try:
                for batch in range(TURNS // BATCH):
                    hm.remember(ns, _turns(writer, batch), session_end=batch % 3 == 2)
            except BaseException as exc:  # reported below, with the thread's context
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        hm.flush()
        assert not errors, errors
        spaces = (
            [Namespace(user_id="shared")]
            if shared
            else [Namespace(user_id=f"user{w}") for w in range(THREADS)]
        )
        turn_ids: list[str] = []
        for ns in spaces:
            turns = hm.store.units(ns, UnitFilter(granularities=frozenset({Granularity.TURN})))
            turn_ids += [p for u in turns for p in u.provenance]
            assert len({t.id for t in hm.store.turns(ns)}) == len(hm.store.turns(ns))
        assert len(turn_ids) == THREADS * TURNS, "a turn was lost or duplicated"
        assert len(set(turn_ids)) == len(turn_ids)
        assert hm.store.pending_writes() == []


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from graphs.client import Hypermnesia
    from memory.settings import Settings
    with Hypermnesia.open(sys.argv[1], settings=Settings(embedder="fake", llm_model=None)):
        print("open", flush=True)
        time.sleep(60)
    """
)


def test_a_second_process_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    env = {**os.environ, "HYPERMNESIA_EMBEDDER": "fake", "COLUMNS": "300"}
    env.pop("HYPERMNESIA_CHROMA_HOST", None)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        second = subprocess.run(
            [sys.executable, "app.py", "--data-dir", str(tmp_path), "traces", "list"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1
        message = " ".join(second.stderr.split())
        assert f"process {holder.pid}" in message
        assert "HYPERMNESIA_CHROMA_HOST" in message and "app.py serve" in message
        assert "Traceback" not in second.stderr
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with Hypermnesia.open(tmp_path, settings=Settings(embedder="fake", llm_model=None)):
        pass  # the killed holder left no stale lock behind


def test_a_second_open_in_one_process_is_refused(tmp_path: Path) -> None:
    settings = Settings(embedder="fake", llm_model=None)
    with (
        Hypermnesia.open(tmp_path, settings=settings),
        pytest.raises(DataFolderInUseError, match=f"process {os.getpid()}"),
    ):
        Hypermnesia.open(tmp_path, settings=settings)


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from graphs.client import Hypermnesia
    from memory.model import Namespace, Turn
    from memory.settings import Settings
    with Hypermnesia.open(sys.argv[1], settings=Settings(embedder="fake", llm_model=None)) as hm:
        turn = Turn(id="P2:1", session_id="P2", speaker="Sam",
                    session_time=datetime.now(timezone.utc),
                    text="I also adopted a grey cat named Pepper.")
        hm.remember(Namespace(user_id="sam"), [turn], session_end=True)
        hm.flush()
    """
)


@pytest.mark.integration
def test_an_engine_sees_another_process_write_on_its_next_call(
    tmp_path: Path, chroma_server: ChromaServer
) -> None:
    env = {
        **os.environ,
        "HYPERMNESIA_EMBEDDER": "fake",
        "HYPERMNESIA_CHROMA_HOST": chroma_server.host,
        "HYPERMNESIA_CHROMA_PORT": str(chroma_server.port),
    }
    settings = Settings(
        embedder="fake",
        llm_model=None,
        chroma_host=chroma_server.host,
        chroma_port=chroma_server.port,
    )
    sam = Namespace(user_id="sam")
    first = Turn(
        id="P1:1", session_id="P1", speaker="Sam", text="I adopted a beagle named Biscuit."
    )
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        hm.remember(sam, [first])
        before = hm.recall(sam, "What pets does Sam have? Pepper the cat?")
        assert not any("Pepper" in e.text for e in before.evidence)
        subprocess.run(
            [sys.executable, "-c", _WRITER, str(tmp_path)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        after = hm.recall(sam, "What pets does Sam have? Pepper the cat?")
        assert any("Pepper" in e.text for e in after.evidence)
        assert hm.store.version(sam) > 0
        assert "Pepper" in hm.recall(sam, "grey cat Pepper").evidence[0].text
