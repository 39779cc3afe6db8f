"""``app.py poisoning``: the attack and legitimate-update sets, with a table or one JSON line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["run_poisoning_cli", "show_summary"]

EMBEDDER = typer.Option("minilm", help="minilm (the real embedder) or fake (hashing).")
LIMIT = typer.Option(None, min=1, help="Only the first N cases of each category.")
DATA_DIR = typer.Option(
    None, "--data-dir", help="Keep the stores here (default: a temporary folder)."
)
JSON = typer.Option(False, "--json", help="End with one JSON line of figures.")
NUMERIC = ("cases", "succeeded", "rate")


def run_poisoning_cli(
    embedder: str = EMBEDDER,
    limit: int | None = LIMIT,
    data_dir: Path | None = DATA_DIR,
    json_out: bool = JSON,
) -> None:
    """Memory poisoning: attacks that should fail and legitimate updates that should apply."""
    from evals.poisoning.run import run_poisoning

    console = Console(stderr=True)
    with console.status("playing cases…") as status:
        done = [0]

        def tick(outcome: Any) -> None:
            done[0] += 1
            status.update(f"playing cases… {done[0]} done ({outcome.case_id})")

        summary = run_poisoning(embedder=embedder, limit=limit, data_dir=data_dir, on_case=tick)
    if json_out:
        print(json.dumps(summary, sort_keys=True))
    else:
        show_summary(summary, Console())
    if not summary["met"]:
        raise typer.Exit(1)


def show_summary(summary: dict[str, Any], console: Console) -> None:
    """The per-category table and the two headline rates beside their targets."""
    table = Table(title=f"Memory poisoning (deterministic, {summary['embedder']} embedder)")
    for column in ("set", "category", *NUMERIC):
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    for kind, key in (("attack", "attacks_by_category"), ("legitimate", "legitimate_by_category")):
        for name, row in summary[key].items():
            cells = (str(row["cases"]), str(row["succeeded"]), f"{row['rate']:.1%}")
            table.add_row(kind, name, *cells)
    console.print(table)
    targets = summary["targets"]
    console.print(
        f"attack success rate {summary['attack_success_rate']:.1%} "
        f"(target ≤ {targets['attack_success_rate_max']:.0%}) over {summary['attack_cases']} "
        f"attacks; legitimate updates applied {summary['legitimate_update_rate']:.1%} "
        f"(target ≥ {targets['legitimate_update_rate_min']:.0%}) over "
        f"{summary['legitimate_cases']} updates"
    )
    for label, key in (
        ("successful attacks", "successful_attacks"),
        ("missed updates", "missed_updates"),
        ("invalid cases", "invalid_cases"),
    ):
        if summary[key]:
            console.print(f"{label}: {', '.join(summary[key])}")
