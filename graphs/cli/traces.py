"""The recorded graph runs as a table, one run as a tree of agent decisions, a recorded read
replayed with another recipe (``traces replay``) as a diff of the evidence, and runs sent to an
OpenTelemetry collector (``traces otel``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from graphs.cli import options as opt
from graphs.cli.engine import engine_for, namespace
from graphs.cli.render import out, print_json, shorten, summary, when

if TYPE_CHECKING:
    from graphs.replay import Replay
    from memory.model import MemoryUnit
    from memory.traces import TraceRun, TraceStep

__all__ = [
    "otel_command",
    "replay_command",
    "replay_table",
    "runs_table",
    "show_replay",
    "show_run",
    "show_runs",
    "trace_tree",
]


def runs_table(runs: Sequence[TraceRun]) -> Table:
    table = Table(title="Runs, most recent first", title_justify="left")
    table.add_column("run id", style="cyan", no_wrap=True)
    table.add_column("graph")
    table.add_column("namespace")
    table.add_column("started", no_wrap=True)
    table.add_column("status")
    table.add_column("input", ratio=1)
    for r in runs:
        status = r.status if r.status == "ok" else f"[yellow]{r.status}[/]"
        table.add_row(
            r.run_id, r.graph, r.namespace, when(r.started_at), status, escape(summary(r.input))
        )
    return table


def show_runs(runs: Sequence[TraceRun], *, json_out: bool) -> None:
    if json_out:
        print_json([r.model_dump(mode="json", exclude={"steps"}) for r in runs])
        return
    out.print(runs_table(runs))
    if not runs:
        out.print("[dim]no runs recorded yet[/]")


def _step_branch(tree: Tree, n: int, step: TraceStep) -> None:
    label = (
        f"[bold]{n}. {escape(step.agent)}[/] → [green]{escape(step.decision)}[/]: "
        f"{escape(step.reason)} [dim]({step.duration_ms:.0f} ms)[/]"
    )
    branch = tree.add(label)
    if step.fallback:
        branch.add(f"[bold red]FALLBACK to the deterministic step: {escape(step.fallback)}[/]")
    if step.inputs:
        branch.add(f"[dim]in: {escape(summary(step.inputs, 100))}[/]")
    if step.outputs:
        branch.add(f"[dim]out: {escape(summary(step.outputs, 100))}[/]")
    if step.retrieved:
        shown = ", ".join(f"{uid} ({score:.3f})" for uid, score in step.retrieved[:8])
        more = f" … +{len(step.retrieved) - 8} more" if len(step.retrieved) > 8 else ""
        branch.add(f"retrieved {len(step.retrieved)}: [cyan]{shown}[/]{more}")
    for call in step.llm_calls:
        tokens = f"{call.input_tokens or 0}+{call.output_tokens or 0} tokens"
        status = "[green]ok[/]" if call.ok else f"[bold red]failed: {escape(call.error or '')}[/]"
        cost = f" · ${call.cost_usd:.5f}" if call.cost_usd else ""
        branch.add(
            f"LLM [bold]{escape(call.prompt)}[/] on {escape(call.model)} · {status} · "
            f"{call.attempts} attempt(s) · {tokens} · {call.latency_ms:.0f} ms{cost}"
        )


def trace_tree(run: TraceRun) -> Tree:
    """The run's header, input, each step with its decision, retrieved ids and LLM calls, output."""
    took = ""
    if run.finished_at is not None:
        took = f" · {(run.finished_at - run.started_at).total_seconds() * 1000:.0f} ms"
    colour = "green" if run.status == "ok" else "yellow"
    tree = Tree(
        f"[bold cyan]{run.run_id}[/] · {run.graph} · {run.namespace} · {when(run.started_at)}"
        f" · [{colour}]{run.status}[/]{took}"
    )
    tree.add(f"[dim]input: {escape(summary(run.input, 120))}[/]")
    for n, step in enumerate(run.steps, start=1):
        _step_branch(tree, n, step)
    if run.output:
        tree.add(f"[dim]output: {escape(summary(run.output, 120))}[/]")
    return tree


def show_run(run: TraceRun, *, json_out: bool) -> None:
    if json_out:
        print_json(run.model_dump(mode="json"))
        return
    out.print(trace_tree(run))
    fallbacks = sum(1 for s in run.steps if s.fallback)
    if fallbacks:
        out.print(f"[bold red]{fallbacks} step(s) fell back to the deterministic agents.[/]")


_CHANGE_STYLE = {"added": "green", "dropped": "red", "moved": "yellow", "kept": "dim"}


def replay_table(replay: Replay, units: dict[str, MemoryUnit]) -> Table:
    """One row per unit of either list: the change, its rank before and after, its text now."""
    rec = replay.recorded
    table = Table(
        title=f"{rec.run_id} ({rec.recipe}) replayed with {replay.strategy.label} "
        f"as {replay.result.run_id}",
        title_justify="left",
    )
    for name in ("change", "before", "after", "unit"):
        table.add_column(name, no_wrap=True)
    table.add_column("text now", ratio=1)
    for row in replay.diff.rows:
        style = _CHANGE_STYLE[row.change]
        unit = units.get(row.unit_id)
        text = shorten(unit.text, 90) if unit is not None else "[dim](no longer stored)[/]"
        table.add_row(
            f"[{style}]{row.change}[/]",
            str(row.before or "–"),
            str(row.after or "–"),
            row.unit_id,
            escape(text) if unit is not None else text,
        )
    return table


def show_replay(replay: Replay, units: dict[str, MemoryUnit], *, json_out: bool) -> None:
    if json_out:
        print_json(replay.as_dict())
        return
    out.print(f"[bold]{escape(replay.recorded.question)}[/]")
    out.print(replay_table(replay, units))
    counts = ", ".join(f"{n} {c}" for c, n in replay.diff.counts().items())
    out.print("no change" if replay.diff.unchanged else counts)


def replay_command(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A read run id (from traces list or recall)."),
    recipe: str = typer.Option(..., "--recipe", "-r", help="The recipe to replay it with."),
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Run a recorded read again with another recipe against the store as it is now, and print
    the evidence added, dropped and moved."""
    from graphs.replay import ReadStrategy, replay

    strategy = ReadStrategy(recipe=recipe)
    with engine_for(ctx, data_dir) as hm:
        done = replay(hm, run_id, strategy)
        ids = [r.unit_id for r in done.diff.rows]
        units = {u.id: u for u in hm.store.get(done.recorded.namespace, ids)}
    show_replay(done, units, json_out=json_out)


def otel_command(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", "-u", help="Only runs of this user."),
    agent: str = opt.AGENT,
    limit: int = typer.Option(20, min=1, help="How many runs, most recent first."),
    endpoint: str | None = typer.Option(
        None,
        help="OTLP/gRPC collector, e.g. http://127.0.0.1:4317 "
        "(default: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317).",
    ),
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """Send the most recent runs, with their steps and LLM calls, to an OpenTelemetry collector."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    from graphs.otel import export_runs

    key = namespace(user, agent).key if user is not None else None
    with engine_for(ctx, data_dir) as hm:
        runs = [hm.traces.get(r.run_id) for r in hm.traces.list_runs(namespace=key, limit=limit)]
    sent = export_runs(runs, OTLPSpanExporter(endpoint=endpoint))
    out.print(f"{len(runs)} run(s) sent as {sent} span(s)")
