"""A torn embedded Chroma index is rebuilt from the journal: the folder opens, nothing is lost.

The faults are the ones a SIGKILL during a Chroma write leaves behind (HNSW files cut short,
overwritten, emptied or missing); each is made deterministically on a real engine's data folder,
which must then open with every unit as it was (ids, texts, validity, links) and answer recall.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from graphs import Hypermnesia
from graphs.cli.ingest import ingest, load_plan
from memory.embeddings import HashingEmbedder
from memory.errors import VectorIndexError
from memory.model import Granularity, MemoryUnit, Namespace, Turn
from memory.segment_vectors import vectors_with_pooled_segments
from memory.settings import Settings
from memory.store import MemoryStore
from memory.vector_rebuild import REBUILD_MARKER, RebuildingBackend

SAMPLE = Path(__file__).resolve().parent.parent / "evals" / "samples" / "demo_conversation.json"
NS = Namespace(user_id="sam")
FILLER = Namespace(user_id="filler")
"""A second namespace big enough (1,500 units) that Chroma writes its HNSW files to disk."""


def _open(root: Path) -> Hypermnesia:
    settings = Settings().model_copy(update={"llm_model": None})
    return Hypermnesia.open(root, settings=settings, embedder=HashingEmbedder())


def _units(store: MemoryStore) -> dict[str, str]:
    return {u.id: u.model_dump_json() for ns in (NS, FILLER) for u in store.units(ns)}


def _filler(n: int) -> Turn:
    return Turn(id=f"F{n}", session_id=f"F{n // 50}", speaker="Ann", text=f"Note {n}: tea at {n}")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The sample conversation ingested, reflected on and one turn forgotten, then closed."""
    root = tmp_path_factory.mktemp("ingested")
    with _open(root) as hm:
        ingest(hm, load_plan(SAMPLE, None, "sam", "default"))
        hm.reflect(NS)
        pottery = [u for u in hm.store.units(NS) if u.granularity == Granularity.TURN]
        hm.forget(NS, [next(u.id for u in pottery if "pottery" in u.text)])
        hm.store.add_turns(FILLER, [_filler(n) for n in range(1500)])
        return root, _units(hm.store)


def _hnsw_files(root: Path) -> list[Path]:
    return [f for seg in (root / "chroma").iterdir() if seg.is_dir() for f in seg.iterdir()]


def _cut_short(root: Path) -> None:
    for f in _hnsw_files(root):
        if f.name == "data_level0.bin":
            os.truncate(f, f.stat().st_size // 3)


def _overwrite_header(root: Path) -> None:
    for f in _hnsw_files(root):
        if f.name == "header.bin":
            f.write_bytes(bytes(range(256))[: f.stat().st_size] or b"\x00")


def _empty_all(root: Path) -> None:
    for f in _hnsw_files(root):
        f.write_bytes(b"")


def _remove_all(root: Path) -> None:
    for f in _hnsw_files(root):
        f.unlink()


def test_the_journal_replays_to_exactly_the_stored_units(
    ingested: tuple[Path, dict[str, str]],
) -> None:
    """The rebuild's premise: every unit the stores hold, in its last version, is in the journal
    (supersedes, merges, reflection and the forgotten turn's cascade included)."""
    root, before = ingested
    with _open(root) as hm:
        states = hm.store._journal.unit_states()
        assert set(states) == {NS.key, FILLER.key}
        assert _units(hm.store) == before
        replayed = {
            uid: MemoryUnit.model_validate(u).model_dump_json()
            for units in states.values()
            for uid, u in units.items()
        }
        assert replayed == before


@pytest.mark.parametrize("fault", [_cut_short, _overwrite_header, _empty_all, _remove_all])
def test_a_torn_index_is_rebuilt_on_open(
    ingested: tuple[Path, dict[str, str]], tmp_path: Path, fault: Callable[[Path], None]
) -> None:
    """The torn copy is opened in a fresh process, as after a crash. In the process that built
    the original folder, while another engine was open, the copy (same segment ids) was once
    served the healthy index still held in memory instead of its own torn files."""
    root = tmp_path / "data"
    shutil.copytree(ingested[0], root)
    fault(root)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        pool.submit(_reopen_torn, root, ingested[1]).result(timeout=300)


def _embedded(units: Sequence[MemoryUnit]) -> np.ndarray:
    return HashingEmbedder().embed([u.text for u in units])


def _reopen_torn(root: Path, before: dict[str, str]) -> None:
    """Open a torn folder: one rebuild, every unit as it was, fresh embeddings; then healthy."""
    with _open(root) as hm:
        top = hm.recall(NS, "Where does Sam live now?").evidence[0]
        assert "Denver" in top.text
        assert _units(hm.store) == before
        backend = hm.store._vectors.backend
        assert isinstance(backend, RebuildingBackend) and backend.rebuilds == 1
        for ns in (NS, FILLER):
            records = backend.get(ns, with_embeddings=True)
            units = [r.unit for r in records]
            stored = np.stack([r.embedding for r in records if r.embedding is not None])
            fresh = vectors_with_pooled_segments(units, {}, _embedded, _embedded)
            assert np.allclose(stored, fresh, atol=1e-6)  # segments: their turns' mean again
    assert not (root / REBUILD_MARKER).exists()
    with _open(root) as hm:  # the rebuilt folder is healthy: no second rebuild
        assert _units(hm.store) == before
        assert hm.store._vectors.backend.rebuilds == 0  # type: ignore[attr-defined]


def test_a_rebuild_cut_short_is_finished_on_the_next_open(
    ingested: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A process killed mid-rebuild leaves the marker and a part-filled index behind."""
    root = tmp_path / "data"
    shutil.copytree(ingested[0], root)
    with MemoryStore.open(root, embedder=HashingEmbedder()) as store:
        doomed = list(_units(store))[: len(ingested[1]) // 2]
        store._vectors.backend.delete(NS, doomed)  # what a half-done rebuild would hold
    (root / REBUILD_MARKER).write_text("rebuilding\n")
    with MemoryStore.open(root, embedder=HashingEmbedder()) as store:
        assert _units(store) == ingested[1]
    assert not (root / REBUILD_MARKER).exists()


def test_an_index_error_that_a_rebuild_cannot_fix_is_raised(
    ingested: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuilding once per call, never in a loop: a second failure reaches the caller."""
    root = tmp_path / "data"
    shutil.copytree(ingested[0], root)
    with MemoryStore.open(root, embedder=HashingEmbedder()) as store:
        backend = store._vectors.backend
        assert isinstance(backend, RebuildingBackend)

        def broken(*args: object, **kwargs: object) -> int:
            raise VectorIndexError("the Chroma index is unreadable: still broken")

        monkeypatch.setattr(backend.inner, "count", broken)
        with pytest.raises(VectorIndexError, match="still broken"):
            backend.count(NS)
        assert backend.rebuilds == 1
        monkeypatch.undo()
        assert _units(store) == ingested[1]
