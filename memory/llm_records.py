"""What an LLM call leaves behind: which prompt ran, and one record per call for the traces.

Kept apart from :mod:`memory.llm` so that the error tree can carry a call's record without
importing the client.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LLMCall", "PromptRef"]


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

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for trace stores."""
        return asdict(self)
