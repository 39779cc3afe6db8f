"""Ingesting conversation files: one namespace per conversation, one write run per session, a
progress bar over turns, and a report of the judge's decisions per session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graphs.cli.engine import namespace
from graphs.cli.render import err, out, print_json, warn_fallbacks
from memory.conversations import ConversationSessions, load_conversation_file, select_conversations
from memory.errors import InvalidInputError

if TYPE_CHECKING:
    from graphs import Hypermnesia
    from memory.model import Namespace

__all__ = [
    "IngestReport",
    "SessionReport",
    "ingest",
    "ingest_plan",
    "ingest_table",
    "load_plan",
    "show_ingest",
]


@dataclass
class SessionReport:
    """One session's write run: its turns, the judge's decisions by name, and the run id."""

    session_id: str
    turns: int
    run_id: str
    decisions: Counter[str]
    fallbacks: int = 0
    """LLM steps of the run that fell back to the deterministic agent."""


@dataclass
class IngestReport:
    """Every session of one conversation, written into one namespace."""

    conversation_id: str
    namespace: str
    sessions: list[SessionReport] = field(default_factory=list)

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
            "llm_fallbacks": sum(s.fallbacks for s in self.sessions),
        }


def ingest_plan(
    conversations: Sequence[ConversationSessions], user: str | None, agent: str
) -> list[tuple[Namespace, ConversationSessions]]:
    """Pair each conversation with its namespace, checking every name before anything is written.

    An empty ``--user`` is a bad name like any other, not a missing one.
    """
    if user is not None:
        ns = namespace(user, agent)
        if len(conversations) > 1:
            raise InvalidInputError(
                f"--user {user} would put {len(conversations)} conversations into one namespace "
                "and mix their turn ids; pick one with --conversation, or leave out --user"
            )
        return [(ns, conv) for conv in conversations]
    plan = []
    for conv in conversations:
        try:
            plan.append((namespace(conv.conversation_id, agent), conv))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{exc}; name the user with --user") from None
    return plan


def load_plan(
    path: Path, conversation: str | None, user: str | None, agent: str
) -> list[tuple[Namespace, ConversationSessions]]:
    """Read a conversation file, keep ``conversation`` (or all), pair each with its namespace."""
    return ingest_plan(
        select_conversations(load_conversation_file(path), conversation), user, agent
    )


def ingest(
    hm: Hypermnesia, plan: Sequence[tuple[Namespace, ConversationSessions]]
) -> list[IngestReport]:
    """Import each conversation's sessions (``Hypermnesia.remember_sessions``: each a
    ``remember`` with ``session_end=True``), behind a progress bar on stderr."""
    total = sum(conv.turn_count for _, conv in plan)
    reports: list[IngestReport] = []
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
            report = IngestReport(conv.conversation_id, ns.key)
            results = hm.remember_sessions(ns, [s.turns for s in conv.sessions])
            for session, result in zip(conv.sessions, results, strict=True):
                progress.update(task, description=f"{ns.user_id} · {session.session_id}")
                warn_fallbacks(f"{ns.user_id} · {session.session_id}", result.fallbacks)
                decisions = Counter[str](d.decision for d in result.decisions)
                report.sessions.append(
                    SessionReport(
                        session.session_id,
                        len(session.turns),
                        result.run_id,
                        decisions,
                        len(result.fallbacks),
                    )
                )
                progress.advance(task, len(session.turns))
            reports.append(report)
        progress.update(task, description="reflecting")
        hm.flush()  # a reflection the last sessions made due
    return reports


def ingest_table(report: IngestReport) -> Table:
    """Per session: turns, the count of each decision, and the run id; then the totals."""
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
    totals = report.as_dict()
    table.add_section()
    table.add_row(
        "total",
        str(totals["turns"]),
        *[str(totals["decisions"].get(n, 0)) for n in names],
        "",
        style="bold",
    )
    return table


def show_ingest(reports: Sequence[IngestReport], *, json_out: bool) -> None:
    if json_out:
        print_json([r.as_dict() for r in reports])
        return
    for report in reports:
        out.print(ingest_table(report))
