"""Run context: the settings and services of one graph run, passed to every node.

Process-wide settings (paths, servers, keys) live in :class:`memory.settings.Settings`; what can
change from one run to the next (whose memory, which mode and model, budgets, thresholds) is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agents.policy import Policy
from memory.llm import LLMClient
from memory.model import Namespace
from memory.store import MemoryStore

__all__ = ["Mode", "Reflection", "RunContext", "Thresholds"]

Mode = Literal["deterministic", "llm"]
Reflection = Literal["inline", "deferred"]
"""When a due reflection runs: in the write that made it due, or after it (the caller's job)."""


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds of the deterministic agents."""

    duplicate_similarity: float = 0.93
    """Cosine similarity above which a proposed fact duplicates a stored one (same speaker)."""
    reflect_every: int = 40
    """Reflect after this many new facts in a namespace (0: only on demand)."""


@dataclass(frozen=True)
class RunContext:
    """Everything a node needs besides the state. Not checkpointed."""

    namespace: Namespace
    store: MemoryStore
    mode: Mode = "deterministic"
    llm: LLMClient | None = None
    budget_tokens: int = 1000
    max_iterations: int = 3
    recipe: str = "full"
    """Name of the retrieval recipe (see :mod:`agents.recipes`)."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    run_id: str | None = None
    """The traced run this is, recorded with the writes it makes."""
    reflection: Reflection = "inline"
    policy: Policy | None = None
    """Who takes the decisions a policy can make (:mod:`agents.policy`); None: the hand-set rules,
    without computing the features a policy would see."""

    @property
    def use_llm(self) -> bool:
        return self.mode == "llm" and self.llm is not None
