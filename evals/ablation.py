"""Ablation: Hypermnesia's recall with each retrieval mechanism switched off or on, one at a time.

Recipes change only the read path, so every recipe reuses one ingest per conversation (the
runner's resumable work folder); each recipe then answers every question through the same runner
and metrics as ``app.py eval``. Besides recall per category, each row gives the share of the gold
answers' words found in the packed text (overall): recall credits a unit with its source turns,
so a unit without any (a persona) can only cost recall, while the words it shows a reader count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.recipes import RECIPES, get_recipe
from evals.cli import resolve_data
from evals.loaders import load_dataset
from evals.report import summarize
from evals.runner import RunConfig, run
from evals.systems import system_spec

__all__ = ["ABLATIONS", "run_ablation"]

ABLATIONS: tuple[str, ...] = tuple(name for name in RECIPES if name.startswith(("no-", "with-")))
"""Every recipe that switches one mechanism of ``full`` off (``no-*``) or on (``with-*``)."""

_CATEGORIES = ("overall", "multi-hop", "temporal", "open-domain", "single-hop")


def run_ablation(
    dataset: str,
    data: str | Path,
    out: Path,
    recipes: Sequence[str] = ("full", *ABLATIONS),
    budget: int = 1000,
    workers: int = 2,
    limit_conversations: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Recall at ``budget`` per category for each recipe; writes ``ablation.json`` and ``.md``."""
    console = console or Console(stderr=True)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name in recipes:
        get_recipe(name)  # an unknown recipe fails before any work
    out = Path(out)
    loaded = load_dataset(dataset, resolve_data(dataset, str(data), out)).limited(
        limit_conversations
    )
    rows: dict[str, dict[str, Any]] = {}
    for name in recipes:
        console.print(f"recipe [bold]{name}[/bold] …")
        spec = system_spec("hypermnesia", seed=0, cache_dir=out / "cache", recipe=name)
        config = RunConfig(out=out, systems=(spec,), budgets=(budget,), workers=workers)
        summary = summarize(loaded, run(loaded, config), config)["systems"]["hypermnesia"]
        recall = summary["recall"][str(budget)]
        rows[name] = {
            "recall": {c: recall.get(c) for c in _CATEGORIES},
            "words": summary["answer_words"][str(budget)].get("overall"),
            "latency_ms": summary["latency_ms"],
        }
    result = {
        "dataset": dataset,
        "budget": budget,
        "questions": len(loaded.questions),
        "recipes": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "ablation.md").write_text(_markdown(result), encoding="utf-8")
    Console(width=130).print(_table(result))
    return result


def _cells(row: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """Recall per category, then words found; each with its change from ``base`` if given."""
    values = [row["recall"][c] for c in _CATEGORIES] + [row.get("words")]
    bases = [None] * len(values) if base is None else [base["recall"][c] for c in _CATEGORIES]
    if base is not None:
        bases.append(base.get("words"))
    cells = []
    for value, was in zip(values, bases, strict=True):
        text = "–" if value is None else f"{value:.3f}"
        if value is not None and was is not None:
            text += f" ({value - was:+.3f})"
        cells.append(text)
    return cells


def _table(result: dict[str, Any]) -> Table:
    table = Table(title=f"recall@{result['budget']} with one mechanism off or on (Δ vs full)")
    for header in ("recipe", *_CATEGORIES, "words found", "p95 ms"):
        table.add_column(header, justify="left" if header == "recipe" else "right")
    base = result["recipes"].get("full")
    for name, row in result["recipes"].items():
        p95 = row["latency_ms"].get("p95")
        cells = _cells(row, None if name == "full" else base)
        table.add_row(name, *cells, "–" if p95 is None else f"{p95:.1f}")
    return table


def _markdown(result: dict[str, Any]) -> str:
    base = result["recipes"].get("full")
    lines = [
        f"# Ablation: recall@{result['budget']} tokens, {result['questions']} questions",
        "",
        "| recipe | " + " | ".join(_CATEGORIES) + " | words found | p95 ms |",
        "|---" * (len(_CATEGORIES) + 3) + "|",
    ]
    for name, row in result["recipes"].items():
        p95 = row["latency_ms"].get("p95")
        cells = _cells(row, None if name == "full" else base)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {p95 if p95 is not None else '–'} |")
    return "\n".join(lines) + "\n"
