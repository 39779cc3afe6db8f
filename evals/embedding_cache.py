"""A persistent cache of text embeddings, keyed by a hash of the model name and the text.

Runs of the harness embed the same turns and questions again and again; the cache (one SQLite file
in the run's output folder, safe for several worker processes) makes re-runs fast.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from memory.errors import EmbeddingError

__all__ = ["CachedEmbedder", "Embedder"]

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """What the cache wraps: ``embed(texts) -> (n, dim) float32, L2-normalised``."""

    def embed(self, texts: list[str]) -> Vectors: ...


class CachedEmbedder:
    """An embedder with a memory cache and, when given a folder, a SQLite cache beneath it."""

    def __init__(self, embedder: Embedder, model_name: str, folder: Path | None = None) -> None:
        self._embedder = embedder
        self._model = model_name
        self._memory: dict[str, Vectors] = {}
        self._db: sqlite3.Connection | None = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / "embeddings.sqlite", timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embedding (key TEXT PRIMARY KEY, vec BLOB NOT NULL)"
            )
            self._db.commit()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self._model}\x1f{text}".encode()).hexdigest()

    def _lookup(self, keys: Sequence[str]) -> None:
        missing = [k for k in keys if k not in self._memory]
        if self._db is None or not missing:
            return
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, vec FROM embedding WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, blob in rows:
                self._memory[key] = np.frombuffer(blob, dtype=np.float32)

    def embed(self, texts: list[str]) -> Vectors:
        """Embeddings of ``texts`` (rows in order), computing only those not cached."""
        keys = [self._key(t) for t in texts]
        self._lookup(keys)
        todo = list(dict.fromkeys(k for k in keys if k not in self._memory))
        if todo:
            by_key = dict(zip(keys, texts, strict=True))
            fresh = np.asarray(self._embedder.embed([by_key[k] for k in todo]), dtype=np.float32)
            if fresh.ndim != 2 or fresh.shape[0] != len(todo):
                raise EmbeddingError(f"embedder returned shape {fresh.shape} for {len(todo)} texts")
            for key, vec in zip(todo, fresh, strict=True):
                self._memory[key] = np.ascontiguousarray(vec)
            if self._db is not None:
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO embedding (key, vec) VALUES (?, ?)",
                        [(k, self._memory[k].tobytes()) for k in todo],
                    )
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
