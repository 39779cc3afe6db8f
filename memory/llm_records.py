"""What an LLM call leaves behind: which prompt ran, and one record per call for the traces.

Kept apart from :mod:`memory.llm` so that the error tree can carry a call's record without
importing the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["MAX_KEPT_CHARS", "LLMCall", "PromptRef", "kept_messages", "kept_text"]

MAX_KEPT_CHARS = 20_000
"""Longest message or reply text a call record keeps; a longer one is cut, and says so."""


def kept_text(text: str, limit: int = MAX_KEPT_CHARS) -> str:
    """``text``, or its first ``limit`` characters and a note of how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters not kept]"


def kept_messages(messages: Sequence[dict[str, str]]) -> tuple[dict[str, str], ...]:
    """Copies of chat messages with long contents cut (see :func:`kept_text`)."""
    return tuple({**m, "content": kept_text(m.get("content", ""))} for m in messages)


@dataclass(frozen=True)
class PromptRef:
    """Which prompt produced a call: its registry name (``judge.sufficiency``) and version."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class LLMCall:
    """One record per ``structured()`` call, kept in traces."""

    prompt_name: str
    prompt_version: str
    model: str
    attempts: int
    """HTTP requests made, retries and the re-ask included."""
    ok: bool
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    cost_usd: float | None
    """``None`` when the provider's price is unknown."""
    error: str | None = None
    raw_text: str | None = None
    """The model's last reply, kept when it failed validation."""
    messages: tuple[dict[str, str], ...] = field(default=(), hash=False)
    """The messages of the last request (the re-ask included), long contents cut."""
    response: str | None = None
    """The text of the last reply, long ones cut; None when no reply came."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for trace stores."""
        return asdict(self)
