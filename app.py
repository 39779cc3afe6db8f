"""Hypermnesia command line: ingest, recall, chat, forget, history, traces, demo, bench, eval."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures side by side.")
app.add_typer(bench_app, name="bench")


@bench_app.command("vector")
def bench_vector(
    n: int = typer.Option(100_000, help="Number of vectors."),
    dim: int = typer.Option(384, help="Dimension."),
    k: int = typer.Option(10, help="Top-k."),
    queries: int = typer.Option(200, help="Number of queries."),
    json_out: bool = typer.Option(False, "--json", help="End with one JSON object."),
) -> None:
    """Native core vs NumPy, faiss and Chroma on the same random unit vectors."""
    from evals.bench.vector import run_vector_bench

    run_vector_bench(n=n, dim=dim, k=k, queries=queries, json_out=json_out)


@bench_app.command("store")
def bench_store(
    n: int = typer.Option(10_000, help="Number of units to write."),
    json_out: bool = typer.Option(False, "--json", help="End with one JSON object."),
) -> None:
    """Write throughput, query latency and embedding throughput of the memory store."""
    from evals.bench.store import run_store_bench

    run_store_bench(n=n, json_out=json_out)


@app.command("eval")
def eval_command(
    data: str = typer.Option(..., help="A benchmark file, a URL, or 'download' (public LoCoMo)."),
    dataset: str = typer.Option("locomo", help="locomo or longmemeval."),
    out: str = typer.Option("eval-out", help="Output folder (results, report, plots, work)."),
    systems: str = typer.Option(
        "hypermnesia,full_context,bm25,dense,hybrid", help="Comma-separated systems to compare."
    ),
    workers: int = typer.Option(2, help="Worker processes (one conversation per task)."),
    fresh: bool = typer.Option(False, "--fresh", help="Ingest again instead of reusing work."),
    budgets: str = typer.Option("250,500,1000,2000", help="Comma-separated token budgets."),
    limit_conversations: int | None = typer.Option(None, help="Only the first N conversations."),
    seed: int = typer.Option(0, help="Seed of every random choice."),
) -> None:
    """Evaluate Hypermnesia beside the baselines; write results.json, report.md and plots."""
    from evals.cli import cli_eval

    cli_eval(dataset, data, out, systems, workers, fresh, budgets, limit_conversations, seed)


if __name__ == "__main__":
    app()
