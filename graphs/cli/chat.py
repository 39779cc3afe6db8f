"""The chat loop: recall for each line, answer (or show the evidence), remember the exchange."""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.panel import Panel

from graphs.cli.render import evidence_table, out, warn_fallbacks

if TYPE_CHECKING:
    from graphs import Hypermnesia
    from memory.model import Namespace, Turn

__all__ = ["chat_loop", "chat_turns"]


def chat_turns(ns: Namespace, text: str, answer: str | None) -> list[Turn]:
    """The user's line and the answer, if any, as turns of today's chat session."""
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


def _exchange(hm: Hypermnesia, ns: Namespace, text: str, budget: int) -> None:
    result = hm.recall(ns, text, budget=budget)
    warn_fallbacks("recall", result.fallbacks)
    answer = hm.answer(ns, text, result)
    if answer:
        out.print(f"[bold green]assistant>[/] {escape(answer)}")
    else:
        title = "no LLM configured: the evidence it would answer from"
        out.print(evidence_table(result, title=title))
    written = hm.remember(ns, chat_turns(ns, text, answer), session_end=False)
    warn_fallbacks("remember", written.fallbacks)


def chat_loop(hm: Hypermnesia, ns: Namespace, budget: int) -> int:
    """Read stdin until EOF or ``/quit`` (prompting only on a terminal), then say how many
    exchanges were remembered; returns that count."""
    interactive = sys.stdin.isatty()
    if interactive:
        out.print(Panel(f"Chatting as [bold]{ns}[/]. /quit or Ctrl-D to leave.", expand=False))
    exchanges = 0
    while True:
        if interactive:
            out.print("[bold cyan]you>[/] ", end="")
        line = sys.stdin.readline()
        if not line or line.strip() == "/quit":
            break
        text = line.strip()
        if text:
            _exchange(hm, ns, text, budget)
            exchanges += 1
    out.print(f"[dim]{exchanges} exchange(s) remembered in namespace {ns}.[/]")
    return exchanges
