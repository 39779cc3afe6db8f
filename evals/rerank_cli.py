"""``app.py train-reranker``: fit the learned re-ranker on a LoCoMo file and report how it does on
conversations left out of its training (:mod:`evals.rerank_training`)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.recipes import get_recipe
from evals.cli import resolve_data
from evals.loaders import load_dataset
from evals.rerank_training import BUDGETS, CATEGORIES, collect, fit, held_out

__all__ = ["train_reranker_command"]


_DATA = typer.Option(..., "--data", help="A LoCoMo file.")
_OUT = typer.Option(..., "--out", help="Where to write the model (JSON).")
_WORK = typer.Option(
    Path("eval-out"), "--work", help="Work folder of ingests (app.py eval's --out)."
)
_L2 = typer.Option(100.0, "--l2", min=0.0, help="L2 penalty on the weights.")
_HEAD = typer.Option(
    get_recipe("full").rerank_head,
    "--head",
    min=1,
    help="Units the re-ranker moves to the front (default: the full recipe's).",
)


def train_reranker_command(
    data: str = _DATA, out: Path = _OUT, work: Path = _WORK, l2: float = _L2, head: int = _HEAD
) -> None:
    """Fit the re-ranker on every conversation of --data; first, per conversation, rank its
    questions with a model fitted on the others. Ends with one JSON line of those figures."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    console = Console(stderr=True)
    dataset = load_dataset("locomo", resolve_data("locomo", data, work))
    total = sum(1 for q in dataset.questions if q.category in CATEGORIES and q.evidence)
    with Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("questions", total=total)
        rows = collect(dataset, work, lambda n: bar.advance(task, n))
    full = get_recipe("full")
    figures = held_out(rows, l2, head, token_cost=full.token_cost, lead=full.rerank_lead)
    trained_on = f"{Path(data).name}: {len(rows)} questions, l2 {l2:g}"
    fit(rows, l2, trained_on).save(out)
    console.print(_table(figures))
    console.print(f"wrote {out}")
    seconds = round(time.perf_counter() - started, 1)
    typer.echo(json.dumps({"held_out": figures, "questions": len(rows), "seconds": seconds}))


def _table(figures: dict[str, dict[str, dict[str, float]]]) -> Table:
    metrics = ["mrr", *(f"recall@{b}" for b in BUDGETS)]
    table = Table(title="Held out (each conversation ranked by a model fitted on the others)")
    table.add_column("category")
    for m in metrics:
        table.add_column(f"{m} before → after", justify="right")
    for category, before in figures["before"].items():
        after = figures["after"][category]
        table.add_row(category, *(f"{before[m]:.3f} → {after[m]:.3f}" for m in metrics))
    return table
