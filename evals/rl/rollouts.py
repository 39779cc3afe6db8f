"""Read-side rollouts over a benchmark: every question, under a routing action, at a budget.

Each conversation is ingested once into the evaluation's work folder (``<work>/work/hypermnesia``,
the folder ``app.py eval`` uses, so an eval's ingest is reused and the other way round). A rollout
is a :func:`~graphs.rollout.frozen_recall` under a fixed action, scored exactly as the harness
scores ``hypermnesia`` (items re-counted, packed into the budget, gold turns covered). The read
path is deterministic on a frozen view, so each (question, action, budget) runs once: outcomes
are kept in ``<work>/rl/<conversation>.jsonl`` and read back, which is what lets a
leave-one-conversation-out validation train six routers without running any rollout twice.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.policy import HAND_SET, FixedRoutePolicy, RouteAction, RouteFeatures
from agents.results import RecallResult
from evals.hypermnesia import HypermnesiaSystem, items_of, namespace_of
from evals.loaders import Dataset
from evals.metrics import covered_turns, evidence_recall, pack
from evals.runner import MARKER, ingest_or_restore, workdir_for
from evals.systems import Conversation, Question, RetrievedItem, system_spec
from graphs.rollout import frozen_recall
from memory.tokens import count_tokens
from memory.traces import TraceStore

__all__ = [
    "Outcome",
    "QuestionRollouts",
    "RolloutCache",
    "Rollouts",
    "rollout_questions",
    "run_all",
]

VERSION = 1
"""Bumped when the read path or the features change in a way that makes kept outcomes stale."""


@dataclass(frozen=True)
class Outcome:
    """One rollout's result: recall of the gold turns and tokens packed, at one budget."""

    recall: float
    tokens: int
    run_id: str


@dataclass
class QuestionRollouts:
    """A question's features and its outcomes by (action name, budget)."""

    question: Question
    features: RouteFeatures
    outcomes: dict[tuple[str, int], Outcome] = field(default_factory=dict)


def rollout_questions(dataset: Dataset) -> list[Question]:
    """The questions rollouts are scored on: those of the categories averaged into ``overall``."""
    return [q for q in dataset.questions if q.category in dataset.overall_categories]


class RolloutCache:
    """Kept outcomes of one conversation's rollouts (one JSON line each), keyed by its ingest."""

    def __init__(self, path: Path, ingest_fingerprint: str) -> None:
        self.path = path
        self.key = hashlib.sha256(json.dumps([VERSION, ingest_fingerprint]).encode()).hexdigest()[
            :16
        ]
        self.rows: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row.get("key") == self.key:
                    self.rows[row["id"]] = row
        path.parent.mkdir(parents=True, exist_ok=True)

    def get(self, row_id: str, action: RouteAction) -> dict[str, Any] | None:
        """The kept row, unless the action of that name has changed since."""
        row = self.rows.get(row_id)
        return row if row is not None and row.get("action") == repr(action) else None

    def put(self, row_id: str, action: RouteAction, row: dict[str, Any]) -> None:
        row = {"key": self.key, "id": row_id, "action": repr(action), **row}
        self.rows[row_id] = row
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


class Rollouts:
    """Runs and keeps the rollouts of a dataset's questions; use as a context manager per
    conversation (:meth:`conversation`)."""

    def __init__(self, dataset: Dataset, work: Path, *, traces: bool = False) -> None:
        self.dataset = dataset
        self.work = Path(work)
        self.traces = traces
        self.by_question: dict[str, QuestionRollouts] = {}

    @contextmanager
    def conversation(self, conv: Conversation) -> Iterator[_Open]:
        """The conversation's engine (ingested or restored) and its rollout cache."""
        spec = system_spec("hypermnesia", seed=0, cache_dir=self.work / "cache")
        system = HypermnesiaSystem(seed=0)
        try:
            ingest_or_restore(system, spec, conv, self.work)
            folder = workdir_for(self.work, "hypermnesia", conv.id)
            fingerprint = json.loads((folder / MARKER).read_text(encoding="utf-8"))["fingerprint"]
            cache = RolloutCache(self.work / "rl" / f"{folder.name}.jsonl", fingerprint)
            store = TraceStore(self.work / "rl" / "traces.sqlite3") if self.traces else None
            try:
                yield _Open(self, system, conv, cache, store)
            finally:
                if store is not None:
                    store.close()
        finally:
            system.close()


class _Open:
    """One open conversation: run or read back its rollouts."""

    def __init__(
        self,
        owner: Rollouts,
        system: HypermnesiaSystem,
        conv: Conversation,
        cache: RolloutCache,
        traces: TraceStore | None,
    ) -> None:
        self.owner, self.system, self.conv, self.cache = owner, system, conv, cache
        self.traces = traces
        self._count: dict[str, int] = {}

    def outcome(self, question: Question, action: RouteAction, budget: int) -> QuestionRollouts:
        """The question's rollouts, with (``action``, ``budget``) run if it was not yet."""
        row_id = f"{question.id}|{action.name}|{budget}"
        row = self.cache.get(row_id, action)
        if row is None:
            row = self._run(question, action, budget)
            self.cache.put(row_id, action, row)
        entry = self.owner.by_question.get(question.id)
        if entry is None:
            names, values = row["features"]
            entry = QuestionRollouts(question, RouteFeatures(tuple(names), tuple(values)))
            self.owner.by_question[question.id] = entry
        entry.outcomes[(action.name, budget)] = Outcome(row["recall"], row["tokens"], row["run_id"])
        return entry

    def recall(self, question: Question, action: RouteAction, budget: int) -> RecallResult:
        """A frozen read of ``question`` (without its gold fields) under ``action``."""
        asked = question.for_system()
        return frozen_recall(
            self.system.engine(self.conv.id).store,
            namespace_of(self.conv.id),
            asked.text,
            policy=FixedRoutePolicy(action),
            budget=budget,
            asked_at=asked.asked_at,
            traces=self.traces,
        )

    def items(self, result: RecallResult, budget: int) -> list[RetrievedItem]:
        """The recall's items as the harness packs them: re-counted, fitted into ``budget``."""
        items = [
            RetrievedItem(i.text, i.source_turn_ids, self._tokens(i.text), i.score)
            for i in items_of(result)
        ]
        return pack(items, budget)

    def _run(self, question: Question, action: RouteAction, budget: int) -> dict[str, Any]:
        result = self.recall(question, action, budget)
        packed = self.items(result, budget)
        features = result.route_action.get("features", {})
        return {
            "recall": evidence_recall(question.evidence, covered_turns(packed)),
            "tokens": sum(i.tokens for i in packed),
            "run_id": result.run_id,
            "features": [list(features), [float(v) for v in features.values()]],
        }

    def _tokens(self, text: str) -> int:
        n = self._count.get(text)
        if n is None:
            n = self._count[text] = count_tokens(text)
        return n


def run_all(
    rollouts: Rollouts,
    questions: Sequence[Question],
    actions: Sequence[RouteAction],
    budgets: Sequence[int],
    advance: Callable[[int], None] | None = None,
    workers: int = 1,
) -> dict[str, QuestionRollouts]:
    """Every question under every action at every budget (kept outcomes are read back).

    With ``workers`` > 1, conversations run in that many processes first (each keeps its own
    outcomes file), then are read back here; ``advance`` counts questions.
    """
    by_conv: dict[str, list[Question]] = {}
    for q in questions:
        by_conv.setdefault(q.conversation_id, []).append(q)
    convs = [c for c in rollouts.dataset.conversations if c.id in by_conv]
    ordered = [HAND_SET, *[a for a in actions if a != HAND_SET]]
    if workers > 1 and len(convs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(convs)), mp_context=ctx) as pool:
            futures = {
                pool.submit(_run_conversation, rollouts, c, by_conv[c.id], ordered, budgets): c.id
                for c in convs
            }
            for future in as_completed(futures):
                future.result()
                if advance is not None:
                    advance(len(by_conv[futures[future]]))
        advance = None
    for conv in convs:
        _run_conversation(rollouts, conv, by_conv[conv.id], ordered, budgets, advance)
    return {q.id: rollouts.by_question[q.id] for q in questions}


def _run_conversation(
    rollouts: Rollouts,
    conv: Conversation,
    questions: Sequence[Question],
    actions: Sequence[RouteAction],
    budgets: Sequence[int],
    advance: Callable[[int], None] | None = None,
) -> None:
    with rollouts.conversation(conv) as open_:
        for q in questions:
            for action in actions:
                for budget in budgets:
                    open_.outcome(q, action, budget)
            if advance is not None:
                advance(1)
