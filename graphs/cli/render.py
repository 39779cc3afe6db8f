"""Tables of evidence, units, histories and store counts, and the consoles they print to.

Every renderer escapes stored text before it reaches rich, so a memory that contains ``[red]`` is
shown as written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from graphs import Hypermnesia, RecallResult
    from memory.model import MemoryUnit, Namespace
    from memory.store import HistoryEvent, StoreStats

__all__ = [
    "day",
    "err",
    "evidence_table",
    "history_ids",
    "history_of",
    "out",
    "print_history",
    "print_json",
    "recall_summary",
    "shorten",
    "show_history",
    "show_recall",
    "stats_table",
    "summary",
    "units_table",
    "warn_fallbacks",
    "when",
]

out = Console()
err = Console(stderr=True)


def warn_fallbacks(where: str, fallbacks: Sequence[str]) -> None:
    """One yellow line on stderr when LLM steps fell back to the deterministic agents: how many,
    and their distinct reasons (the trace has each in full)."""
    if not fallbacks:
        return
    reasons = "; ".join(shorten(r, 160) for r in dict.fromkeys(fallbacks))
    err.print(
        f"[yellow]warning:[/] {escape(where)}: {len(fallbacks)} LLM step(s) fell back to the "
        f"deterministic agent: {escape(reasons)}",
        soft_wrap=True,
    )


def print_json(value: Any) -> None:
    """Indented JSON on stdout, unstyled, so it pipes into other tools."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def day(value: datetime | None) -> str:
    return value.date().isoformat() if value is not None else ""


def when(value: datetime | None, *, seconds: bool = True) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def shorten(text: str, limit: int = 70) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(value: dict[str, Any] | None, limit: int = 60) -> str:
    """A mapping as ``key=value, …`` on one line."""
    if not value:
        return ""
    return shorten(", ".join(f"{k}={v}" for k, v in value.items()), limit)


# -- recall --------------------------------------------------------------------------------------


def evidence_table(
    result: RecallResult, title: str | None = None, limit: int | None = None
) -> Table:
    """Score, granularity, source, date, text and unit id of each piece of evidence."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("granularity")
    table.add_column("source", style="magenta", overflow="fold", max_width=13)
    table.add_column("date", no_wrap=True)
    table.add_column("text", ratio=1)
    table.add_column("unit id", style="cyan", overflow="fold", max_width=17)
    shown = result.evidence if limit is None else result.evidence[:limit]
    for n, e in enumerate(shown, start=1):
        text = escape(e.text) if e.current else f"[dim]{escape(e.text)} (superseded)[/]"
        table.add_row(
            str(n), f"{e.score:.3f}", e.granularity, e.source, day(e.event_time), text, e.unit_id
        )
    if len(shown) < len(result.evidence):
        more = len(result.evidence) - len(shown)
        table.add_row("", "", "", "", "", f"[dim]… {more} more (python app.py recall)[/]", "")
    if not result.evidence:
        table.add_row("", "", "", "", "", "[dim]no evidence found[/]", "")
    return table


def recall_summary(result: RecallResult, budget: int) -> str:
    """The verdict, iterations, token use, router weights, latency and run id on one line."""
    colour = {"sufficient": "green", "conflict": "yellow"}.get(result.verdict, "red")
    route = ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(result.route.items(), key=lambda kv: -kv[1])
    )
    parts = [
        f"verdict [bold {colour}]{result.verdict}[/]",
        f"iterations {result.iterations}",
        f"tokens {result.tokens}/{budget}",
        f"route {route or '-'}",
        f"{result.latency_ms:.0f} ms",
        f"run [cyan]{result.run_id}[/]",
    ]
    if result.final_query != result.question:
        parts.insert(2, f"final query {escape(repr(result.final_query))}")
    return " · ".join(parts)


def show_recall(result: RecallResult, budget: int, *, json_out: bool) -> None:
    warn_fallbacks(f"recall {result.run_id}", result.fallbacks)
    if json_out:
        print_json(result.model_dump(mode="json"))
        return
    out.print(evidence_table(result, title=f"Evidence for {result.question!r}"))
    out.print(recall_summary(result, budget))


# -- units and their history ---------------------------------------------------------------------


def units_table(units: Sequence[MemoryUnit], title: str) -> Table:
    """Id, granularity, text and validity of each unit; closed units are marked."""
    table = Table(title=title, title_justify="left")
    table.add_column("unit id", style="cyan", overflow="fold", max_width=17)
    table.add_column("granularity")
    table.add_column("text", ratio=1)
    table.add_column("valid from")
    table.add_column("valid to")
    table.add_column("superseded by", style="cyan", overflow="fold", max_width=17)
    for u in units:
        status = "" if u.is_current else "[dim](closed)[/] "
        table.add_row(
            u.id,
            u.granularity.value,
            status + escape(u.text),
            when(u.valid_from, seconds=False),
            when(u.valid_to, seconds=False),
            u.superseded_by or "",
        )
    return table


def history_ids(unit_id: str, events: Sequence[HistoryEvent]) -> list[str]:
    """The unit and the units linked to it by its events; a ``put`` lists its whole write batch,
    so only the units it shares with the other events count."""
    linked = [i for e in events if e.op != "put" for i in e.unit_ids]
    return list(dict.fromkeys([unit_id, *linked]))


def history_of(
    hm: Hypermnesia, ns: Namespace, unit_id: str
) -> tuple[list[HistoryEvent], list[MemoryUnit]]:
    """A unit's history events and the stored units they involve."""
    events = hm.history(ns, unit_id)
    return events, hm.store.get(ns, history_ids(unit_id, events))


def print_history(
    unit_id: str, events: Sequence[HistoryEvent], units: Sequence[MemoryUnit]
) -> None:
    """The events of a unit, then the units involved, then the ids no longer stored."""
    relevant = set(history_ids(unit_id, events))
    table = Table(title=f"History of {unit_id}", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("op", style="bold")
    table.add_column("reason", ratio=1)
    table.add_column("units", style="cyan", no_wrap=True)
    for e in events:
        shown = [i for i in e.unit_ids if i in relevant]
        others = len(e.unit_ids) - len(shown)
        ids = "\n".join(shown) + (f"\n[dim]+{others} more in the batch[/]" if others else "")
        table.add_row(when(e.at), e.op, escape(e.reason or ""), ids)
    out.print(table)
    out.print(units_table(units, "Units involved"))
    stored = {u.id for u in units}
    gone = [i for i in history_ids(unit_id, events) if i not in stored]
    if gone:
        out.print(f"[dim]no longer stored (deleted): {', '.join(gone)}[/]")


def show_history(
    unit_id: str, events: Sequence[HistoryEvent], units: Sequence[MemoryUnit], *, json_out: bool
) -> None:
    if json_out:
        print_json(
            {
                "events": [e.model_dump(mode="json") for e in events],
                "units": [u.model_dump(mode="json") for u in units],
            }
        )
        return
    print_history(unit_id, events, units)


def stats_table(stats: StoreStats, seconds: float, ingest_seconds: float) -> Table:
    """The store's counts beside the time spent ingesting and in all."""
    table = Table(title="Store", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("turns", str(stats.turns))
    by_gran = ", ".join(f"{k} {v}" for k, v in sorted(stats.units_by_granularity.items()))
    table.add_row("units", f"{stats.units} ({by_gran})")
    table.add_row("current units", str(stats.current_units))
    table.add_row("hypergraph", f"{stats.vertices} vertices, {stats.hyperedges} hyperedges")
    table.add_row("ingest time", f"{ingest_seconds:.2f} s")
    table.add_row("wall time", f"{seconds:.2f} s")
    return table
