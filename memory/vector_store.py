"""The vector store: memory units with their embeddings, scoped by namespace.

A backend implements a small batch core (:class:`VectorBackend`: upsert, get, query, delete,
count, namespaces); :class:`VectorStore` adds validation and embedding on top. Two backends:
:class:`InMemoryBackend` (NumPy, the reference semantics) and :class:`ChromaBackend` (an embedded
``PersistentClient`` or a ``chroma run`` server).

Namespaces are enforced inside the backends: every call takes a :class:`Namespace`, and every
Chroma request carries the ``ns`` metadata condition (reads by id included), while record ids are
prefixed with the namespace key, so two namespaces may hold the same unit id without touching.
Each record keeps the whole unit as JSON plus flat fields that :class:`UnitFilter` maps onto.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import struct
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from memory.embeddings import Embedder, embedder_from_spec
from memory.errors import (
    InvalidInputError,
    StoreCorruptError,
    StoreUnavailableError,
    VectorIndexError,
)
from memory.model import MemoryUnit, Namespace, SearchHit, UnitFilter

_log = logging.getLogger(__name__)

__all__ = [
    "COLLECTION",
    "ChromaBackend",
    "InMemoryBackend",
    "VectorBackend",
    "VectorRecord",
    "VectorStore",
]

#: Name of the Chroma collection that holds every namespace's units.
COLLECTION = "hypermnesia_units"
_R = TypeVar("_R")
_NOT_ON_DISK = "Nothing found on disk"
"""What a Chroma server says when a read reaches a vector segment it has not written yet."""


def _not_on_disk(exc: BaseException) -> bool:
    from chromadb.errors import InternalError

    return isinstance(exc, InternalError) and _NOT_ON_DISK in str(exc)


_READ_AGAIN = Retrying(
    retry=retry_if_exception(_not_on_disk),
    stop=stop_after_attempt(4),  # after the first try: five reads in all
    wait=wait_exponential(multiplier=0.05, max=1.0),
    reraise=True,
)
_SEP = "#"  # between namespace key and unit id in a Chroma id; a namespace key has no '#'


@dataclass(frozen=True)
class VectorRecord:
    """A unit and, when asked for or written, its embedding (float32, shape ``(dim,)``)."""

    unit: MemoryUnit
    embedding: np.ndarray | None = None


class VectorBackend(Protocol):
    """The batch core every vector backend implements. Every call is scoped to one namespace."""

    def upsert(self, ns: Namespace, records: Sequence[VectorRecord]) -> None:
        """Insert or replace records (same unit id → one copy); every record has an embedding."""
        ...

    def get(
        self,
        ns: Namespace,
        ids: Sequence[str] | None = None,
        flt: UnitFilter | None = None,
        *,
        with_embeddings: bool = False,
        limit: int | None = None,
    ) -> list[VectorRecord]:
        """Records of ``ns`` with these ids (all when ``None``) that pass the filter."""
        ...

    def query(
        self, ns: Namespace, vectors: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[list[tuple[VectorRecord, float]]]:
        """For each query row, up to ``k`` records by cosine similarity, best first."""
        ...

    def delete(self, ns: Namespace, ids: Sequence[str]) -> int:
        """Delete these ids of ``ns``; the number that existed and were deleted."""
        ...

    def count(self, ns: Namespace | None = None) -> int:
        """Records in ``ns``, or in every namespace."""
        ...

    def namespaces(self) -> list[Namespace]:
        """The namespaces that hold at least one record, sorted by key."""
        ...


# --------------------------------------------------------------------------------------------
# Validation shared by the backends and the store: bad input is rejected before any write.


def _check_ns(ns: object) -> Namespace:
    if not isinstance(ns, Namespace):
        raise InvalidInputError(f"namespace must be a Namespace, not {type(ns).__name__}")
    return ns


def _check_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise InvalidInputError(f"ids must be a sequence of ids, not the string {ids!r}")
    out = list(ids)
    for item in out:
        if not isinstance(item, str) or not item:
            raise InvalidInputError(f"unit ids must be non-empty strings, not {item!r}")
    return list(dict.fromkeys(out))


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1, not {k!r}")
    return k


def _check_matrix(vectors: object, dim: int | None, what: str) -> np.ndarray:
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise InvalidInputError(f"{what} must be a 2-D array (n, dim), not shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidInputError(f"{what} must be floating point, not {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(f"{what} have {arr.shape[1]} dimensions; the store uses {dim}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{what} contain NaN or infinite values")
    out = arr.astype(np.float32, copy=False)
    if (np.linalg.norm(out, axis=1) == 0).any():
        raise InvalidInputError(f"{what} contain an all-zero vector (no cosine similarity)")
    return out


def _check_records(ns: Namespace, records: Sequence[VectorRecord], dim: int | None) -> np.ndarray:
    """The records' embeddings as one float32 matrix, after checking every record."""
    seen: set[str] = set()
    for record in records:
        if not isinstance(record, VectorRecord) or not isinstance(record.unit, MemoryUnit):
            raise InvalidInputError(f"expected VectorRecord of a MemoryUnit, got {record!r:.80}")
        unit = record.unit
        if unit.namespace != ns:
            raise InvalidInputError(
                f"unit {unit.id} belongs to namespace {unit.namespace.key}, not {ns.key}"
            )
        if unit.id in seen:
            raise InvalidInputError(f"unit id {unit.id} appears twice in one write")
        seen.add(unit.id)
        if record.embedding is None:
            raise InvalidInputError(f"unit {unit.id} has no embedding")
        if np.asarray(record.embedding).ndim != 1:
            raise InvalidInputError(f"the embedding of unit {unit.id} is not a 1-D vector")
    if not records:
        return np.zeros((0, dim or 0), dtype=np.float32)
    try:
        matrix = np.stack([np.asarray(r.embedding) for r in records])
    except ValueError as exc:
        raise InvalidInputError(f"embeddings have different lengths: {exc}") from exc
    return _check_matrix(matrix, dim, "embeddings")


def _unit_norm(matrix: np.ndarray) -> np.ndarray:
    result: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return result


def _empty_filter(flt: UnitFilter | None) -> bool:
    """True when the filter cannot match anything (an empty set of allowed values)."""
    if flt is None:
        return False
    sets = (flt.granularities, flt.kinds, flt.session_ids, flt.ids)
    return any(s is not None and not s for s in sets)


# --------------------------------------------------------------------------------------------


class InMemoryBackend(VectorBackend):
    """The reference backend: dictionaries and exact NumPy cosine search. Not persistent."""

    def __init__(self) -> None:
        self._data: dict[Namespace, dict[str, tuple[MemoryUnit, np.ndarray]]] = {}
        self._dim: int | None = None
        self._lock = threading.RLock()

    def upsert(self, ns: Namespace, records: Sequence[VectorRecord]) -> None:
        _check_ns(ns)
        with self._lock:
            matrix = _check_records(ns, records, self._dim)
            if not records:
                return
            self._dim = matrix.shape[1]
            space = self._data.setdefault(ns, {})
            for record, vector in zip(records, matrix, strict=True):
                space[record.unit.id] = (record.unit, vector.copy())

    def _select(
        self, ns: Namespace, ids: Sequence[str] | None, flt: UnitFilter | None
    ) -> list[tuple[MemoryUnit, np.ndarray]]:
        space = self._data.get(ns, {})
        if ids is None:
            rows = list(space.values())
        else:
            rows = [space[i] for i in _check_ids(ids) if i in space]
        return [row for row in rows if flt is None or flt.matches(row[0])]

    def get(
        self,
        ns: Namespace,
        ids: Sequence[str] | None = None,
        flt: UnitFilter | None = None,
        *,
        with_embeddings: bool = False,
        limit: int | None = None,
    ) -> list[VectorRecord]:
        _check_ns(ns)
        with self._lock:
            rows = self._select(ns, ids, flt)
        rows = rows if limit is None else rows[: max(limit, 0)]
        return [VectorRecord(u, v.copy() if with_embeddings else None) for u, v in rows]

    def query(
        self, ns: Namespace, vectors: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[list[tuple[VectorRecord, float]]]:
        _check_ns(ns)
        k = _check_k(k)
        with self._lock:
            queries = _check_matrix(vectors, self._dim, "query vectors")
            rows = self._select(ns, None, flt)
        if not rows:
            return [[] for _ in range(len(queries))]
        matrix = _unit_norm(np.stack([v for _, v in rows]))
        scores = _unit_norm(queries) @ matrix.T
        out: list[list[tuple[VectorRecord, float]]] = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:k]
            out.append([(VectorRecord(rows[int(i)][0]), float(row[i])) for i in top])
        return out

    def delete(self, ns: Namespace, ids: Sequence[str]) -> int:
        _check_ns(ns)
        wanted = _check_ids(ids)
        with self._lock:
            space = self._data.get(ns, {})
            deleted = sum(1 for i in wanted if space.pop(i, None) is not None)
            if not space:
                self._data.pop(ns, None)
        return deleted

    def count(self, ns: Namespace | None = None) -> int:
        with self._lock:
            if ns is None:
                return sum(len(space) for space in self._data.values())
            return len(self._data.get(_check_ns(ns), {}))

    def namespaces(self) -> list[Namespace]:
        with self._lock:
            return sorted((ns for ns, space in self._data.items() if space), key=lambda n: n.key)


# --------------------------------------------------------------------------------------------
# Chroma


@cache
def _embedding_function_class() -> type[Any]:
    """Define and register the embedding function Chroma records with the collection.

    A fresh process that opens the collection rebuilds it from its config (the embedder spec)
    instead of Chroma's default function, which would try to download a model. The embedder is
    built on first call only: vectors always reach Chroma precomputed.
    """
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class HypermnesiaEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder: str, api_base: str | None = None) -> None:
            self.spec = embedder
            self.api_base = api_base
            self._embedder: Embedder | None = None

        def __call__(self, input: Documents) -> Embeddings:
            if self._embedder is None:
                self._embedder = embedder_from_spec(self.spec, api_base=self.api_base)
            return list(self._embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "hypermnesia"

        def default_space(self) -> Any:
            return "cosine"

        def supported_spaces(self) -> Any:
            return ["cosine"]

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> HypermnesiaEmbeddingFunction:
            return HypermnesiaEmbeddingFunction(str(config["embedder"]), config.get("api_base"))

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self.spec, "api_base": self.api_base}

    return HypermnesiaEmbeddingFunction


def _metadata(unit: MemoryUnit) -> dict[str, Any]:
    # Chroma merges metadata on upsert; None removes a key, so absent fields are written as None.
    return {
        "ns": unit.namespace.key,
        "uid": unit.id,
        "granularity": unit.granularity.value,
        "kind": unit.kind.value,
        "current": unit.is_current,
        "session_id": unit.session_id,
        "event_ts": None if unit.event_time is None else unit.event_time.timestamp(),
        "unit": unit.model_dump_json(),
    }


def _where(
    ns: Namespace, flt: UnitFilter | None, ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """The Chroma ``where`` clause of a namespace, a filter (same semantics as ``matches``) and
    unit ids.

    Ids go into the clause rather than Chroma's ``ids=`` argument: combined with a clause that
    matches the whole namespace, ``ids=`` costs milliseconds per id (Chroma 1.5), this does not.
    """
    conds: list[dict[str, Any]] = [{"ns": ns.key}]
    if ids is not None:
        conds.append({"uid": {"$in": list(ids)}})
    if flt is not None:
        if flt.granularities is not None:
            conds.append({"granularity": {"$in": sorted(g.value for g in flt.granularities)}})
        if flt.kinds is not None:
            conds.append({"kind": {"$in": sorted(k.value for k in flt.kinds)}})
        if flt.current_only:
            conds.append({"current": True})
        if flt.session_ids is not None:
            conds.append({"session_id": {"$in": sorted(flt.session_ids)}})
        if flt.ids is not None:
            conds.append({"uid": {"$in": sorted(flt.ids)}})
        if flt.event_after is not None:
            conds.append({"event_ts": {"$gte": flt.event_after.timestamp()}})
        if flt.event_before is not None:
            conds.append({"event_ts": {"$lte": flt.event_before.timestamp()}})
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _vacuum(db: Path) -> None:
    conn = sqlite3.connect(str(db), isolation_level=None)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _remove_dropped_segments(folder: Path) -> list[Path]:
    """Delete the index folders of segments Chroma no longer lists (a dropped collection's
    vectors stay on disk otherwise); only for a closed embedded store. Returns what went."""
    conn = sqlite3.connect(str(folder / "chroma.sqlite3"))
    try:
        live = {str(row[0]) for row in conn.execute("SELECT id FROM segments")}
    finally:
        conn.close()
    segments = [p for p in folder.iterdir() if p.is_dir() and _is_uuid(p.name)]
    removed = [p for p in segments if p.name not in live]
    for path in removed:
        shutil.rmtree(path)
    return removed


_HNSW_HEADER = struct.Struct("<iQQQQ")
"""The start of Chroma's ``header.bin`` (hnswlib 0.8 layout): a format version, then the byte
offset of level 0, the capacity, the element count and the bytes per element, as 64-bit ints."""


def _scrub_unused_capacity(segment: Path) -> bool:
    """Zero the unused capacity of a closed HNSW segment's files.

    hnswlib allocates room for more elements than it holds and writes that room to disk without
    initialising it, so whatever the process's heap held before (a just-forgotten record
    included) can land in ``data_level0.bin`` and ``length.bin``. The slots past the element
    count are never read, so zeroing them changes nothing Chroma sees. Files whose sizes do not
    match the header are left alone (False).
    """
    header, level0, lengths = (segment / n for n in ("header.bin", "data_level0.bin", "length.bin"))
    if not (header.exists() and level0.exists() and lengths.exists()):
        return False
    _, offset, capacity, count, per_element = _HNSW_HEADER.unpack_from(header.read_bytes())
    if offset != 0 or count > capacity or level0.stat().st_size != capacity * per_element:
        _log.warning("HNSW files of %s do not match their header; not scrubbed", segment)
        return False
    if lengths.stat().st_size != capacity * 4:
        _log.warning("HNSW length file of %s does not match its header; not scrubbed", segment)
        return False
    _zero_from(level0, count * per_element)
    _zero_from(lengths, count * 4)
    return True


def _zero_from(path: Path, start: int) -> None:
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(start)
        f.write(bytes(size - start))
        f.flush()
        os.fsync(f.fileno())


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


def _sqlite_header_ok(path: Path) -> bool:
    db = path / "chroma.sqlite3"
    if not db.exists():
        return True
    with db.open("rb") as fh:
        head = fh.read(16)
    return len(head) == 0 or head == b"SQLite format 3\x00"


class ChromaBackend(VectorBackend):
    """Units in one Chroma collection (cosine space), every request scoped by namespace.

    Writes larger than Chroma's per-call limit are split; a failure part-way leaves the earlier
    batches written, which is harmless because upserts are idempotent and can be replayed.
    """

    def __init__(
        self,
        client: Any,
        embedder: Embedder,
        *,
        location: str,
        collection: str = COLLECTION,
        path: Path | None = None,
    ) -> None:
        self._client = client
        self._embedder = embedder
        self._location = location
        self._path = path
        """The folder of an embedded store (None for a server)."""
        ef = _embedding_function_class()(embedder.name, getattr(embedder, "api_base", None))
        with self._guard():
            self._collection = client.get_or_create_collection(
                collection, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
            )
            self.max_batch_size = max(1, min(int(client.get_max_batch_size()), 5461))
        self._batch = self.max_batch_size
        stored = self._collection.configuration_json.get("embedding_function") or {}
        spec = (stored.get("config") or {}).get("embedder")
        if stored.get("name") != "hypermnesia" or spec != embedder.name:
            raise InvalidInputError(
                f"the Chroma collection {collection!r} at {location} holds vectors of embedder "
                f"{spec or stored.get('name')!r}, not of the configured {embedder.name!r}"
            )

    @classmethod
    def persistent(
        cls, path: str | Path, embedder: Embedder, *, collection: str = COLLECTION
    ) -> ChromaBackend:
        """An embedded Chroma under ``path`` (created if missing)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from chromadb.errors import ChromaError

        path = Path(path)
        if path.exists() and not path.is_dir():
            raise InvalidInputError(f"the Chroma path {path} is a file, not a directory")
        if not _sqlite_header_ok(path):
            raise StoreCorruptError(f"{path / 'chroma.sqlite3'} is not an SQLite database")
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(
                path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
            )
        except (ChromaError, sqlite3.DatabaseError) as exc:
            # Chroma caches a half-started system per path; drop it so a repaired path can open.
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient._identifier_to_system.pop(str(path), None)
            raise StoreCorruptError(f"cannot open the Chroma store at {path}: {exc}") from exc
        return cls(client, embedder, location=str(path), collection=collection, path=path)

    @classmethod
    def http(
        cls, host: str, port: int, embedder: Embedder, *, collection: str = COLLECTION
    ) -> ChromaBackend:
        """A Chroma server (``chroma run``) at ``host:port``."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        location = f"http://{host}:{port}"
        try:
            client = chromadb.HttpClient(
                host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
            )
        except (ValueError, ConnectionError, OSError) as exc:
            raise StoreUnavailableError(f"the Chroma server {location} does not answer") from exc
        return cls(client, embedder, location=location, collection=collection)

    @property
    def batch_size(self) -> int:
        """Records per Chroma call: the server's limit unless set lower."""
        return self._batch

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, not {value!r}")
        if value > self.max_batch_size:
            raise InvalidInputError(
                f"batch_size {value} is above the Chroma limit of {self.max_batch_size}"
            )
        self._batch = value

    def close(self) -> None:
        """Release the client (file handles or HTTP connections)."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def compact(self) -> None:
        """Rewrite the collection with only its live records, so deleted ones leave no bytes.

        Chroma keeps every write in a log (and deleted rows in free pages) until it decides to
        purge them; a collection that is dropped takes its log with it. So the live records are
        copied into a fresh collection, the old one is dropped and the new one renamed; an
        embedded store then rewrites its SQLite file. It reads and writes every record: about
        the cost of writing the store anew (embeddings are copied, not recomputed). Only for an
        embedded store, which no other process can be using (see :mod:`memory.guard`).

        Chroma's HNSW files are then cleaned of what Chroma leaves behind: the folders of
        dropped segments, and the unused capacity it writes uninitialised (see
        :func:`_scrub_unused_capacity`). A later write by this process can again persist stale
        heap bytes into new capacity; compact again after it to be sure of the disk.
        """
        if self._path is None:
            raise InvalidInputError("compacting a Chroma server's collection is not supported")
        name = self._collection.name
        ef = _embedding_function_class()(
            self._embedder.name, getattr(self._embedder, "api_base", None)
        )
        with self._guard():
            fresh = self._client.create_collection(
                f"{name}-compacting",
                embedding_function=ef,
                configuration={"hnsw": {"space": "cosine"}},
            )
            offset = 0
            while True:
                page = self._collection.get(
                    include=["embeddings", "metadatas"], limit=self._batch, offset=offset
                )
                if not page["ids"]:
                    break
                fresh.add(
                    ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"]
                )
                offset += len(page["ids"])
            self._client.delete_collection(name)
            fresh.modify(name=name)
        self.close()
        _vacuum(self._path / "chroma.sqlite3")
        _remove_dropped_segments(self._path)
        for segment in self._path.iterdir():
            if segment.is_dir() and _is_uuid(segment.name):
                _scrub_unused_capacity(segment)
        reopened = ChromaBackend.persistent(self._path, self._embedder, collection=name)
        self._client, self._collection = reopened._client, reopened._collection

    def reset(self) -> None:
        """Delete the embedded store's files and start an empty collection in their place.

        For rebuilding an index Chroma can no longer read; every record is gone afterwards.
        """
        if self._path is None:
            raise InvalidInputError("resetting a Chroma server's collection is not supported")
        from chromadb.api.shared_system_client import SharedSystemClient

        name = self._collection.name
        self.close()
        SharedSystemClient._identifier_to_system.pop(str(self._path), None)
        shutil.rmtree(self._path)
        reopened = ChromaBackend.persistent(self._path, self._embedder, collection=name)
        self._client, self._collection = reopened._client, reopened._collection

    @contextmanager
    def _guard(self) -> Iterator[None]:
        import httpx
        from chromadb.errors import ChromaError, InternalError, InvalidArgumentError

        try:
            yield
        except (httpx.TransportError, ConnectionError) as exc:
            msg = f"the Chroma store {self._location} does not answer: {exc}"
            raise StoreUnavailableError(msg) from exc
        except InvalidArgumentError as exc:
            raise InvalidInputError(f"Chroma rejected the request: {exc}") from exc
        except (ChromaError, sqlite3.DatabaseError) as exc:
            if any(w in str(exc) for w in ("not a database", "malformed", "corrupt")):
                msg = f"the Chroma store {self._location} is corrupt: {exc}"
                raise StoreCorruptError(msg) from exc
            if isinstance(exc, InternalError) and self._path is not None:
                msg = f"the Chroma index at {self._location} is unreadable: {exc}"
                raise VectorIndexError(msg) from exc
            raise

    def _read(self, call: Callable[[], _R]) -> _R:
        """A read, retried while a Chroma server answers that a collection's vector segment is
        not on its disk yet (it writes the segment a moment after the first records arrive, and
        a read in between fails; seen under concurrent writers), then guarded as any call. A read
        that succeeds at once does not go through the retry machinery."""
        with self._guard():
            try:
                return call()
            except Exception as exc:
                if not _not_on_disk(exc):
                    raise
            return _READ_AGAIN(call)

    @staticmethod
    def _cid(ns: Namespace, unit_id: str) -> str:
        return f"{ns.key}{_SEP}{unit_id}"

    def _records(self, ids: list[str], metadatas: Any, embeddings: Any) -> list[VectorRecord]:
        out: list[VectorRecord] = []
        for i, cid in enumerate(ids):
            try:
                unit = MemoryUnit.model_validate_json(metadatas[i]["unit"])
            except (ValidationError, KeyError, TypeError) as exc:
                raise StoreCorruptError(
                    f"record {cid!r} in the Chroma store {self._location} is unreadable: {exc}"
                ) from exc
            vec = None if embeddings is None else np.asarray(embeddings[i], dtype=np.float32)
            out.append(VectorRecord(unit, vec))
        return out

    def upsert(self, ns: Namespace, records: Sequence[VectorRecord]) -> None:
        _check_ns(ns)
        matrix = _check_records(ns, records, self._embedder.dim)
        for start in range(0, len(records), self._batch):
            chunk = records[start : start + self._batch]
            with self._guard():
                self._collection.upsert(
                    ids=[self._cid(ns, r.unit.id) for r in chunk],
                    embeddings=matrix[start : start + self._batch],
                    metadatas=[_metadata(r.unit) for r in chunk],
                )

    def get(
        self,
        ns: Namespace,
        ids: Sequence[str] | None = None,
        flt: UnitFilter | None = None,
        *,
        with_embeddings: bool = False,
        limit: int | None = None,
    ) -> list[VectorRecord]:
        _check_ns(ns)
        wanted = None if ids is None else _check_ids(ids)
        if _empty_filter(flt) or (limit is not None and limit <= 0) or wanted == []:
            return []
        include = ["metadatas", "embeddings"] if with_embeddings else ["metadatas"]
        where = _where(ns, flt)
        out: list[VectorRecord] = []
        if wanted is not None:
            for start in range(0, len(wanted), self._batch):
                chunk = _where(ns, flt, wanted[start : start + self._batch])
                res = self._read(partial(self._collection.get, where=chunk, include=include))
                out += self._records(res["ids"], res["metadatas"], res.get("embeddings"))
            rank = {uid: n for n, uid in enumerate(wanted)}
            out.sort(key=lambda r: rank[r.unit.id])
            return out if limit is None else out[:limit]
        while limit is None or len(out) < limit:
            size = self._batch if limit is None else min(self._batch, limit - len(out))
            res = self._read(
                partial(
                    self._collection.get, where=where, include=include, limit=size, offset=len(out)
                )
            )
            out += self._records(res["ids"], res["metadatas"], res.get("embeddings"))
            if len(res["ids"]) < size:
                break
        return out

    def query(
        self, ns: Namespace, vectors: np.ndarray, k: int, flt: UnitFilter | None = None
    ) -> list[list[tuple[VectorRecord, float]]]:
        _check_ns(ns)
        k = _check_k(k)
        queries = _check_matrix(vectors, self._embedder.dim, "query vectors")
        if _empty_filter(flt):
            return [[] for _ in range(len(queries))]
        where = _where(ns, flt)
        out: list[list[tuple[VectorRecord, float]]] = []
        for start in range(0, len(queries), self._batch):
            res = self._read(
                partial(
                    self._collection.query,
                    query_embeddings=queries[start : start + self._batch],
                    n_results=k,
                    where=where,
                    include=["metadatas", "distances"],
                )
            )
            for ids, metas, dists in zip(
                res["ids"], res["metadatas"], res["distances"], strict=True
            ):
                records = self._records(ids, metas, None)
                scored = [(r, 1.0 - float(d)) for r, d in zip(records, dists, strict=True)]
                out.append(sorted(scored, key=lambda hit: -hit[1]))
        return out

    def delete(self, ns: Namespace, ids: Sequence[str]) -> int:
        _check_ns(ns)
        wanted = _check_ids(ids)
        deleted = 0
        for start in range(0, len(wanted), self._batch):
            with self._guard():
                result = self._collection.delete(
                    where=_where(ns, None, wanted[start : start + self._batch])
                )
            deleted += int((result or {}).get("deleted", 0))
        return deleted

    def _ids(self, where: dict[str, Any] | None) -> Iterator[str]:
        offset = 0
        while True:
            with self._guard():
                res = self._collection.get(
                    where=where, include=[], limit=self._batch, offset=offset
                )
            yield from res["ids"]
            offset += len(res["ids"])
            if len(res["ids"]) < self._batch:
                return

    def count(self, ns: Namespace | None = None) -> int:
        if ns is None:
            with self._guard():
                return int(self._collection.count())
        return sum(1 for _ in self._ids({"ns": _check_ns(ns).key}))

    def namespaces(self) -> list[Namespace]:
        keys = {cid.partition(_SEP)[0] for cid in self._ids(None)}
        return sorted((Namespace.parse(key) for key in keys), key=lambda n: n.key)


# --------------------------------------------------------------------------------------------


class VectorStore:
    """Units in, units out: validation and embedding over any :class:`VectorBackend`."""

    def __init__(self, backend: VectorBackend, embedder: Embedder) -> None:
        self.backend = backend
        self.embedder = embedder

    def put(
        self, ns: Namespace, units: Sequence[MemoryUnit], embeddings: np.ndarray | None = None
    ) -> list[str]:
        """Write units (embedding their text unless ``embeddings`` are given); their ids."""
        _check_ns(ns)
        units = list(units)
        for unit in units:
            if not isinstance(unit, MemoryUnit):
                raise InvalidInputError(f"expected MemoryUnit, got {type(unit).__name__}")
            if unit.namespace != ns:
                raise InvalidInputError(
                    f"unit {unit.id} belongs to namespace {unit.namespace.key}, not {ns.key}"
                )
        if not units:
            return []
        if embeddings is None:
            matrix = self.embedder.embed([u.text for u in units])
        else:
            matrix = _check_matrix(embeddings, self.embedder.dim, "embeddings")
            if len(matrix) != len(units):
                raise InvalidInputError(f"{len(matrix)} embeddings given for {len(units)} units")
        records = [VectorRecord(u, v) for u, v in zip(units, matrix, strict=True)]
        self.backend.upsert(ns, records)
        return [u.id for u in units]

    def get(self, ns: Namespace, ids: Sequence[str]) -> list[MemoryUnit]:
        """The units with these ids, in the order asked; missing ids are simply absent."""
        wanted = _check_ids(ids)
        if not wanted:
            return []
        found = {r.unit.id: r.unit for r in self.backend.get(_check_ns(ns), wanted)}
        return [found[i] for i in wanted if i in found]

    def search(
        self,
        ns: Namespace,
        query: str | np.ndarray,
        k: int = 10,
        flt: UnitFilter | None = None,
    ) -> list[SearchHit]:
        """The ``k`` units most similar to a text or a vector, best first."""
        _check_ns(ns)
        k = _check_k(k)
        if isinstance(query, str):
            if not query.strip():
                raise InvalidInputError("the search query is empty")
            vector = self.embedder.embed([query])
        else:
            vector = _check_matrix(query, self.embedder.dim, "query vector")
            if len(vector) != 1:
                raise InvalidInputError(f"search takes one query vector, got {len(vector)}")
        (hits,) = self.backend.query(ns, vector, k, flt)
        return [SearchHit(unit=record.unit, score=score, source="dense") for record, score in hits]

    def all_records(
        self, ns: Namespace, flt: UnitFilter | None = None, with_embeddings: bool = True
    ) -> list[VectorRecord]:
        """Every record of ``ns`` that passes the filter (to rebuild an in-process index)."""
        return self.backend.get(_check_ns(ns), None, flt, with_embeddings=with_embeddings)

    def delete(self, ns: Namespace, ids: Sequence[str]) -> int:
        """Delete units by id; the number actually deleted."""
        return self.backend.delete(_check_ns(ns), _check_ids(ids))

    def count(self, ns: Namespace | None = None) -> int:
        """Units in ``ns``, or in every namespace."""
        return self.backend.count(None if ns is None else _check_ns(ns))
