"""Compacting an embedded Chroma: only live records remain, on disk and in answers.

Chroma's HNSW files are written with their unused capacity uninitialised, so they can carry
bytes of records the process held before; compaction zeroes that capacity and removes the
folders of dropped segments. Sized past Chroma's first persist (1,000 records) so the index on
disk holds elements, not only its empty capacity.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from memory.embeddings import HashingEmbedder
from memory.model import Granularity, Namespace, make_unit
from memory.vector_store import ChromaBackend, VectorRecord

EMBEDDER = HashingEmbedder()
NS = Namespace(user_id="sam")
MARK = "zanzibarquokka"


def _records(n: int) -> list[VectorRecord]:
    texts = [f"{MARK} note {i} about topic {i % 37} and place {i % 11}" for i in range(n)]
    vectors = EMBEDDER.embed(texts)
    units = [
        make_unit(NS, Granularity.TURN, t, provenance=[f"D{i}:1"]) for i, t in enumerate(texts)
    ]
    return [VectorRecord(u, v) for u, v in zip(units, vectors, strict=True)]


def _segments(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()]


def _unused_bytes(segment: Path) -> bytes:
    header = (segment / "header.bin").read_bytes()
    _, _, _, count, per_element = struct.unpack_from("<iQQQQ", header)
    level0 = (segment / "data_level0.bin").read_bytes()[count * per_element :]
    return level0 + (segment / "length.bin").read_bytes()[count * 4 :]


def _scores(chroma: ChromaBackend, probes: np.ndarray) -> np.ndarray:
    return np.array([[score for _, score in hits] for hits in chroma.query(NS, probes, 5)])


def _found(chroma: ChromaBackend, probes: np.ndarray, best: np.ndarray) -> float:
    """Share of Chroma's top-5 hits that score at least the exact 5th best. Chroma's HNSW is
    approximate (search ef 10 by default), so a run may miss one of several near-equal rows."""
    return float(np.mean(_scores(chroma, probes) >= best[:, -1:] - 1e-4))


def test_compaction_keeps_live_records_and_zeroes_what_no_record_uses(tmp_path: Path) -> None:
    folder = tmp_path / "chroma"
    chroma = ChromaBackend.persistent(folder, EMBEDDER)
    records = _records(1300)
    chroma.upsert(NS, records)
    gone = [r.unit.id for r in records[::4]]
    assert chroma.delete(NS, gone) == len(gone)
    live = [r for r in records if r.unit.id not in set(gone)]
    probes = EMBEDDER.embed([f"{MARK} note {i} about topic {i % 37}" for i in range(1, 40, 3)])
    matrix = np.stack([r.embedding for r in live])
    best = np.sort(probes @ matrix.T, axis=1)[:, ::-1][:, :5]  # exact top-5 similarities

    chroma.compact()
    (segment,) = [s for s in _segments(folder) if (s / "header.bin").exists()]
    assert len(_segments(folder)) == 1  # the dropped collection's folder went
    assert set(_unused_bytes(segment)) <= {0}
    assert chroma.count(NS) == len(live)
    assert _found(chroma, probes, best) >= 0.9
    chroma.close()

    reopened = ChromaBackend.persistent(folder, EMBEDDER)
    assert sorted(r.unit.id for r in reopened.get(NS)) == sorted(r.unit.id for r in live)
    stored = {r.unit.id: r.embedding for r in reopened.get(NS, with_embeddings=True)}
    assert all(np.allclose(stored[r.unit.id], r.embedding, atol=1e-6) for r in live)
    assert _found(reopened, probes, best) >= 0.9
    reopened.close()
