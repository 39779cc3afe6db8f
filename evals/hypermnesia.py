"""The Hypermnesia system under evaluation: the write graph ingests, the read graph retrieves.

``hypermnesia-learned`` is the same system routed by a trained policy (option ``policy``: a
``POLICY.json`` path); it reads the ingest of ``hypermnesia``, so the two answer the same questions
over the same memory.

Each conversation gets its own data folder and namespace. Turns reach the engine session by
session, exactly as a chatbot would send them (text, speaker, session date, image caption); the
questions reach it without their gold fields (the harness strips them).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.policy import Policy
from agents.results import RecallResult
from evals.systems import Conversation, IngestStats, Question, RetrievedItem, register_system
from graphs.client import Hypermnesia
from memory.model import Namespace, Turn
from memory.settings import Settings

__all__ = ["HypermnesiaSystem", "items_of", "namespace_of", "sessions_of"]


def sessions_of(conversation: Conversation) -> dict[str, list[Turn]]:
    """The conversation's turns as the engine takes them, grouped by session in order."""
    sessions: dict[str, list[Turn]] = {}
    for t in conversation.turns:
        sessions.setdefault(t.session_id, []).append(Turn(**asdict(t)))
    return sessions


def _namespace(conversation_id: str) -> Namespace:
    return Namespace(user_id=re.sub(r"[^A-Za-z0-9_.@:+-]", "_", conversation_id) or "conv")


class HypermnesiaSystem:
    """Adapter from the harness's protocol to :class:`graphs.client.Hypermnesia`."""

    name = "hypermnesia"

    def __init__(
        self,
        *,
        seed: int = 0,
        cache_dir: Path | None = None,
        recipe: str = "full",
        embedder: str | None = None,
        max_iterations: int = 3,
        llm_model: str | None = None,
        llm_api_base: str | None = None,
        policy: str | None = None,
        **_: Any,
    ) -> None:
        self.seed = seed
        self.recipe = recipe
        self.embedder = embedder
        self.max_iterations = max_iterations
        self.llm_model = llm_model
        """With a model, the agents run in LLM mode (deterministic otherwise)."""
        self.llm_api_base = llm_api_base
        self.policy: Policy | None = None
        if policy is not None:
            from evals.rl.router import LearnedRouter

            self.policy = LearnedRouter.load(policy)
        self._engines: dict[str, Hypermnesia] = {}

    def _open(self, conversation_id: str, workdir: Path) -> Hypermnesia:
        engine = self._engines.get(conversation_id)
        if engine is None:
            base = Settings()  # HYPERMNESIA_EMBEDDER and friends, unless overridden here
            settings = base.model_copy(
                update={
                    "data_dir": workdir,
                    "embedder": self.embedder or base.embedder,
                    "llm_model": self.llm_model,
                    "llm_api_base": self.llm_api_base or base.llm_api_base,
                }
            )
            engine = Hypermnesia.open(
                workdir, settings=settings, checkpoints=False, policy=self.policy
            )
            self._engines[conversation_id] = engine
        return engine

    def ingest(self, conversation: Conversation, workdir: Path) -> IngestStats:
        started = time.perf_counter()
        engine = self._open(conversation.id, workdir)
        ns = _namespace(conversation.id)
        sessions = sessions_of(conversation)
        calls = tokens = 0
        for result in engine.remember_sessions(ns, list(sessions.values())):
            calls += result.llm_calls
            tokens += result.llm_tokens
        engine.flush()  # the last session's reflection, if one is due
        return IngestStats(
            turns=len(conversation.turns),
            seconds=time.perf_counter() - started,
            llm_calls=calls,
            llm_tokens=tokens,
        )

    def restore(self, conversation: Conversation, workdir: Path) -> None:
        self._open(conversation.id, workdir)

    def engine(self, conversation_id: str) -> Hypermnesia:
        """The open engine of an ingested or restored conversation."""
        return self._engines[conversation_id]

    def retrieve(
        self, conversation_id: str, question: Question, budget_tokens: int
    ) -> list[RetrievedItem]:
        engine = self._engines[conversation_id]
        result = engine.recall(
            _namespace(conversation_id),
            question.text,
            budget=budget_tokens,
            max_iterations=self.max_iterations,
            recipe=self.recipe,
            asked_at=question.asked_at,
        )
        return items_of(result)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()


def items_of(result: RecallResult) -> list[RetrievedItem]:
    """A recall's evidence as the harness's retrieved items."""
    return [
        RetrievedItem(
            text=e.text, source_turn_ids=tuple(e.provenance), tokens=e.tokens, score=e.score
        )
        for e in result.evidence
    ]


def namespace_of(conversation_id: str) -> Namespace:
    """The namespace a conversation is ingested into."""
    return _namespace(conversation_id)


register_system("hypermnesia", HypermnesiaSystem)
register_system("hypermnesia-learned", HypermnesiaSystem, ingest_as="hypermnesia")
