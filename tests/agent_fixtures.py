"""A small engine over the bundled sample conversation, for the agent and graph tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from graphs.client import Hypermnesia
from memory.conversations import load_conversation_file
from memory.model import Namespace, Turn

SAMPLE = Path(__file__).parents[1] / "evals" / "samples" / "demo_conversation.json"
SAM = Namespace(user_id="sam")


def sample_sessions() -> list[list[Turn]]:
    conversation = load_conversation_file(SAMPLE)[0]
    return [list(session.turns) for session in conversation.sessions]


def ingest_sample(engine: Hypermnesia, ns: Namespace = SAM) -> None:
    for turns in sample_sessions():
        engine.remember(ns, turns, session_end=True)


def say(
    engine: Hypermnesia, ns: Namespace, speaker: str, session: str, day: int, *texts: str
) -> None:
    """One closed session of ``speaker``'s ``texts`` on 2023-03-``day``, remembered in ``ns``."""
    when = datetime(2023, 3, day, 18, tzinfo=UTC)
    turns = [
        Turn(id=f"{session}:{i}", session_id=session, speaker=speaker, text=t, session_time=when)
        for i, t in enumerate(texts)
    ]
    engine.remember(ns, turns, session_end=True)
