"""Hypermnesia command line: ingest, recall, chat, forget, history, traces, demo, bench, eval."""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from memory.errors import HypermnesiaError, InvalidInputError

if TYPE_CHECKING:
    from evals.conversation_files import ConversationSessions
    from graphs.client import Hypermnesia
    from graphs.results import Evidence, RecallResult
    from memory.model import MemoryUnit, Namespace, Turn
    from memory.store import HistoryEvent, StoreStats
    from memory.traces import TraceRun, TraceStep

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures side by side.")
app.add_typer(bench_app, name="bench")
traces_app = typer.Typer(no_args_is_help=True, help="Inspect the recorded graph runs.")
app.add_typer(traces_app, name="traces")


@bench_app.command("vector")
def bench_vector(
    n: int = typer.Option(100_000, help="Number of vectors."),
    dim: int = typer.Option(384, help="Dimension."),
    k: int = typer.Option(10, help="Top-k."),
    queries: int = typer.Option(200, help="Number of queries."),
    json_out: bool = typer.Option(False, "--json", help="End with one JSON object."),
    dist: str = typer.Option("clustered", help="Rows: 'clustered' (a mixture) or 'uniform'."),
) -> None:
    """Native core vs NumPy, faiss and Chroma on the same random unit vectors."""
    from evals.bench.vector import run_vector_bench

    run_vector_bench(n=n, dim=dim, k=k, queries=queries, json_out=json_out, dist=dist)


@bench_app.command("graph")
def bench_graph(
    n: int = typer.Option(10_000, help="Units to reach before measuring recall."),
    questions: int = typer.Option(200, help="LoCoMo questions to ask."),
    data: str | None = typer.Option(None, help="A LoCoMo file (default: ../shared/data)."),
    json_out: bool = typer.Option(False, "--json", help="End with one JSON object."),
) -> None:
    """The agents end to end: write throughput (turns/s) and recall latency at n units."""
    from evals.bench.graph import run_graph_bench

    try:
        path = Path(data) if data else None
        run_graph_bench(n=n, json_out=json_out, data=path, questions=questions)
    except HypermnesiaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc


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


@app.command("ablation")
def ablation_command(
    data: str = typer.Option(..., help="A benchmark file, a URL, or 'download' (public LoCoMo)."),
    dataset: str = typer.Option("locomo", help="locomo or longmemeval."),
    out: str = typer.Option("eval-out", help="Output folder; reuses an eval run's ingest."),
    recipes: str = typer.Option("", help="Comma-separated recipes (default: full and every no-*)."),
    budget: int = typer.Option(1000, min=1, help="Token budget of the recall figures."),
    workers: int = typer.Option(2, help="Worker processes (one conversation per task)."),
    limit_conversations: int | None = typer.Option(None, help="Only the first N conversations."),
) -> None:
    """Recall with each retrieval mechanism switched off, recipe by recipe."""
    from evals.ablation import ABLATIONS, run_ablation

    chosen = [r.strip() for r in recipes.split(",") if r.strip()] or ["full", *ABLATIONS]
    try:
        run_ablation(dataset, data, Path(out), chosen, budget, workers, limit_conversations)
    except HypermnesiaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc


# -- shared plumbing -----------------------------------------------------------------------------

out = Console()
err = Console(stderr=True)

DATA_DIR_HELP = "Data folder (default: HYPERMNESIA_DATA_DIR or .hypermnesia)."
_AGENT_OPTION = typer.Option("default", "--agent", "-a", help="Agent id of the namespace.")
_JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of tables.")
_DATA_DIR_OPTION = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)
_UNIT_IDS_ARGUMENT = typer.Argument(..., help="Unit ids (from recall, history or traces).")
_FILE_ARGUMENT = typer.Argument(..., help="A conversation JSON file (Hypermnesia's or LoCoMo's).")
_DEMO_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Where to keep the demo's memory (default: a fresh temp folder)."
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = _DATA_DIR_OPTION,
) -> None:
    """Long-term memory for chatbots and LLM agents."""
    ctx.obj = {"data_dir": data_dir}


@contextmanager
def _handled() -> Iterator[None]:
    """Print the project's errors as one red line and exit with status 1 (no traceback)."""
    try:
        yield
    except HypermnesiaError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _open(ctx: typer.Context, data_dir: Path | None, *, deterministic: bool = False) -> Hypermnesia:
    from graphs.client import Hypermnesia
    from memory.settings import Settings

    settings = Settings()
    if deterministic:
        settings = settings.model_copy(update={"llm_model": None})
    root = data_dir or (ctx.obj or {}).get("data_dir") or settings.data_dir
    return Hypermnesia.open(root, settings=settings)


def _namespace(user: str, agent: str) -> Namespace:
    from graphs.memory_node import namespace_for

    return namespace_for(user, agent)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value is not None else ""


def _when(value: datetime | None, *, seconds: bool = True) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- ingest --------------------------------------------------------------------------------------


@dataclass
class _SessionReport:
    session_id: str
    turns: int
    run_id: str
    decisions: Counter[str]


@dataclass
class _IngestReport:
    conversation_id: str
    namespace: str
    sessions: list[_SessionReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        total: Counter[str] = Counter()
        for s in self.sessions:
            total.update(s.decisions)
        return {
            "conversation_id": self.conversation_id,
            "namespace": self.namespace,
            "turns": sum(s.turns for s in self.sessions),
            "decisions": dict(total),
            "run_ids": [s.run_id for s in self.sessions],
        }


def _ingest_plan(
    conversations: Sequence[ConversationSessions], user: str | None, agent: str
) -> list[tuple[Namespace, ConversationSessions]]:
    """Pair each conversation with its namespace, checking every name before anything is written."""
    if user is not None and len(conversations) > 1:
        raise InvalidInputError(
            f"--user {user} would put {len(conversations)} conversations into one namespace and "
            "mix their turn ids; pick one with --conversation, or leave out --user"
        )
    plan = []
    for conv in conversations:
        try:
            plan.append((_namespace(user or conv.conversation_id, agent), conv))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{exc}; name the user with --user") from None
    return plan


def _ingest(
    hm: Hypermnesia, plan: Sequence[tuple[Namespace, ConversationSessions]]
) -> list[_IngestReport]:
    total = sum(conv.turn_count for _, conv in plan)
    reports: list[_IngestReport] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("turns"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("remembering", total=total)
        for ns, conv in plan:
            report = _IngestReport(conv.conversation_id, ns.key)
            for session in conv.sessions:
                progress.update(task, description=f"{ns.user_id} · {session.session_id}")
                result = hm.remember(ns, session.turns, session_end=True)
                decisions = Counter(d.decision for d in result.decisions)
                report.sessions.append(
                    _SessionReport(session.session_id, len(session.turns), result.run_id, decisions)
                )
                progress.advance(task, len(session.turns))
            reports.append(report)
    return reports


def _ingest_table(report: _IngestReport) -> Table:
    names = sorted({d for s in report.sessions for d in s.decisions})
    table = Table(
        title=f"{report.conversation_id} → namespace {report.namespace}", title_justify="left"
    )
    table.add_column("session")
    table.add_column("turns", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("run id", style="cyan", no_wrap=True)
    for s in report.sessions:
        counts = [str(s.decisions.get(n, 0)) for n in names]
        table.add_row(s.session_id, str(s.turns), *counts, s.run_id)
    summary = report.as_dict()
    totals = [str(summary["decisions"].get(n, 0)) for n in names]
    table.add_section()
    table.add_row("total", str(summary["turns"]), *totals, "", style="bold")
    return table


@app.command()
def ingest(
    ctx: typer.Context,
    file: Path = _FILE_ARGUMENT,
    user: str | None = typer.Option(
        None, "--user", "-u", help="User id (default: each conversation's id)."
    ),
    agent: str = _AGENT_OPTION,
    conversation: str | None = typer.Option(
        None, "--conversation", "-c", help="Only this conversation of the file (e.g. conv-26)."
    ),
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """Remember a conversation file session by session, with a progress bar over turns."""
    with _handled():
        from evals.conversation_files import load_conversation_file, select_conversations

        conversations = select_conversations(load_conversation_file(file), conversation)
        plan = _ingest_plan(conversations, user, agent)
        with _open(ctx, data_dir) as hm:
            reports = _ingest(hm, plan)
        if json_out:
            _print_json([r.as_dict() for r in reports])
            return
        for report in reports:
            out.print(_ingest_table(report))


# -- recall --------------------------------------------------------------------------------------


def _evidence_table(
    result: RecallResult, title: str | None = None, limit: int | None = None
) -> Table:
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
        when = _day(e.event_time)
        table.add_row(str(n), f"{e.score:.3f}", e.granularity, e.source, when, text, e.unit_id)
    if len(shown) < len(result.evidence):
        more = len(result.evidence) - len(shown)
        table.add_row("", "", "", "", "", f"[dim]… {more} more (python app.py recall)[/]", "")
    if not result.evidence:
        table.add_row("", "", "", "", "", "[dim]no evidence found[/]", "")
    return table


def _recall_summary(result: RecallResult, budget: int) -> str:
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


@app.command()
def recall(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question to find evidence for."),
    user: str = typer.Option(..., "--user", "-u", help="User id of the namespace."),
    agent: str = _AGENT_OPTION,
    budget: int = typer.Option(1000, min=1, help="Token budget of the packed evidence."),
    max_iterations: int = typer.Option(3, min=1, help="Retrieve/judge rounds at most."),
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """Evidence for a question, packed into a token budget, with the judge's verdict."""
    with _handled():
        ns = _namespace(user, agent)
        with _open(ctx, data_dir) as hm:
            result = hm.recall(ns, question, budget=budget, max_iterations=max_iterations)
        if json_out:
            _print_json(result.model_dump(mode="json"))
            return
        out.print(_evidence_table(result, title=f"Evidence for {question!r}"))
        out.print(_recall_summary(result, budget))


# -- chat ----------------------------------------------------------------------------------------


def _chat_turns(ns: Namespace, text: str, answer: str | None) -> list[Turn]:
    from graphs.memory_node import chat_session_id
    from memory.model import Turn, utcnow

    session, now, stamp = chat_session_id(), utcnow(), uuid.uuid4().hex[:12]
    turns = [
        Turn(
            id=f"{session}:{stamp}:u",
            session_id=session,
            speaker=ns.user_id,
            text=text,
            session_time=now,
        )
    ]
    if answer:
        turns.append(
            Turn(
                id=f"{session}:{stamp}:a",
                session_id=session,
                speaker="assistant",
                text=answer,
                session_time=now,
                index=1,
            )
        )
    return turns


@app.command()
def chat(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", "-u", help="User id of the namespace."),
    agent: str = _AGENT_OPTION,
    budget: int = typer.Option(800, min=1, help="Token budget of the evidence per message."),
    data_dir: Path | None = _DATA_DIR_OPTION,
) -> None:
    """Chat from stdin until EOF or /quit: recall → answer (or show the evidence) → remember."""
    with _handled():
        ns = _namespace(user, agent)
        interactive = sys.stdin.isatty()
        with _open(ctx, data_dir) as hm:
            if interactive:
                out.print(
                    Panel(f"Chatting as [bold]{ns}[/]. /quit or Ctrl-D to leave.", expand=False)
                )
            exchanges = 0
            while True:
                if interactive:
                    out.print("[bold cyan]you>[/] ", end="")
                line = sys.stdin.readline()
                if not line or line.strip() == "/quit":
                    break
                text = line.strip()
                if not text:
                    continue
                result = hm.recall(ns, text, budget=budget)
                answer = hm.answer(ns, text, result)
                if answer:
                    out.print(f"[bold green]assistant>[/] {escape(answer)}")
                else:
                    title = "no LLM configured: the evidence it would answer from"
                    out.print(_evidence_table(result, title=title))
                hm.remember(ns, _chat_turns(ns, text, answer), session_end=False)
                exchanges += 1
        out.print(f"[dim]{exchanges} exchange(s) remembered in namespace {ns}.[/]")


# -- forget and history --------------------------------------------------------------------------


def _units_table(units: Sequence[MemoryUnit], title: str) -> Table:
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
            _when(u.valid_from, seconds=False),
            _when(u.valid_to, seconds=False),
            u.superseded_by or "",
        )
    return table


@app.command()
def forget(
    ctx: typer.Context,
    unit_ids: list[str] = _UNIT_IDS_ARGUMENT,
    user: str = typer.Option(..., "--user", "-u", help="User id of the namespace."),
    agent: str = _AGENT_OPTION,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """Delete units and everything derived from them (shows the cascade, then asks)."""
    with _handled():
        ns = _namespace(user, agent)
        with _open(ctx, data_dir) as hm:
            preview = hm.store.delete(ns, unit_ids, dry_run=True)
            if not json_out:
                doomed = hm.store.get(ns, preview.deleted)
                title = f"Forgetting {len(unit_ids)} unit(s) deletes {len(doomed)} in {ns}"
                out.print(_units_table(doomed, title))
                if preview.turns_deleted:
                    out.print(f"raw turns deleted too: {', '.join(preview.turns_deleted)}")
            if not yes and not typer.confirm("Delete them?", default=False, err=True):
                err.print(("" if sys.stdin.isatty() else "\n") + "nothing deleted")
                raise typer.Exit(1)
            report = hm.forget(ns, unit_ids)
        if json_out:
            _print_json(report.model_dump(mode="json"))
            return
        out.print(
            f"[green]deleted {len(report.deleted)} unit(s) and "
            f"{len(report.turns_deleted)} raw turn(s)[/]"
        )


def _history_ids(unit_id: str, events: Sequence[HistoryEvent]) -> list[str]:
    """The unit and the units linked to it by its events; a ``put`` lists its whole write batch,
    so only the units it shares with the other events count."""
    linked = [i for e in events if e.op != "put" for i in e.unit_ids]
    return list(dict.fromkeys([unit_id, *linked]))


def _print_history(
    unit_id: str, events: Sequence[HistoryEvent], units: Sequence[MemoryUnit]
) -> None:
    relevant = set(_history_ids(unit_id, events))
    table = Table(title=f"History of {unit_id}", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("op", style="bold")
    table.add_column("reason", ratio=1)
    table.add_column("units", style="cyan", no_wrap=True)
    for e in events:
        shown = [i for i in e.unit_ids if i in relevant]
        others = len(e.unit_ids) - len(shown)
        ids = "\n".join(shown) + (f"\n[dim]+{others} more in the batch[/]" if others else "")
        table.add_row(_when(e.at), e.op, escape(e.reason or ""), ids)
    out.print(table)
    out.print(_units_table(units, "Units involved"))
    stored = {u.id for u in units}
    gone = [i for i in _history_ids(unit_id, events) if i not in stored]
    if gone:
        out.print(f"[dim]no longer stored (deleted): {', '.join(gone)}[/]")


@app.command()
def history(
    ctx: typer.Context,
    unit_id: str = typer.Argument(..., help="A unit id (from recall, history or traces)."),
    user: str = typer.Option(..., "--user", "-u", help="User id of the namespace."),
    agent: str = _AGENT_OPTION,
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """Every change to a unit and to the units it replaced or was replaced by."""
    with _handled():
        ns = _namespace(user, agent)
        with _open(ctx, data_dir) as hm:
            events = hm.history(ns, unit_id)
            units = hm.store.get(ns, _history_ids(unit_id, events))
        if json_out:
            _print_json(
                {
                    "events": [e.model_dump(mode="json") for e in events],
                    "units": [u.model_dump(mode="json") for u in units],
                }
            )
            return
        _print_history(unit_id, events, units)


# -- traces --------------------------------------------------------------------------------------


def _summary(value: dict[str, Any] | None, limit: int = 60) -> str:
    if not value:
        return ""
    return _short(", ".join(f"{k}={v}" for k, v in value.items()), limit)


@traces_app.command("list")
def traces_list(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", "-u", help="Only runs of this user."),
    agent: str = _AGENT_OPTION,
    limit: int = typer.Option(20, min=1, help="How many runs, most recent first."),
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """The most recent graph runs."""
    with _handled():
        namespace = _namespace(user, agent).key if user is not None else None
        with _open(ctx, data_dir) as hm:
            runs = hm.traces.list_runs(namespace=namespace, limit=limit)
        if json_out:
            _print_json([r.model_dump(mode="json", exclude={"steps"}) for r in runs])
            return
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
                r.run_id,
                r.graph,
                r.namespace,
                _when(r.started_at),
                status,
                escape(_summary(r.input)),
            )
        out.print(table)
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
        branch.add(f"[dim]in: {escape(_summary(step.inputs, 100))}[/]")
    if step.outputs:
        branch.add(f"[dim]out: {escape(_summary(step.outputs, 100))}[/]")
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


def _trace_tree(run: TraceRun) -> Tree:
    took = ""
    if run.finished_at is not None:
        took = f" · {(run.finished_at - run.started_at).total_seconds() * 1000:.0f} ms"
    colour = "green" if run.status == "ok" else "yellow"
    tree = Tree(
        f"[bold cyan]{run.run_id}[/] · {run.graph} · {run.namespace} · {_when(run.started_at)}"
        f" · [{colour}]{run.status}[/]{took}"
    )
    tree.add(f"[dim]input: {escape(_summary(run.input, 120))}[/]")
    for n, step in enumerate(run.steps, start=1):
        _step_branch(tree, n, step)
    if run.output:
        tree.add(f"[dim]output: {escape(_summary(run.output, 120))}[/]")
    return tree


@traces_app.command("show")
def traces_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A run id (from traces list, recall or ingest)."),
    data_dir: Path | None = _DATA_DIR_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """One run as a tree of agent decisions, retrieved ids, LLM calls and fallbacks."""
    with _handled():
        with _open(ctx, data_dir) as hm:
            run = hm.traces.get(run_id)
        if json_out:
            _print_json(run.model_dump(mode="json"))
            return
        out.print(_trace_tree(run))
        fallbacks = sum(1 for s in run.steps if s.fallback)
        if fallbacks:
            out.print(f"[bold red]{fallbacks} step(s) fell back to the deterministic agents.[/]")


# -- demo ----------------------------------------------------------------------------------------

DEMO_FILE = Path(__file__).resolve().parent / "evals" / "samples" / "demo_conversation.json"


@dataclass(frozen=True)
class _Check:
    """A claim the demo makes, checked against what the engine actually returned."""

    claim: str
    held: bool
    detail: str


def _mentions(evidence: Evidence, *words: str) -> bool:
    text = evidence.text.casefold()
    return all(w.casefold() in text for w in words)


def _superseded_home(hm: Hypermnesia, ns: Namespace) -> tuple[MemoryUnit, MemoryUnit] | None:
    """A closed fact naming Boston and the current Denver fact that superseded it, if any."""
    from memory.model import Granularity, UnitFilter

    facts = hm.store.units(ns, UnitFilter(granularities=frozenset({Granularity.FACT})))
    by_id = {u.id: u for u in facts}
    for old in facts:
        new = by_id.get(old.superseded_by or "")
        if new is None or old.is_current or not new.is_current:
            continue
        if "boston" in old.text.casefold() and "denver" in new.text.casefold():
            return old, new
    return None


def _demo_update(hm: Hypermnesia, ns: Namespace) -> tuple[_Check, str]:
    question = "Where does Sam live now?"
    result = hm.recall(ns, question, budget=400)
    out.print(_evidence_table(result, title=f"1 · An updated fact: {question!r}", limit=5))
    claim = "Sam lives in Denver now; the Boston fact is superseded, not erased"
    denver = [n for n, e in enumerate(result.evidence, start=1) if _mentions(e, "denver")]
    stale = [
        e
        for e in result.evidence
        if e.granularity == "fact" and e.current and _mentions(e, "boston")
    ]
    pair = _superseded_home(hm, ns)
    problems = []
    if not denver:
        problems.append("no evidence names Denver")
    if stale:
        problems.append(f"a current fact still says {escape(stale[0].text)!r}")
    if pair is None:
        problems.append("no closed Boston fact superseded by a current Denver fact")
    else:
        old, new = pair
        events = hm.history(ns, new.id)
        if not any(ev.op == "supersede" and old.id in ev.unit_ids for ev in events):
            problems.append(f"the history of {new.id} has no supersede event naming {old.id}")
        _print_history(new.id, events, hm.store.get(ns, _history_ids(new.id, events)))
    if problems:
        return _Check(claim, False, "; ".join(problems)), result.run_id
    assert pair is not None
    old, new = pair
    in_evidence = any(e.unit_id == new.id for e in result.evidence)
    detail = (
        f"Denver is in evidence #{denver[0]}; {escape(old.text)!r} was closed on "
        f"{_when(old.valid_to)} by {escape(new.text)!r}"
        + ("" if in_evidence else " (that fact itself was not packed into this recall)")
    )
    return _Check(claim, True, detail), result.run_id


def _demo_date(hm: Hypermnesia, ns: Namespace) -> tuple[_Check, str]:
    question = "When did Sam adopt Biscuit?"
    result = hm.recall(ns, question, budget=400)
    out.print(_evidence_table(result, title=f"2 · A relative date: {question!r}", limit=5))
    target = date(2023, 5, 7)
    claim = "'yesterday' on 8 May 2023 resolves to 7 May 2023"
    for e in result.evidence:
        dated = e.event_time is not None and e.event_time.date() == target
        spelled = target.isoformat() in e.text or "7 May 2023" in e.text
        if _mentions(e, "adopt") and (dated or spelled):
            detail = f"resolved to {target.isoformat()}: {escape(e.text)!r}"
            return _Check(claim, True, detail), result.run_id
    adoption = [e for e in result.evidence if _mentions(e, "adopt")]
    seen = ", ".join(_day(e.event_time) or "undated" for e in adoption) or "no adoption evidence"
    return _Check(claim, False, f"adoption evidence dated {seen}"), result.run_id


def _demo_multihop(hm: Hypermnesia, ns: Namespace) -> tuple[_Check, str]:
    question = "Where does the person who helped Sam pick Biscuit work?"
    result = hm.recall(ns, question, budget=600)
    out.print(
        _evidence_table(
            result, title=f"3 · Multi-hop through the hypergraph: {question!r}", limit=5
        )
    )
    claim = "Maya → Flour Bakery, with evidence reached through the hypergraph"
    bakery = [e for e in result.evidence if _mentions(e, "flour bakery")]
    via_graph = [e for e in result.evidence if "graph" in e.source.split("+")]
    if bakery and via_graph:
        detail = (
            f"{escape(bakery[0].text)!r} (source {bakery[0].source}); "
            f"{len(via_graph)} unit(s) came via the graph"
        )
        return _Check(claim, True, detail), result.run_id
    missing = []
    if not bakery:
        missing.append("no evidence names Flour Bakery")
    if not via_graph:
        missing.append("no evidence came via the graph")
    return _Check(claim, False, "; ".join(missing)), result.run_id


def _stats_table(stats: StoreStats, seconds: float, ingest_seconds: float) -> Table:
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


@app.command()
def demo(
    ctx: typer.Context,
    data_dir: Path | None = _DEMO_DIR_OPTION,
) -> None:
    """Ingest the bundled sample with the deterministic agents and check what recall shows."""
    started = time.perf_counter()
    with _handled():
        from evals.conversation_files import load_conversation_file

        root = data_dir or Path(tempfile.mkdtemp(prefix="hypermnesia-demo-"))
        (conversation,) = load_conversation_file(DEMO_FILE)
        ns = _namespace("sam", "demo")
        out.print(
            Panel(
                f"Ingesting [bold]{DEMO_FILE.name}[/] ({len(conversation.sessions)} sessions, "
                f"{conversation.turn_count} turns) into namespace [bold]{ns}[/] under {root}\n"
                "Deterministic agents, no LLM.",
                title="Hypermnesia demo",
                expand=False,
            )
        )
        with _open(ctx, root, deterministic=True) as hm:
            (report,) = _ingest(hm, [(ns, conversation)])
            ingest_seconds = time.perf_counter() - started
            out.print(_ingest_table(report))
            checks, run_ids = [], []
            for step in (_demo_update, _demo_date, _demo_multihop):
                check, run_id = step(hm, ns)
                checks.append(check)
                run_ids.append(run_id)
            stats = hm.store.stats(ns)
        lines = [
            f"[green]✓[/] {c.claim}: {c.detail}"
            if c.held
            else f"[bold red]✗ {c.claim}[/]: {c.detail}"
            for c in checks
        ]
        held = sum(c.held for c in checks)
        colour = "green" if held == len(checks) else "red"
        out.print(
            Panel(
                "\n".join(lines),
                title=f"[{colour}]{held}/{len(checks)} claims held[/]",
                expand=False,
            )
        )
        labels = ("updated fact", "relative date", "multi-hop")
        hint = "\n".join(
            f"{n}. {label}: [cyan]{r}[/]"
            for n, (label, r) in enumerate(zip(labels, run_ids, strict=True), start=1)
        )
        hint += f"\nwrites: {report.sessions[0].run_id} … {report.sessions[-1].run_id}"
        hint += f"\n\n[bold]python app.py --data-dir {root} traces show {run_ids[-1]}[/]"
        out.print(Panel(hint, title="Trace ids", expand=False))
        out.print(_stats_table(stats, time.perf_counter() - started, ingest_seconds))
        if held < len(checks):
            err.print(f"[bold red]{len(checks) - held} demo claim(s) did not hold.[/]")
            raise typer.Exit(1)


if __name__ == "__main__":
    app()
