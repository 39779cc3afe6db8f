"""Vector search benchmark: the native core against NumPy, faiss and Chroma on the same data.

One run builds every system on the same random unit vectors (``n`` x ``dim`` float32, rows spread
over ten namespaces and two granularities) and times the same queries on each, one query at a
time, the systems taking turns in blocks of ten queries so that load from other processes falls
on all of them alike.
Recall@k is measured against the exact top-k (a full NumPy sort).

Systems: NumPy f32 (matvec + argpartition); the native index scanning f32, and scanning int8 then
reranking its candidate pool in f32; faiss ``IndexFlatIP`` and ``IndexHNSWFlat`` (M=32,
efSearch=64; faiss-cpu is the ``bench`` extra); a Chroma collection (embedded, persistent, cosine
HNSW) -- inserting into Chroma is slow, so above ``CHROMA_CAP`` rows it holds only the first
``CHROMA_CAP`` and its entry says so. Filtered runs keep 10% of the rows: one namespace of ten
(rows the index groups together when they arrive in one batch) and, for the native index, one
granularity drawn at random per row (rows scattered over the whole index).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from memory.errors import InvalidInputError
from memory.native_index import NATIVE_AVAILABLE, IndexFilter, NativeIndex, native_isa

__all__ = ["CHROMA_CAP", "run_vector_bench"]

CHROMA_CAP = 100_000
NAMESPACES = 10
WARMUP = 3
BLOCK = 10
Rows = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


@dataclass
class _System:
    """A timed search: ``run(query)`` returns raw hits, ``rows(hits)`` their row numbers."""

    run: Callable[[Matrix], Any]
    rows: Callable[[Any], Rows]
    truth: list[set[int]]
    extra: dict[str, Any] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> Matrix:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _exact(x: Matrix, queries: Matrix, k: int, rows: Rows | None = None) -> list[set[int]]:
    """The exact top-k row numbers of each query (within ``rows`` when given)."""
    sub = x if rows is None else x[rows]
    out = []
    for start in range(0, len(queries), 16):
        scores = queries[start : start + 16] @ sub.T
        best = np.argsort(-scores, axis=1)[:, :k]
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
    t = time.perf_counter()
    ix = NativeIndex(x.shape[1], storage="int8")
    ix.add(
        [str(i) for i in range(len(x))],
        x,
        namespace=[f"ns{v}" for v in ns],
        granularity=["fact" if g else "turn" for g in gran],
    )
    build = {"build_s": round(time.perf_counter() - t, 2)}
    by_ns, by_gran = IndexFilter(namespace="ns0"), IndexFilter(granularities=frozenset({"fact"}))
    systems["native_f32"] = _System(
        lambda q: ix.search(q, k, exact=True), _native_rows, truth["all"], build
    )
    systems["native_int8"] = _System(lambda q: ix.search(q, k), _native_rows, truth["all"], build)
    systems["native_int8_filtered10"] = _System(
        lambda q: ix.search(q, k, by_ns), _native_rows, truth["ns"]
    )
    systems["native_int8_filtered10_scattered"] = _System(
        lambda q: ix.search(q, k, by_gran), _native_rows, truth["gran"]
    )


def _add_faiss(systems: dict[str, _System], x: Matrix, k: int, truth: list[set[int]]) -> None:
    try:
        import faiss  # type: ignore[import-untyped]
    except ImportError:
        note = {"skipped": "faiss-cpu is not installed: pip install '.[bench]'"}
        systems["faiss_flat"] = _System(
            lambda q: None, lambda h: np.zeros(0, np.int64), truth, note
        )
        systems["faiss_hnsw"] = _System(
            lambda q: None, lambda h: np.zeros(0, np.int64), truth, note
        )
        return
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(x)
    hnsw.hnsw.efSearch = 64
    build = {"build_s": round(time.perf_counter() - t, 2)}

    def faiss_rows(hits: Any) -> Rows:
        return np.asarray(hits[1][0], dtype=np.int64)

    systems["faiss_flat"] = _System(lambda q: flat.search(q[None, :], k), faiss_rows, truth)
    systems["faiss_hnsw"] = _System(lambda q: hnsw.search(q[None, :], k), faiss_rows, truth, build)


def _add_chroma(
    systems: dict[str, _System], x: Matrix, queries: Matrix, k: int, folder: str
) -> None:
    import chromadb

    n = min(len(x), CHROMA_CAP)
    client = chromadb.PersistentClient(path=folder)
    collection = client.create_collection(
        "vector_bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    t = time.perf_counter()
    batch = client.get_max_batch_size()
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        collection.add(ids=[str(i) for i in range(start, stop)], embeddings=x[start:stop])
    extra: dict[str, Any] = {"n": n, "insert_s": round(time.perf_counter() - t, 2)}
    if n < len(x):
        extra["note"] = f"holds the first {n} rows only (inserting {len(x)} takes too long)"
    systems["chroma"] = _System(
        lambda q: collection.query(query_embeddings=q[None, :], n_results=k, include=[]),
        lambda hits: np.array([int(i) for i in hits["ids"][0]], dtype=np.int64),
        _exact(x[:n], queries, k),
        extra,
    )


def _measure(systems: dict[str, _System], queries: Matrix) -> None:
    """Times every system on every query after a few untimed warm-up queries.

    Systems take turns in blocks of ``BLOCK`` queries: load from other processes falls on all of
    them alike, while the worker threads one library leaves spinning after a query (OpenMP,
    rayon) rarely slow down the next library's query.
    """
    for q in queries[:WARMUP]:
        for s in systems.values():
            s.run(q)
    timed = queries[WARMUP:]
    for start in range(0, len(timed), BLOCK):
        for s in systems.values():
            if "skipped" in s.extra:
                continue
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
    n: int = 100_000, dim: int = 384, k: int = 10, queries: int = 200, json_out: bool = False
) -> dict[str, Any]:
    """Runs the benchmark, prints a table (and with ``json_out`` one JSON line last)."""
    if n < 10 * k or dim < 1 or k < 1 or queries < 1:
        raise InvalidInputError(f"need n >= 10*k, dim >= 1, k >= 1, queries >= 1 (n={n}, k={k})")
    console = Console() if sys.stdout.isatty() else Console(width=130)  # whole names in logs
    rng = np.random.default_rng(20240611)
    with console.status("generating data and exact answers"):
        x = _unit_rows(rng, n, dim)
        q = _unit_rows(rng, queries + WARMUP, dim)
        q_timed = q[WARMUP:]
        ns = rng.integers(0, NAMESPACES, n).astype(np.int8)
        gran = rng.random(n) < 1 / NAMESPACES
        truth = {
            "all": _exact(x, q_timed, k),
            "ns": _exact(x, q_timed, k, np.flatnonzero(ns == 0)),
            "gran": _exact(x, q_timed, k, np.flatnonzero(gran)),
        }
    systems: dict[str, _System] = {
        "numpy_f32": _System(_numpy_search(x, k), lambda r: r, truth["all"]),
    }
    with tempfile.TemporaryDirectory(prefix="vector-bench-") as folder:
        with console.status("building the native index"):
            if NATIVE_AVAILABLE:
                _add_native(systems, x, ns, gran, k, truth)
        with console.status("building faiss flat and HNSW (M=32)"):
            _add_faiss(systems, x, k, truth["all"])
        with console.status(f"inserting {min(n, CHROMA_CAP)} rows into Chroma"):
            _add_chroma(systems, x, q_timed, k, folder)
        systems["numpy_f32_filtered10"] = _System(
            _numpy_filtered(x, ns, k), lambda r: r, truth["ns"]
        )
        with console.status(f"timing {queries} queries on {len(systems)} systems"):
            _measure({name: s for name, s in systems.items()}, q)
    results = {name: _summary(s) for name, s in systems.items()}
    result: dict[str, Any] = {"n": n, "dim": dim, "k": k, "queries": queries, "results": results}
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
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
        title=f"top-{result['k']} of {result['n']} x {result['dim']} unit vectors, "
        f"{result['queries']} single queries"
    )
    for col in ("system", "p50 ms", "p95 ms", f"recall@{result['k']}", "build s", "note"):
        table.add_column(col, justify="left" if col in ("system", "note") else "right")
    for name, r in result["results"].items():
        build = r.get("build_s", r.get("insert_s", ""))
        note = r.get("note", r.get("skipped", ""))
        cells = [f"{r[c]:.3f}" if c in r else "-" for c in ("p50_ms", "p95_ms", "recall")]
        table.add_row(name, *cells, str(build), note)
    console.print(table)
    console.print("ratios of p50: " + ", ".join(f"{k} {v}" for k, v in result["ratios"].items()))
