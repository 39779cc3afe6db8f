"""The evaluation runner: every conversation through every system, in parallel worker processes.

One task per conversation. A worker builds each system from its :class:`SystemSpec`, ingests the
conversation into ``<out>/work/<system>/<conversation>/`` (or reopens it when a marker of a
completed ingest is there and the conversation has not changed), then asks every question once per
budget and packs each answer into its budget. Questions reach the system
without their gold evidence, answer or category. Results do not depend on the number of workers or
the order tasks finish in: each conversation is seeded the same way and outcomes are reassembled in
dataset order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.answers import AnswerConfig, AnswerRecord, answer_question, build_clients
from evals.loaders import Dataset
from evals.metrics import (
    answer_words_found,
    covered_turns,
    evidence_recall,
    hit,
    mrr,
    ndcg_at_k,
    pack,
    ranked_turns,
)
from evals.systems import (
    Conversation,
    IngestStats,
    Question,
    RetrievalSystem,
    RetrievedItem,
    SystemSpec,
    build_system,
)
from memory.errors import InvalidInputError
from memory.tokens import count_tokens

__all__ = [
    "DEFAULT_BUDGETS",
    "ConversationOutcome",
    "IngestRecord",
    "QuestionRecord",
    "RunConfig",
    "RunOutcome",
    "ingest_or_restore",
    "run",
    "run_conversation",
]

DEFAULT_BUDGETS = (250, 500, 1000, 2000)
MARKER = ".ingested.json"
_READ_ONLY_OPTIONS = frozenset({"cache_dir", "policy"})
"""System options that do not change what an ingest writes (so they do not key its reuse)."""

Progress = Callable[[str, int], None]
"""Called with a phase name (``ingest`` counts turns, ``retrieve`` counts questions) and a step."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a worker needs besides its conversation."""

    out: Path
    systems: tuple[SystemSpec, ...]
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    workers: int = 2
    fresh: bool = False
    seed: int = 0
    ndcg_k: int = 10
    answers: AnswerConfig | None = None
    """With an LLM: answer every question from the items packed at ``answers.budget``."""

    def __post_init__(self) -> None:
        if not self.systems:
            raise InvalidInputError("no system to evaluate")
        if not self.budgets or any(b <= 0 for b in self.budgets):
            raise InvalidInputError(f"budgets must be positive token counts, got {self.budgets}")
        if self.workers < 1:
            raise InvalidInputError(f"workers must be >= 1, got {self.workers}")
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"a system is listed twice: {names}")
        if self.answers is not None and self.answers.budget not in self.budgets:
            raise InvalidInputError(
                f"the answer budget {self.answers.budget} is not one of the budgets {self.budgets}"
            )


@dataclass(frozen=True)
class QuestionRecord:
    """How one system did on one question."""

    system: str
    question_id: str
    conversation_id: str
    question: str
    category: str
    evidence: tuple[str, ...]
    recall: dict[int, float]
    hit: dict[int, float]
    tokens: dict[int, int]
    covered: dict[int, int]
    """How many distinct turns the packed items cover, per budget."""
    words: dict[int, float | None]
    """Share of the gold answer's content words in the packed text, per budget (None: no answer
    words)."""
    ndcg: float
    mrr: float
    latency_ms: dict[int, float]
    returned_items: dict[int, int]
    top_turns: tuple[str, ...]
    """The first 20 distinct source turns returned at the largest budget."""
    answer: AnswerRecord | None = None


@dataclass(frozen=True)
class IngestRecord:
    """One system's ingest of one conversation; ``reused`` when it was reopened from disk."""

    system: str
    conversation_id: str
    stats: IngestStats
    reused: bool


@dataclass
class ConversationOutcome:
    """What a worker returns for one conversation."""

    conversation_id: str
    ingests: list[IngestRecord] = field(default_factory=list)
    records: list[QuestionRecord] = field(default_factory=list)


@dataclass
class RunOutcome:
    """Everything measured in a run, in dataset order."""

    ingests: list[IngestRecord]
    records: list[QuestionRecord]
    seconds: float


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _dirname(name: str) -> str:
    safe = _UNSAFE.sub("_", name).strip("._") or "x"
    if safe != name:
        safe = f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return safe


def workdir_for(out: Path, system: str, conversation_id: str) -> Path:
    """Where ``system`` keeps its ingest of ``conversation_id``."""
    return out / "work" / _dirname(system) / _dirname(conversation_id)


def _fingerprint(conversation: Conversation, spec: SystemSpec) -> str:
    h = hashlib.sha256()
    # options that change what is written (the agents' LLM, the embedder) change it; where the
    # shared cache lives and the read-side policy do not
    options = {k: v for k, v in spec.options.items() if k not in _READ_ONLY_OPTIONS}
    name = spec.ingest_as or spec.name
    h.update(json.dumps([name, spec.factory, options], sort_keys=True, default=str).encode())
    for t in conversation.turns:
        parts = (t.id, t.session_id, t.speaker, t.text, str(t.session_time), t.image_caption or "")
        h.update("\x1f".join(parts).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def ingest_or_restore(
    system: RetrievalSystem, spec: SystemSpec, conversation: Conversation, out: Path
) -> IngestRecord:
    """Reopen a completed ingest of the same conversation, or ingest it afresh.

    A system that reads another's ingest (``spec.ingest_as``) uses that system's folder.
    """
    workdir = workdir_for(out, spec.ingest_as or spec.name, conversation.id)
    marker = workdir / MARKER
    fingerprint = _fingerprint(conversation, spec)
    if marker.is_file():
        try:
            saved = json.loads(marker.read_text(encoding="utf-8"))
            if saved.get("fingerprint") == fingerprint:
                system.restore(conversation, workdir)
                stats = IngestStats(**saved["stats"])
                return IngestRecord(spec.name, conversation.id, stats, reused=True)
        except (ValueError, TypeError, KeyError):
            pass  # an unreadable marker means the ingest is redone
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    stats = system.ingest(conversation, workdir)
    marker.write_text(
        json.dumps({"fingerprint": fingerprint, "stats": asdict(stats)}), encoding="utf-8"
    )
    return IngestRecord(spec.name, conversation.id, stats, reused=False)


class _TokenCounter:
    """cl100k counts of item texts, memoised (the same turns come back for many questions)."""

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        n = self._memo.get(text)
        if n is None:
            n = self._memo[text] = count_tokens(text)
        return n


def _score(
    spec_name: str,
    question: Question,
    answers: dict[int, list[RetrievedItem]],
    latency_ms: dict[int, float],
    config: RunConfig,
) -> QuestionRecord:
    """Pack each budget's answer into its budget; rank metrics use the largest budget's answer."""
    ranked = ranked_turns(answers[max(config.budgets)])
    recall: dict[int, float] = {}
    hits: dict[int, float] = {}
    tokens: dict[int, int] = {}
    n_covered: dict[int, int] = {}
    words: dict[int, float | None] = {}
    for budget in config.budgets:
        packed = pack(answers[budget], budget)
        words[budget] = answer_words_found(question.answer, packed)
        covered = covered_turns(packed)
        n_covered[budget] = len(covered)
        recall[budget] = evidence_recall(question.evidence, covered)
        hits[budget] = hit(question.evidence, covered)
        tokens[budget] = sum(item.tokens for item in packed)
    return QuestionRecord(
        system=spec_name,
        question_id=question.id,
        conversation_id=question.conversation_id,
        question=question.text,
        category=question.category,
        evidence=question.evidence,
        recall=recall,
        hit=hits,
        tokens=tokens,
        covered=n_covered,
        words=words,
        ndcg=ndcg_at_k(ranked, question.evidence, config.ndcg_k),
        mrr=mrr(ranked, question.evidence),
        latency_ms=latency_ms,
        returned_items={b: len(items) for b, items in answers.items()},
        top_turns=tuple(ranked[:20]),
    )


def run_conversation(
    conversation: Conversation,
    questions: Sequence[Question],
    config: RunConfig,
    progress: Progress | None = None,
    unanswerable: frozenset[str] = frozenset(),
) -> ConversationOutcome:
    """Ingest one conversation into every system and score every question (one worker's task).

    Questions whose category is in ``unanswerable`` are answered and scored as "not mentioned".
    """
    outcome = ConversationOutcome(conversation.id)
    count = _TokenCounter()
    report = progress or (lambda phase, n: None)
    clients = build_clients(config.answers) if config.answers is not None else None
    for spec in config.systems:
        random.seed(config.seed)
        np.random.seed(config.seed % 2**32)
        system = build_system(spec)
        try:
            outcome.ingests.append(ingest_or_restore(system, spec, conversation, config.out))
            report("ingest", len(conversation.turns))
            for question in questions:
                asked = question.for_system()
                answers: dict[int, list[RetrievedItem]] = {}
                latency: dict[int, float] = {}
                for budget in config.budgets:
                    start = time.perf_counter()
                    items = system.retrieve(conversation.id, asked, budget)
                    latency[budget] = (time.perf_counter() - start) * 1000
                    answers[budget] = [
                        RetrievedItem(i.text, tuple(i.source_turn_ids), count(i.text), i.score)
                        for i in items
                    ]
                record = _score(spec.name, question, answers, latency, config)
                report("retrieve", 1)
                if config.answers is not None and clients is not None:
                    packed = pack(answers[config.answers.budget], config.answers.budget)
                    answered = answer_question(
                        question,
                        packed,
                        *clients,
                        unanswerable=question.category in unanswerable,
                    )
                    record = dataclasses.replace(record, answer=answered)
                    report("answer", 1)
                outcome.records.append(record)
        except Exception as exc:
            exc.add_note(f"while evaluating {spec.name} on conversation {conversation.id}")
            raise
        finally:
            close = getattr(system, "close", None)
            if callable(close):
                close()
    return outcome


def _worker(
    conversation: Conversation,
    questions: list[Question],
    config: RunConfig,
    queue: Any,
    unanswerable: frozenset[str],
) -> ConversationOutcome:

    def report(phase: str, n: int) -> None:
        queue.put((phase, n))

    return run_conversation(conversation, questions, config, report, unanswerable)


def _prepare(config: RunConfig) -> None:
    config.out.mkdir(parents=True, exist_ok=True)
    if config.fresh:
        for spec in config.systems:
            shutil.rmtree(config.out / "work" / _dirname(spec.name), ignore_errors=True)
        shutil.rmtree(config.out / "cache", ignore_errors=True)


def run(dataset: Dataset, config: RunConfig, progress: Progress | None = None) -> RunOutcome:
    """Evaluate every system of ``config`` on ``dataset``; ``progress`` sees every step."""
    _prepare(config)
    report = progress or (lambda phase, n: None)
    start = time.perf_counter()
    by_conv: dict[str, list[Question]] = {c.id: [] for c in dataset.conversations}
    for q in dataset.questions:
        by_conv[q.conversation_id].append(q)
    unanswerable = frozenset(dataset.categories) - dataset.overall_categories
    outcomes: dict[str, ConversationOutcome] = {}
    if config.workers == 1 or len(dataset.conversations) == 1:
        for conv in dataset.conversations:
            outcomes[conv.id] = run_conversation(
                conv, by_conv[conv.id], config, report, unanswerable
            )
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager, ProcessPoolExecutor(config.workers, mp_context=ctx) as pool:
            queue = manager.Queue()
            pending: dict[Future[ConversationOutcome], str] = {
                pool.submit(_worker, conv, by_conv[conv.id], config, queue, unanswerable): conv.id
                for conv in dataset.conversations
            }
            try:
                while pending:
                    done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    _drain(queue, report)
                    for future in done:
                        outcomes[pending.pop(future)] = future.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            _drain(queue, report)
    ordered = [outcomes[c.id] for c in dataset.conversations]
    return RunOutcome(
        ingests=[i for o in ordered for i in o.ingests],
        records=[r for o in ordered for r in o.records],
        seconds=time.perf_counter() - start,
    )


def _drain(queue: Any, report: Progress) -> None:
    while not queue.empty():
        phase, n = queue.get_nowait()
        report(phase, n)
