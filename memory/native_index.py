"""The in-process vector index: one typed API over two cores, native (Rust) and NumPy.

:class:`NativeIndex` runs on the Rust core ``hypermnesia_native`` (SIMD scans on every core, the GIL
released, NumPy input borrowed without a copy); :class:`NumpyIndex` runs the same algorithm in
NumPy: the reference the parity tests compare against, and the fallback when the extension is not
built. :func:`open_index` picks the native one when it imports.

Rows are addressed by string ids (memory unit ids) and carry what filters need: a namespace key,
a granularity and a validity flag. A search is exact over f32, or (storage "int8" / "int8_dim")
an int8 scan whose best ``candidates`` rows are reranked exactly in f32; returned scores are always
exact f32 cosines (or dot products). Equal scores rank rows in slot order: insertion order, with
the new rows of one batch (and all rows after a compaction) grouped by namespace, so that a
namespace filter reads adjacent rows.

The index is a hot copy: the durable rows live in the stores, and it can always be rebuilt from
them (or saved and loaded back to start faster).
"""

from __future__ import annotations

import json
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, get_args

import numpy as np
import numpy.typing as npt

from memory.errors import InvalidInputError, StoreCorruptError, UnitNotFoundError

if TYPE_CHECKING:
    from hypermnesia_native import VectorIndex as _NativeCore

try:
    import hypermnesia_native as _native
except ImportError:  # the extension is not built: NumPy serves every call
    _native = None  # type: ignore[assignment]

__all__ = [
    "NATIVE_AVAILABLE",
    "Hit",
    "Incidence",
    "IndexFilter",
    "Metric",
    "NativeIndex",
    "NumpyIndex",
    "Storage",
    "VectorIndex",
    "default_candidates",
    "native_isa",
    "open_index",
    "personalized_pagerank",
]

#: True when the Rust extension imported.
NATIVE_AVAILABLE: bool = _native is not None

Metric = Literal["cosine", "dot"]
Storage = Literal["f32", "int8", "int8_dim"]
Hit = tuple[str, float]
F32Array = npt.NDArray[np.float32]
F64Array = npt.NDArray[np.float64]

MAX_DIM = 1 << 16
#: Deletes compact the index on their own once tombstones outnumber live rows and this count.
AUTO_COMPACT_MIN_DEAD = 1024
_FORMAT = "hypermnesia-numpy-index/1"
_COLUMNS = ("vecs", "codes", "step", "alive", "current", "ns", "gran")


def native_isa() -> str | None:
    """The instruction set the native kernels picked on this CPU (None without the extension)."""
    return _native.isa() if _native is not None else None


def default_candidates(k: int) -> int:
    """The int8 candidate pool reranked in f32 for ``k`` results."""
    return max(4 * k, 40)


@dataclass(frozen=True, slots=True)
class IndexFilter:
    """Which rows a search may return; ``None`` / ``False`` fields keep every row.

    Unknown namespaces, granularities or ids simply match nothing.
    """

    namespace: str | None = None
    granularities: frozenset[str] | None = None
    current_only: bool = False
    ids: frozenset[str] | None = None


# --- input checks ---------------------------------------------------------------------------


def _id_list(ids: Iterable[str], what: str = "ids") -> list[str]:
    if isinstance(ids, str | bytes):
        raise InvalidInputError(f"{what} must be a collection of strings, not a single string")
    out = list(ids)
    for i, v in enumerate(out):
        if not isinstance(v, str) or not v:
            raise InvalidInputError(f"{what}[{i}] must be a non-empty string, got {v!r}")
    return out


def _float32(values: Any, what: str, ndim: int, dim: int, rows: int | None = None) -> F32Array:
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    shape_ok = arr.ndim == ndim and arr.shape[-1] == dim
    if not shape_ok or (rows is not None and arr.shape[0] != rows):
        want = f"({dim},)" if ndim == 1 else f"({'m' if rows is None else rows}, {dim})"
        raise InvalidInputError(f"{what} has shape {arr.shape}; expected {want}")
    with np.errstate(over="ignore"):  # values past float32 become inf, rejected as non-finite
        return np.ascontiguousarray(arr, dtype=np.float32)


def _per_row(value: Any, n: int, kinds: tuple[type, ...], what: str) -> list[Any]:
    if isinstance(value, kinds):
        return [value]
    values = list(value) if isinstance(value, Iterable) and not isinstance(value, bytes) else []
    if len(values) not in (1, n) or not all(isinstance(v, kinds) for v in values):
        raise InvalidInputError(f"{what} must be one {kinds[0].__name__} or one per row ({n})")
    return values


def _check_k(k: int, candidates: int | None) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    if candidates is not None and (not isinstance(candidates, int) or candidates < 1):
        raise InvalidInputError(f"candidates must be a positive integer, got {candidates!r}")


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turns the extension's exceptions into the project's error tree."""
    if _native is None:
        yield
        return
    try:
        yield
    except _native.NativeInputError as e:
        raise InvalidInputError(str(e)) from e
    except _native.NativeNotFoundError as e:
        raise UnitNotFoundError(str(e.args[0]) if e.args else "unknown id") from e
    except _native.NativeCorruptError as e:
        raise StoreCorruptError(str(e)) from e


def _filter_kwargs(f: IndexFilter | None) -> dict[str, Any]:
    if f is None:
        return {}
    return {
        "namespace": f.namespace,
        "granularities": None if f.granularities is None else sorted(f.granularities),
        "current_only": f.current_only,
        "ids": None if f.ids is None else sorted(f.ids),
    }


# --- the API ----------------------------------------------------------------------------------


class VectorIndex(ABC):
    """The index API: checks input, calls the core, raises errors of :mod:`memory.errors`."""

    backend: ClassVar[str]
    _core: _NumpyCore | _NativeCore

    def __init__(self, dim: int, metric: Metric = "cosine", storage: Storage = "int8") -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
            raise InvalidInputError(f"dim must be an integer in 1..{MAX_DIM}, got {dim!r}")
        if metric not in get_args(Metric):
            raise InvalidInputError(f"unknown metric {metric!r}: use 'cosine' or 'dot'")
        if storage not in get_args(Storage):
            raise InvalidInputError(f"unknown storage {storage!r}: use 'f32', 'int8' or 'int8_dim'")
        self.dim, self.metric, self.storage = dim, metric, storage
        with _mapped_errors():
            self._core = self._new_core(dim, metric, storage)

    @abstractmethod
    def _new_core(self, dim: int, metric: Metric, storage: Storage) -> _NumpyCore | _NativeCore: ...

    def _write(
        self, ids: Iterable[str], vectors: Any, ns: Any, gran: Any, cur: Any, mode: str
    ) -> None:
        id_list = _id_list(ids)
        n = len(id_list)
        matrix = _float32(vectors, "vectors", 2, self.dim, rows=n)
        namespaces = _per_row(ns, n, (str,), "namespace")
        granularities = _per_row(gran, n, (str,), "granularity")
        current = [bool(c) for c in _per_row(cur, n, (bool, np.bool_), "current")]
        if n:
            with _mapped_errors():
                self._core.write_rows(id_list, matrix, namespaces, granularities, current, mode)

    def add(
        self,
        ids: Sequence[str],
        vectors: Any,
        *,
        namespace: str | Sequence[str],
        granularity: str | Sequence[str],
        current: bool | Sequence[bool] = True,
    ) -> None:
        """Adds new rows; an id already present is an error and nothing is written."""
        self._write(ids, vectors, namespace, granularity, current, "insert")

    def update(
        self,
        ids: Sequence[str],
        vectors: Any,
        *,
        namespace: str | Sequence[str],
        granularity: str | Sequence[str],
        current: bool | Sequence[bool] = True,
    ) -> None:
        """Overwrites rows in place; an unknown id raises :class:`UnitNotFoundError`."""
        self._write(ids, vectors, namespace, granularity, current, "update")

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Any,
        *,
        namespace: str | Sequence[str],
        granularity: str | Sequence[str],
        current: bool | Sequence[bool] = True,
    ) -> None:
        """Adds new rows and overwrites existing ones."""
        self._write(ids, vectors, namespace, granularity, current, "upsert")

    def remove(self, ids: Iterable[str]) -> None:
        """Deletes rows; every id must exist, else nothing is removed."""
        with _mapped_errors():
            self._core.remove(_id_list(ids))

    def set_current(self, ids: Iterable[str], current: bool) -> None:
        """Marks rows valid (``True``) or superseded (``False``) for ``current_only`` filters."""
        with _mapped_errors():
            self._core.set_current(_id_list(ids), bool(current))

    def search(
        self,
        query: Any,
        k: int = 10,
        filter: IndexFilter | None = None,
        *,
        exact: bool = False,
        candidates: int | None = None,
    ) -> list[Hit]:
        """The ``k`` best rows for ``query`` among those ``filter`` keeps, best first.

        ``exact`` scans the f32 rows even on an int8 index; ``candidates`` sets the int8 pool.
        """
        _check_k(k, candidates)
        q = _float32(query, "query", 1, self.dim)
        kw = _filter_kwargs(filter)
        with _mapped_errors():
            return self._core.search(q, k, exact=exact, candidates=candidates, **kw)

    def search_batch(
        self,
        queries: Any,
        k: int = 10,
        filter: IndexFilter | None = None,
        *,
        exact: bool = False,
        candidates: int | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for each row of ``queries`` (natively, queries run in parallel)."""
        _check_k(k, candidates)
        qs = _float32(queries, "queries", 2, self.dim)
        kw = _filter_kwargs(filter)
        with _mapped_errors():
            return self._core.search_batch(qs, k, exact=exact, candidates=candidates, **kw)

    def score(self, query: Any, ids: Iterable[str]) -> list[Hit]:
        """Exact scores of ``query`` against the rows ``ids`` (all must exist), best first."""
        q = _float32(query, "query", 1, self.dim)
        with _mapped_errors():
            return self._core.score(q, _id_list(ids))

    def __len__(self) -> int:
        return len(self._core)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and id in self._core

    def ids(self) -> list[str]:
        """Live ids in slot order."""
        return self._core.ids()

    def compact(self) -> None:
        """Drops the tombstones deletes leave (this also happens on its own as they pile up)."""
        with _mapped_errors():
            self._core.compact()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the live rows to one file, atomically (through a renamed temporary file)."""
        with _mapped_errors():
            self._core.save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = True) -> Self:
        """Reads a file written by :meth:`save` of the same class."""
        with _mapped_errors():
            core = cls._load_core(os.fspath(path), mmap)
        self = cls.__new__(cls)
        self._core = core
        self.dim, self.metric, self.storage = core.dim, core.metric, core.storage  # type: ignore[assignment]
        return self

    @classmethod
    @abstractmethod
    def _load_core(cls, path: str, mmap: bool) -> _NumpyCore | _NativeCore: ...

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, metric={self.metric!r}, "
            f"storage={self.storage!r}, len={len(self)})"
        )


class NativeIndex(VectorIndex):
    """The index on the Rust core (``load`` memory-maps the file unless ``mmap=False``)."""

    backend = "native"

    def _new_core(self, dim: int, metric: Metric, storage: Storage) -> _NumpyCore | _NativeCore:
        if _native is None:
            raise ImportError(
                "NativeIndex needs the hypermnesia_native extension: pip install ./native"
            )
        return _native.VectorIndex(dim, metric, storage)

    @classmethod
    def _load_core(cls, path: str, mmap: bool) -> _NumpyCore | _NativeCore:
        if _native is None:
            raise ImportError(
                "NativeIndex needs the hypermnesia_native extension: pip install ./native"
            )
        return _native.VectorIndex.load(path, mmap)


class NumpyIndex(VectorIndex):
    """The index on the NumPy reference core (``load`` always reads into memory)."""

    backend = "numpy"

    def _new_core(self, dim: int, metric: Metric, storage: Storage) -> _NumpyCore | _NativeCore:
        return _NumpyCore(dim, metric, storage)

    @classmethod
    def _load_core(cls, path: str, mmap: bool) -> _NumpyCore | _NativeCore:
        return _NumpyCore.load(path)


def open_index(
    dim: int, *, metric: Metric = "cosine", storage: Storage = "int8", prefer_native: bool = True
) -> VectorIndex:
    """A new empty index: native when the extension is built (and preferred), else NumPy."""
    if prefer_native and NATIVE_AVAILABLE:
        return NativeIndex(dim, metric, storage)
    return NumpyIndex(dim, metric, storage)


# --- the NumPy core ---------------------------------------------------------------------------


def _codes(x: F32Array, inv: F64Array) -> npt.NDArray[np.int8]:
    """``clamp(rint(x * inv), -127, 127)`` in float64: bit-identical to the native core."""
    codes: npt.NDArray[np.int8] = np.clip(np.rint(x * inv), -127, 127).astype(np.int8)
    return codes


def _quantize_rows(x: F32Array) -> tuple[npt.NDArray[np.int8], F32Array]:
    """Per-vector int8 codes and steps (``max |x| / 127``; 0 for a zero row)."""
    m = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(len(x), np.float32)
    inv = 127.0 / np.where(m > 0, m, 1).astype(np.float64)
    step: F32Array = np.where(m > 0, m / np.float32(127), np.float32(0)).astype(np.float32)
    return _codes(x, np.where(m > 0, inv, 0)[:, None]), step


def _quantize_dims(x: F32Array, rng: F32Array) -> npt.NDArray[np.int8]:
    """Codes with one step per dimension, ``rng / 127`` (dimensions of range 0 code as 0)."""
    inv = np.where(rng > 0, 127.0 / np.where(rng > 0, rng, 1).astype(np.float64), 0)
    return _codes(x, inv)


def _top(
    scores: npt.NDArray[np.floating[Any]], slots: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.int64]:
    """Positions of the ``k`` best scores, best first; ties go to the lower slot."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= kth)
    else:
        keep = np.arange(len(scores))
    order = np.lexsort((slots[keep], -scores[keep].astype(np.float64)))
    return keep[order[:k]]


class _Names:
    """Strings stored once, referred to by number."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = list(names)
        self.ids = {n: i for i, n in enumerate(self.names)}

    def intern(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = len(self.names)
            self.names.append(name)
        return self.ids[name]


class _NumpyCore:
    """The reference core: the native algorithm, step for step, in NumPy."""

    def __init__(self, dim: int, metric: str, storage: str) -> None:
        self.dim, self.metric, self.storage = dim, metric, storage
        self.vecs = np.zeros((0, dim), np.float32)
        self.codes = np.zeros((0, dim), np.int8)
        self.step = np.zeros(0, np.float32)
        self.alive = np.zeros(0, bool)
        self.current = np.zeros(0, bool)
        self.ns = np.zeros(0, np.int32)
        self.gran = np.zeros(0, np.int32)
        self.range = np.zeros(dim, np.float32)
        self.fitted = 0
        self.id_of: list[str] = []
        self.slots: dict[str, int] = {}
        self.ns_names, self.gran_names = _Names(), _Names()

    def __len__(self) -> int:
        return len(self.slots)

    def __contains__(self, id: str) -> bool:
        return id in self.slots

    def ids(self) -> list[str]:
        return [self.id_of[s] for s in np.flatnonzero(self.alive)]

    def _slots_of(self, ids: list[str]) -> npt.NDArray[np.int64]:
        missing = next((i for i in ids if i not in self.slots), None)
        if missing is not None:
            raise UnitNotFoundError(f"unknown id {missing!r}")
        return np.array([self.slots[i] for i in ids], dtype=np.int64)

    def _normalized(self, x: F32Array) -> F32Array:
        if self.metric == "dot":
            return x
        x64 = x.astype(np.float64)
        out: F32Array = (x64 / np.sqrt(np.einsum("ij,ij->i", x64, x64))[:, None]).astype(np.float32)
        return out

    def _check_vectors(self, x: F32Array, what: str) -> None:
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise InvalidInputError(f"{what} {int(np.argmax(bad))} has a non-finite value")
        if self.metric == "cosine":
            zero = ~x.any(axis=1)
            if zero.any():
                raise InvalidInputError(f"{what} {int(np.argmax(zero))} is all zeros: no cosine")

    def write_rows(
        self,
        ids: list[str],
        x: F32Array,
        ns: list[str],
        gran: list[str],
        cur: list[bool],
        mode: str,
    ) -> None:
        if len(set(ids)) != len(ids):
            raise InvalidInputError("an id appears twice in the batch")
        exists = [i in self.slots for i in ids]
        if mode == "insert" and any(exists):
            raise InvalidInputError(f"id {ids[exists.index(True)]!r} is already in the index")
        if mode == "update" and not all(exists):
            raise UnitNotFoundError(f"unknown id {ids[exists.index(False)]!r}")
        self._check_vectors(x, "row")
        n = len(ids)
        ns_ids = [self.ns_names.intern(v) for v in (ns * n if len(ns) == 1 else ns)]
        gran_ids = [self.gran_names.intern(v) for v in (gran * n if len(gran) == 1 else gran)]
        # New rows take slots grouped by namespace, as in the native core.
        fresh = sorted((i for i in range(n) if not exists[i]), key=ns_ids.__getitem__)
        start = len(self.id_of)
        self.id_of.extend(ids[i] for i in fresh)
        self.slots.update((ids[i], start + j) for j, i in enumerate(fresh))
        n_slots = len(self.id_of)
        if n_slots > len(self.alive):  # grow by doubling: many small batches stay linear
            cap = max(n_slots, 2 * len(self.alive), 16)
            for name in _COLUMNS:
                old = getattr(self, name)
                new = np.zeros((cap, *old.shape[1:]), old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.alive[start:n_slots] = True
        slots = np.array([self.slots[i] for i in ids], dtype=np.int64)
        stored = self._normalized(x)
        self.vecs[slots] = stored
        self.ns[slots], self.gran[slots], self.current[slots] = ns_ids, gran_ids, cur
        if self.storage == "int8":
            self.codes[slots], self.step[slots] = _quantize_rows(stored)
        elif self.storage == "int8_dim":
            self.codes[slots], self.step[slots] = _quantize_dims(stored, self.range), 1
            if fresh and (self.fitted == 0 or len(self) >= 2 * self.fitted):
                self._refit()

    def _refit(self) -> None:
        live = np.flatnonzero(self.alive)
        self.range = (
            np.abs(self.vecs[live]).max(axis=0) if len(live) else np.zeros(self.dim, np.float32)
        )
        self.fitted = len(live)
        self.codes[live] = _quantize_dims(self.vecs[live], self.range)

    def remove(self, ids: list[str]) -> None:
        slots = self._slots_of(ids)
        self.alive[slots] = False
        for i in set(ids):
            del self.slots[i]
        dead = len(self.id_of) - len(self.slots)
        if dead >= AUTO_COMPACT_MIN_DEAD and dead > len(self.slots):
            self.compact()

    def set_current(self, ids: list[str], current: bool) -> None:
        self.current[self._slots_of(ids)] = current

    def compact(self) -> None:
        live = np.flatnonzero(self.alive)
        live = live[np.argsort(self.ns[live], kind="stable")]  # grouped by namespace
        ns, gran = _Names(), _Names()
        self.ns = np.array([ns.intern(self.ns_names.names[v]) for v in self.ns[live]], np.int32)
        self.gran = np.array(
            [gran.intern(self.gran_names.names[v]) for v in self.gran[live]], np.int32
        )
        self.ns_names, self.gran_names = ns, gran
        self.vecs, self.codes, self.step = self.vecs[live], self.codes[live], self.step[live]
        self.current, self.alive = self.current[live], np.ones(len(live), bool)
        self.id_of = [self.id_of[s] for s in live]
        self.slots = {i: s for s, i in enumerate(self.id_of)}
        if self.storage == "int8_dim":
            self._refit()

    def _selection(
        self,
        namespace: str | None = None,
        granularities: list[str] | None = None,
        current_only: bool = False,
        ids: list[str] | None = None,
    ) -> npt.NDArray[np.int64]:
        keep = self.alive.copy()
        if current_only:
            keep &= self.current
        if namespace is not None:
            keep &= self.ns == self.ns_names.ids.get(namespace, -1)
        if granularities is not None:
            wanted = [self.gran_names.ids[g] for g in granularities if g in self.gran_names.ids]
            keep &= np.isin(self.gran, wanted)
        if ids is not None:
            by_id = np.zeros_like(keep)
            by_id[[self.slots[i] for i in ids if i in self.slots]] = True
            keep &= by_id
        return np.flatnonzero(keep)

    def _query(self, q: F32Array) -> F32Array:
        self._check_vectors(q[None, :], "query")
        out: F32Array = self._normalized(q[None, :])[0]
        return out

    def _search_rows(
        self, q: F32Array, k: int, rows: npt.NDArray[np.int64], exact: bool, candidates: int | None
    ) -> list[Hit]:
        pool = max(candidates or default_candidates(k), k)
        if self.storage != "f32" and not exact and len(rows) > pool:
            scaled = q if self.storage == "int8" else q * (self.range / np.float32(127))
            q8 = _quantize_rows(scaled[None, :])[0][0]
            wide = np.float64 if self.dim > 1040 else np.float32  # integer sums stay exact
            approx = np.empty(len(rows), np.float32)
            for s in range(0, len(rows), 1 << 16):
                part = rows[s : s + (1 << 16)]
                dots = self.codes[part].astype(wide) @ q8.astype(wide)
                approx[s : s + len(part)] = dots.astype(np.float32) * self.step[part]
            rows = rows[_top(approx, rows, pool)]
        scores = self.vecs[rows] @ q
        best = _top(scores, rows, k)
        return [(self.id_of[rows[i]], float(scores[i])) for i in best]

    def search(self, query: F32Array, k: int, **options: Any) -> list[Hit]:
        return self.search_batch(query[None, :], k, **options)[0]

    def search_batch(
        self,
        queries: F32Array,
        k: int,
        exact: bool = False,
        candidates: int | None = None,
        **filters: Any,
    ) -> list[list[Hit]]:
        qs = [self._query(q) for q in queries]
        rows = self._selection(**filters)
        return [self._search_rows(q, k, rows, exact, candidates) for q in qs]

    def score(self, query: F32Array, ids: list[str]) -> list[Hit]:
        slots = self._slots_of(ids)
        scores = self.vecs[slots] @ self._query(query)
        order = np.argsort(-scores, kind="stable")
        return [(ids[i], float(scores[i])) for i in order]

    def save(self, path: str) -> None:
        live = np.flatnonzero(self.alive)
        meta = {
            "format": _FORMAT,
            "dim": self.dim,
            "metric": self.metric,
            "storage": self.storage,
            "fitted": self.fitted,
            "ids": [self.id_of[s] for s in live],
            "namespaces": self.ns_names.names,
            "granularities": self.gran_names.names,
        }
        arrays = {name: getattr(self, name)[live] for name in _COLUMNS if name != "alive"}
        tmp = Path(f"{path}.tmp{os.getpid()}")
        try:
            with tmp.open("wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta)), range=self.range, **arrays)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str) -> _NumpyCore:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {name: z[name] for name in (*_COLUMNS[:3], *_COLUMNS[4:], "range")}
            if meta.get("format") != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            core = cls(int(meta["dim"]), meta["metric"], meta["storage"])
            n = len(meta["ids"])
            rows = [arrays[name] for name in _COLUMNS if name != "alive"]
            if arrays["vecs"].shape != (n, core.dim) or any(len(a) != n for a in rows):
                raise ValueError("array shapes disagree with the id list")
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            raise StoreCorruptError(f"{path}: not a readable NumPy index file ({e})") from e
        core.vecs, core.codes, core.step = arrays["vecs"], arrays["codes"], arrays["step"]
        core.current, core.ns, core.gran = arrays["current"], arrays["ns"], arrays["gran"]
        core.range, core.fitted, core.alive = arrays["range"], int(meta["fitted"]), np.ones(n, bool)
        core.id_of = list(meta["ids"])
        core.slots = {i: s for s, i in enumerate(core.id_of)}
        core.ns_names, core.gran_names = _Names(meta["namespaces"]), _Names(meta["granularities"])
        return core


# --- personalized PageRank --------------------------------------------------------------------


class Incidence:
    """A hypergraph as a CSR incidence, checked (natively: also indexed) once for many walks.

    Hyperedge ``e`` holds ``edge_vertices[edge_ptr[e]:edge_ptr[e + 1]]`` among ``n_vertices``
    vertices, with weight ``edge_weights[e]``. :meth:`pagerank` is
    :func:`personalized_pagerank` without reading and indexing the arrays again, for a caller
    that walks the same hypergraph from many seeds (a namespace, query after query).
    """

    def __init__(
        self,
        edge_ptr: npt.ArrayLike,
        edge_vertices: npt.ArrayLike,
        n_vertices: int,
        edge_weights: npt.ArrayLike,
        *,
        prefer_native: bool = True,
    ) -> None:
        self.edge_ptr = _int_array(edge_ptr, "edge_ptr", np.int64)
        self.edge_vertices = _int_array(edge_vertices, "edge_vertices", np.int32)
        weights = np.asarray(edge_weights)
        if weights.dtype.kind not in "fiu" or weights.ndim != 1:
            raise InvalidInputError(
                f"edge_weights must be a 1-d array of numbers, got {weights.dtype}"
            )
        self.edge_weights = np.ascontiguousarray(weights, dtype=np.float64)
        if isinstance(n_vertices, bool) or not isinstance(n_vertices, int) or n_vertices < 0:
            raise InvalidInputError(
                f"n_vertices must be a non-negative integer, got {n_vertices!r}"
            )
        self.n_vertices = n_vertices
        self._core: Any = None
        self._links: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
        if prefer_native and _native is not None:
            with _mapped_errors():
                self._core = _native.Incidence(
                    self.edge_ptr, self.edge_vertices, n_vertices, self.edge_weights
                )
        else:
            self._links = _check_incidence(
                self.edge_ptr, self.edge_vertices, n_vertices, self.edge_weights
            )

    def pagerank(
        self,
        seed_edges: Mapping[int, float],
        seed_vertices: Mapping[int, float],
        alpha: float = 0.85,
        max_iter: int = 100,
        tol: float = 1e-6,
    ) -> tuple[F64Array, F64Array]:
        """(edge, vertex) scores of the walk from these seeds; see :func:`personalized_pagerank`."""
        se = {int(e): float(w) for e, w in seed_edges.items()}
        sv = {int(v): float(w) for v, w in seed_vertices.items()}
        if self._core is not None:
            with _mapped_errors():
                edges, vertices = self._core.pagerank(se, sv, alpha, max_iter, tol)
                return edges, vertices
        assert self._links is not None  # set whenever there is no native core
        return _pagerank_numpy(
            self.edge_ptr,
            self.edge_vertices,
            self.n_vertices,
            self.edge_weights,
            self._links,
            se,
            sv,
            alpha,
            max_iter,
            tol,
        )


def personalized_pagerank(
    edge_ptr: npt.ArrayLike,
    edge_vertices: npt.ArrayLike,
    n_vertices: int,
    edge_weights: npt.ArrayLike,
    seed_edges: Mapping[int, float],
    seed_vertices: Mapping[int, float],
    alpha: float = 0.85,
    max_iter: int = 100,
    tol: float = 1e-6,
    *,
    prefer_native: bool = True,
) -> tuple[F64Array, F64Array]:
    """Personalized PageRank on a hypergraph given as a CSR incidence; (edge, vertex) scores.

    Defined as ``networkx.pagerank`` (``alpha`` the damping) on the undirected bipartite graph of
    vertices and hyperedges, one link per (vertex, hyperedge containing it) weighted by the
    hyperedge's weight; ``seed_*`` is the personalization (uniform when both are empty). A walk
    that has not converged after ``max_iter`` steps returns its last iterate.
    """
    incidence = Incidence(
        edge_ptr, edge_vertices, n_vertices, edge_weights, prefer_native=prefer_native
    )
    return incidence.pagerank(seed_edges, seed_vertices, alpha, max_iter, tol)


def _int_array(values: npt.ArrayLike, what: str, dtype: type[np.integer[Any]]) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise InvalidInputError(
            f"{what} must be a 1-d array of integers, got {arr.dtype} {arr.shape}"
        )
    if arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
        raise InvalidInputError(f"{what} has values outside {np.dtype(dtype).name}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _pagerank_numpy(
    ptr: npt.NDArray[np.int64],
    verts: npt.NDArray[np.int32],
    nv: int,
    w: F64Array,
    links: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    se: dict[int, float],
    sv: dict[int, float],
    alpha: float,
    max_iter: int,
    tol: float,
) -> tuple[F64Array, F64Array]:
    ne = len(ptr) - 1
    link_e, link_v = links
    _check_walk(nv, ne, se, sv, alpha, max_iter, tol)
    n = nv + ne
    if n == 0:
        return np.zeros(0), np.zeros(0)
    p = np.zeros(n)
    if se or sv:
        for v, s in sv.items():
            p[v] += s
        for e, s in se.items():
            p[nv + e] += s
        if p.sum() <= 0:
            raise InvalidInputError("seed weights sum to zero")
        p /= p.sum()
    else:
        p[:] = 1 / n
    link_w = w[link_e]
    out = np.concatenate([np.bincount(link_v, weights=link_w, minlength=nv), w * np.diff(ptr)])
    inv = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
    dangling = out == 0
    x = np.full(n, 1 / n)
    for _ in range(max_iter):
        sent = x * inv  # rank per unit of link weight
        nxt = np.concatenate(
            [
                np.bincount(link_v, weights=sent[nv + link_e] * link_w, minlength=nv),
                np.bincount(link_e, weights=sent[link_v] * link_w, minlength=ne),
            ]
        )
        nxt = alpha * nxt + (alpha * x[dangling].sum() + 1 - alpha) * p
        err = np.abs(nxt - x).sum()
        x = nxt
        if err < n * tol:
            break
    return x[nv:], x[:nv]


def _check_incidence(
    ptr: npt.NDArray[np.int64], verts: npt.NDArray[np.int32], nv: int, w: F64Array
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Reject a malformed incidence; the (edge, vertex) pair of each link."""
    ne = len(ptr) - 1
    if ne < 0 or len(w) != ne or ptr[0] != 0 or ptr[-1] != len(verts) or (np.diff(ptr) < 0).any():
        raise InvalidInputError(
            "edge_ptr must rise from 0 to len(edge_vertices), one more than edges"
        )
    if len(verts) and (verts.min() < 0 or verts.max() >= nv):
        raise InvalidInputError(f"edge_vertices has vertices outside 0..{nv}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InvalidInputError("edge_weights must be finite and >= 0")
    link_e = np.repeat(np.arange(ne), np.diff(ptr))
    link_v = verts.astype(np.int64)
    if len(np.unique(link_e * max(nv, 1) + link_v)) != len(link_v):
        raise InvalidInputError("a hyperedge lists the same vertex twice")
    return link_e, link_v


def _check_walk(
    nv: int,
    ne: int,
    se: dict[int, float],
    sv: dict[int, float],
    alpha: float,
    max_iter: int,
    tol: float,
) -> None:
    """Reject a seed or parameter that does not fit a walk over ``nv`` vertices, ``ne`` edges."""
    if not 0 <= alpha <= 1 or max_iter < 1 or not tol > 0:
        raise InvalidInputError("alpha must be in [0, 1], max_iter >= 1 and tol > 0")
    for seeds, limit, what in ((sv, nv, "vertex"), (se, ne, "hyperedge")):
        for i, s in seeds.items():
            if not 0 <= i < limit or not np.isfinite(s) or s < 0:
                raise InvalidInputError(f"seed {what} {i} (weight {s}) is out of range")
