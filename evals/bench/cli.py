"""The ``app.py bench`` commands: each runs one benchmark and may end with one JSON line."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures side by side.")
_JSON = typer.Option(False, "--json", help="End with one JSON object.")
_KEYS = typer.Option(None, help="A file of 'key user' lines (plain keys) if the service has keys.")


@app.command("vector")
def bench_vector(
    n: int = typer.Option(100_000, help="Number of vectors."),
    dim: int = typer.Option(384, help="Dimension."),
    k: int = typer.Option(10, help="Top-k."),
    queries: int = typer.Option(200, help="Number of queries."),
    dist: str = typer.Option("clustered", help="Rows: 'clustered' (a mixture) or 'uniform'."),
    json_out: bool = _JSON,
) -> None:
    """Native core vs NumPy, faiss and Chroma on the same random unit vectors."""
    from evals.bench.vector import run_vector_bench

    run_vector_bench(n=n, dim=dim, k=k, queries=queries, json_out=json_out, dist=dist)


@app.command("graph")
def bench_graph(
    questions: int = typer.Option(200, help="LoCoMo questions to ask."),
    data: str | None = typer.Option(None, help="A LoCoMo file (default: ../shared/data)."),
    one_namespace: bool = typer.Option(False, help="Every conversation in one namespace."),
    json_out: bool = _JSON,
) -> None:
    """The agents end to end: turns/s written, recall latency alone and right after a write."""
    from evals.bench.graph import run_graph_bench

    path = Path(data) if data else None
    run_graph_bench(json_out, data=path, questions=questions, one_namespace=one_namespace)


@app.command("load")
def bench_load(
    url: str = typer.Option(..., help="The service, on 127.0.0.1, localhost or [::1]."),
    clients: int = typer.Option(32, help="Concurrent clients (at most 256)."),
    seconds: float = typer.Option(30.0, help="How long the clients run (at most 600)."),
    keys: Path | None = _KEYS,
    users: int = typer.Option(4, min=1, max=64, help="Users to spread the clients over (local)."),
    json_out: bool = _JSON,
) -> None:
    """Clients alternating remember and recall: requests/s, p50/p95, errors and lost writes."""
    from evals.bench.load import keyed_tenants, local_tenants, read_keys, run_load_bench

    tenants = keyed_tenants(read_keys(keys)) if keys else local_tenants(users)
    run_load_bench(url, clients, seconds, tenants, json_out)


@app.command("store")
def bench_store(
    n: int = typer.Option(10_000, help="Number of units to write."), json_out: bool = _JSON
) -> None:
    """Write throughput, query latency and embedding throughput of the memory store."""
    from evals.bench.store import run_store_bench

    run_store_bench(n=n, json_out=json_out)


@app.command("viewer")
def bench_viewer(
    candidates: int = typer.Option(200, help="Explained candidates per retrieval pass."),
    passes: int = typer.Option(1, help="Retrieval passes (steps) in the run."),
    repeat: int = typer.Option(10, help="Timed page loads."),
    json_out: bool = _JSON,
) -> None:
    """The trace viewer's page of one large read run: how long it takes to render."""
    from evals.bench.viewer import run_viewer_bench

    run_viewer_bench(candidates=candidates, passes=passes, repeat=repeat, json_out=json_out)
