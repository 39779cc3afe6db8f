"""Vector search benchmark: the native core against NumPy, faiss and Chroma on the same data.

Data (``dist``): ``clustered``, the default, draws rows and queries from one Gaussian mixture
shaped like sentence embeddings: a few hundred centres of uneven weight that share a common
direction, each cluster spread mostly along a few directions of its own, so that a query has a
neighbourhood of close rows, as real embeddings do and as approximate indexes (HNSW) assume;
``uniform`` draws independent random unit vectors, where every row is about as far from a query
as any other. Rows are spread over ten namespaces and two granularities at random.

One run builds every system on the same rows and times the same queries on each, one query at a
time, the systems taking turns in blocks of ten queries so that load from other processes falls
on all of them alike; between blocks it rests ``REST`` seconds, so that worker threads a library
leaves spinning after a call (OpenBLAS keeps NumPy's awake for about 0.1 s) have gone back to
sleep before the next system's block. Recall@k is measured against the exact top-k.

Systems: NumPy f32 (matvec + argpartition); the native index scanning f32, and scanning int8 then
reranking its candidate pool in f32; faiss ``IndexFlatIP`` and ``IndexHNSWFlat`` (M=32,
efSearch=64; faiss-cpu is the ``bench`` extra); a Chroma collection (embedded, persistent, cosine
HNSW). Building HNSW graphs is slow, so above ``HNSW_CAP`` rows faiss HNSW holds only the first
``HNSW_CAP`` rows and above ``CHROMA_CAP`` Chroma the first ``CHROMA_CAP``; their entries say so
and their recall is against the exact answers within those rows. Filtered runs keep 10% of the
rows: one namespace of ten (rows the index groups together when they arrive in one batch) and,
for the native index, one granularity drawn at random per row (rows scattered over the index).

Each entry reports p50/p95 latency, recall, build time (``build_s``) and the resident memory the
build added (``mem_mb``, read from ``/proc``; for NumPy the size of its matrix). The machine's
load average is printed and stored at the start and the end: figures taken under load are noisy,
and load slows NumPy's threaded BLAS more than the native scans.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from memory.errors import InvalidInputError
from memory.native_index import NATIVE_AVAILABLE, IndexFilter, NativeIndex, native_isa

__all__ = ["CHROMA_CAP", "DISTRIBUTIONS", "HNSW_CAP", "run_vector_bench"]

CHROMA_CAP = 100_000
HNSW_CAP = 250_000
DISTRIBUTIONS = ("clustered", "uniform")
NAMESPACES = 10
WARMUP = 3
BLOCK = 10
REST = 0.15
CENTRES = 300
LOCAL_DIMS = 16
Rows = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]
T = TypeVar("T")


@dataclass
class _System:
    """A timed search: ``run(query)`` returns raw hits, ``rows(hits)`` their row numbers."""

    run: Callable[[Matrix], Any]
    rows: Callable[[Any], Rows]
    truth: list[set[int]]
    extra: dict[str, Any] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)


def _normalize(x: Matrix) -> Matrix:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> Matrix:
    return _normalize(rng.standard_normal((n, dim), dtype=np.float32))


@dataclass(frozen=True)
class _Mixture:
    """Clusters of embedding-like vectors: ``centre + local spread + isotropic noise``, normed."""

    centres: Matrix
    weights: npt.NDArray[np.float64]
    bases: npt.NDArray[np.float32]  # (centres, LOCAL_DIMS, dim): each cluster's own directions

    @classmethod
    def draw(cls, rng: np.random.Generator, dim: int) -> _Mixture:
        shared = _unit_rows(rng, 1, dim)
        centres = _normalize(_unit_rows(rng, CENTRES, dim) + np.float32(0.5) * shared)
        weights = rng.gamma(1.0, size=CENTRES)
        bases = _unit_rows(rng, CENTRES * LOCAL_DIMS, dim).reshape(CENTRES, LOCAL_DIMS, dim)
        return cls(centres, weights / weights.sum(), bases)

    def sample(self, rng: np.random.Generator, n: int) -> Matrix:
        """``n`` rows; within a cluster, rows differ mostly along its ``LOCAL_DIMS`` directions."""
        dim = self.centres.shape[1]
        labels = rng.choice(len(self.centres), size=n, p=self.weights)
        out = np.empty((n, dim), np.float32)
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            local = rng.standard_normal((len(rows), LOCAL_DIMS), dtype=np.float32)
            noise = rng.standard_normal((len(rows), dim), dtype=np.float32)
            spread = np.float32(0.8 / np.sqrt(LOCAL_DIMS)) * (local @ self.bases[c])
            out[rows] = self.centres[c] + spread + np.float32(0.35 / np.sqrt(dim)) * noise
        return _normalize(out)


def _data(dist: str, rng: np.random.Generator, n: int, dim: int, m: int) -> tuple[Matrix, Matrix]:
    """``n`` rows and ``m`` queries drawn from the distribution named ``dist``."""
    if dist == "uniform":
        return _unit_rows(rng, n, dim), _unit_rows(rng, m, dim)
    mixture = _Mixture.draw(rng, dim)
    return mixture.sample(rng, n), mixture.sample(rng, m)


def _rss_mb() -> float | None:
    """Resident memory of this process in MB (None where ``/proc`` is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _timed_build(build: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """Runs ``build``; its result, seconds taken and the resident memory it added."""
    gc.collect()
    before, t = _rss_mb(), time.perf_counter()
    built = build()
    extra: dict[str, Any] = {"build_s": round(time.perf_counter() - t, 2)}
    gc.collect()
    after = _rss_mb()
    if before is not None and after is not None:
        extra["mem_mb"] = round(after - before, 1)
    return built, extra


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _exact(x: Matrix, queries: Matrix, k: int, rows: Rows | None = None) -> list[set[int]]:
    """The exact top-k row numbers of each query (within ``rows`` when given)."""
    sub = x if rows is None else x[rows]
    out = []
    for start in range(0, len(queries), 16):
        scores = queries[start : start + 16] @ sub.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out += [set((best_i if rows is None else rows[best_i]).tolist()) for best_i in best]
    return out


def _numpy_search(x: Matrix, k: int) -> Callable[[Matrix], Rows]:
    def run(q: Matrix) -> Rows:
        s = x @ q
        top = np.argpartition(-s, k)[:k]
        return top[np.argsort(-s[top])]

    return run


def _numpy_filtered(x: Matrix, ns: npt.NDArray[np.int8], k: int) -> Callable[[Matrix], Rows]:
    def run(q: Matrix) -> Rows:
        rows = np.flatnonzero(ns == 0)
        s = x[rows] @ q
        top = np.argpartition(-s, k)[:k]
        return rows[top[np.argsort(-s[top])]]

    return run


def _native_rows(hits: list[tuple[str, float]]) -> Rows:
    return np.array([int(i) for i, _ in hits], dtype=np.int64)


def _add_native(
    systems: dict[str, _System], x: Matrix, ns: Any, gran: Any, k: int, truth: Any
) -> None:
    def build() -> NativeIndex:
        ix = NativeIndex(x.shape[1], storage="int8")
        ix.add(
            [str(i) for i in range(len(x))],
            x,
            namespace=[f"ns{v}" for v in ns],
            granularity=["fact" if g else "turn" for g in gran],
        )
        return ix

    ix, extra = _timed_build(build)
    extra["note"] = "one index holds both the f32 rows and their int8 codes"
    by_ns, by_gran = IndexFilter(namespace="ns0"), IndexFilter(granularities=frozenset({"fact"}))
    systems["native_f32"] = _System(
        lambda q: ix.search(q, k, exact=True), _native_rows, truth["all"], extra
    )
    systems["native_int8"] = _System(lambda q: ix.search(q, k), _native_rows, truth["all"], extra)
    systems["native_int8_filtered10"] = _System(
        lambda q: ix.search(q, k, by_ns), _native_rows, truth["ns"]
    )
    systems["native_int8_filtered10_scattered"] = _System(
        lambda q: ix.search(q, k, by_gran), _native_rows, truth["gran"]
    )


def _capped(n: int, cap: int, what: str) -> dict[str, Any]:
    if n <= cap:
        return {}
    return {"n": cap, "note": f"holds the first {cap} rows only ({what} {n} takes too long)"}


def _add_faiss(
    systems: dict[str, _System], x: Matrix, queries: Matrix, k: int, truth: list[set[int]]
) -> None:
    try:
        import faiss  # type: ignore[import-untyped]
    except ImportError:
        note = {"skipped": "faiss-cpu is not installed: pip install '.[bench]'"}
        for name in ("faiss_flat", "faiss_hnsw"):
            systems[name] = _System(lambda q: None, lambda h: np.zeros(0, np.int64), truth, note)
        return

    def flat_index() -> Any:
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        return flat

    n_hnsw = min(len(x), HNSW_CAP)

    def hnsw_index() -> Any:
        hnsw = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.add(x[:n_hnsw])
        hnsw.hnsw.efSearch = 64
        return hnsw

    def faiss_rows(hits: Any) -> Rows:
        return np.asarray(hits[1][0], dtype=np.int64)

    flat, flat_extra = _timed_build(flat_index)
    hnsw, hnsw_extra = _timed_build(hnsw_index)
    hnsw_extra |= _capped(len(x), HNSW_CAP, "building a graph of")
    hnsw_truth = truth if n_hnsw == len(x) else _exact(x[:n_hnsw], queries, k)
    systems["faiss_flat"] = _System(
        lambda q: flat.search(q[None, :], k), faiss_rows, truth, flat_extra
    )
    systems["faiss_hnsw"] = _System(
        lambda q: hnsw.search(q[None, :], k), faiss_rows, hnsw_truth, hnsw_extra
    )


def _add_chroma(
    systems: dict[str, _System], x: Matrix, queries: Matrix, k: int, folder: str
) -> None:
    import chromadb

    n = min(len(x), CHROMA_CAP)

    def build() -> Any:
        client = chromadb.PersistentClient(path=folder)
        collection = client.create_collection(
            "vector_bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        batch = client.get_max_batch_size()
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            collection.add(ids=[str(i) for i in range(start, stop)], embeddings=x[start:stop])
        return collection

    collection, extra = _timed_build(build)
    extra = {"n": n, "insert_s": extra["build_s"], **extra}
    extra |= _capped(len(x), CHROMA_CAP, "inserting")
    extra["disk_mb"] = round(sum(f.stat().st_size for f in Path(folder).rglob("*")) / 2**20, 1)
    systems["chroma"] = _System(
        lambda q: collection.query(query_embeddings=q[None, :], n_results=k, include=[]),
        lambda hits: np.array([int(i) for i in hits["ids"][0]], dtype=np.int64),
        _exact(x[:n], queries, k),
        extra,
    )


def _measure(systems: dict[str, _System], queries: Matrix) -> None:
    """Times every system on every query after a few untimed warm-up queries.

    Systems take turns in blocks of ``BLOCK`` queries, so that load from other processes falls on
    all of them alike, and rest ``REST`` seconds after each block, so that the threads a library
    leaves spinning after its calls (OpenBLAS, OpenMP, rayon) do not slow the next one down.
    """
    for q in queries[:WARMUP]:
        for s in systems.values():
            s.run(q)
    timed = queries[WARMUP:]
    for start in range(0, len(timed), BLOCK):
        for s in systems.values():
            if "skipped" in s.extra:
                continue
            time.sleep(REST)
            for qi in range(start, min(start + BLOCK, len(timed))):
                t = time.perf_counter()
                hits = s.run(timed[qi])
                s.times.append(time.perf_counter() - t)
                got = set(s.rows(hits).tolist())
                s.recalls.append(len(got & s.truth[qi]) / max(len(s.truth[qi]), 1))


def _summary(s: _System) -> dict[str, Any]:
    if not s.times:
        return dict(s.extra)
    p50, p95 = np.percentile(np.array(s.times) * 1e3, [50, 95])
    return {
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "recall": round(float(np.mean(s.recalls)), 4),
        **s.extra,
    }


def run_vector_bench(
    n: int = 100_000,
    dim: int = 384,
    k: int = 10,
    queries: int = 200,
    json_out: bool = False,
    dist: str = "clustered",
) -> dict[str, Any]:
    """Runs the benchmark, prints a table (and with ``json_out`` one JSON line last)."""
    if n < 10 * k or dim < 1 or k < 1 or queries < 1:
        raise InvalidInputError(f"need n >= 10*k, dim >= 1, k >= 1, queries >= 1 (n={n}, k={k})")
    if dist not in DISTRIBUTIONS:
        raise InvalidInputError(f"unknown dist {dist!r}: use one of {', '.join(DISTRIBUTIONS)}")
    console = Console() if sys.stdout.isatty() else Console(width=130)  # whole names in logs
    load_start = _load()
    console.print(f"load average at start (1, 5, 15 min): {load_start}")
    rng = np.random.default_rng(20240611)
    with console.status("generating data and exact answers"):
        x, q = _data(dist, rng, n, dim, queries + WARMUP)
        q_timed = q[WARMUP:]
        ns = rng.integers(0, NAMESPACES, n).astype(np.int8)
        gran = rng.random(n) < 1 / NAMESPACES
        truth = {
            "all": _exact(x, q_timed, k),
            "ns": _exact(x, q_timed, k, np.flatnonzero(ns == 0)),
            "gran": _exact(x, q_timed, k, np.flatnonzero(gran)),
        }
    matrix = {"build_s": 0.0, "mem_mb": round(x.nbytes / 2**20, 1)}
    systems = {"numpy_f32": _System(_numpy_search(x, k), lambda r: r, truth["all"], matrix)}
    with tempfile.TemporaryDirectory(prefix="vector-bench-") as folder:
        with console.status("building the native index"):
            if NATIVE_AVAILABLE:
                _add_native(systems, x, ns, gran, k, truth)
        with console.status(f"building faiss flat and HNSW (M=32) of {min(n, HNSW_CAP)} rows"):
            _add_faiss(systems, x, q_timed, k, truth["all"])
        with console.status(f"inserting {min(n, CHROMA_CAP)} rows into Chroma"):
            _add_chroma(systems, x, q_timed, k, folder)
        systems["numpy_f32_filtered10"] = _System(
            _numpy_filtered(x, ns, k), lambda r: r, truth["ns"]
        )
        with console.status(f"timing {queries} queries on {len(systems)} systems"):
            _measure(systems, q)
    results = {name: _summary(s) for name, s in systems.items()}
    result: dict[str, Any] = {"n": n, "dim": dim, "k": k, "queries": queries, "dist": dist}
    result["results"] = results
    load_end = _load()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1m": load_end[0],
        "load_avg": {"start": load_start, "end": load_end},
        "native_isa": native_isa(),
    }
    result["ratios"] = _ratios(results)
    _print_table(console, result)
    if json_out:
        print(json.dumps(result))
    return result


def _ratios(r: dict[str, dict[str, Any]]) -> dict[str, float]:
    pairs = {
        "native_int8/numpy_f32": ("native_int8", "numpy_f32"),
        "native_f32/numpy_f32": ("native_f32", "numpy_f32"),
        "native_int8_filtered10/native_int8": ("native_int8_filtered10", "native_int8"),
        "native_int8_filtered10_scattered/native_int8": (
            "native_int8_filtered10_scattered",
            "native_int8",
        ),
        "numpy_f32_filtered10/numpy_f32": ("numpy_f32_filtered10", "numpy_f32"),
    }
    return {
        name: round(r[a]["p50_ms"] / r[b]["p50_ms"], 3)
        for name, (a, b) in pairs.items()
        if "p50_ms" in r.get(a, {}) and "p50_ms" in r.get(b, {})
    }


def _print_table(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"top-{result['k']} of {result['n']} x {result['dim']} {result['dist']} unit "
        f"vectors, {result['queries']} single queries"
    )
    columns = ("system", "p50 ms", "p95 ms", f"recall@{result['k']}", "build s", "mem MB", "note")
    for col in columns:
        table.add_column(col, justify="left" if col in ("system", "note") else "right")
    for name, r in result["results"].items():
        cells = [f"{r[c]:.3f}" if c in r else "-" for c in ("p50_ms", "p95_ms", "recall")]
        cells += [str(r.get(c, "-")) for c in ("build_s", "mem_mb")]
        table.add_row(name, *cells, r.get("note", r.get("skipped", "")))
    console.print(table)
    console.print("ratios of p50: " + ", ".join(f"{k} {v}" for k, v in result["ratios"].items()))
    load = result["machine"]["load_avg"]
    console.print(f"load average (1, 5, 15 min): start {load['start']}, end {load['end']}")
