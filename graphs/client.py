"""``Hypermnesia``: the engine users hold — remember turns, recall evidence, forget, inspect.

It owns the memory store, the trace store and the two compiled graphs, and runs each call as one
traced graph run. Write runs are checkpointed by default (SQLite in the data folder, or PostgreSQL
with ``HYPERMNESIA_DATABASE_URL``); read runs are not: a read changes no memory, nothing resumes
it, and its trace already holds every decision it made, so a checkpoint would be a second copy of
the trace (it cost a quarter of a recall's time).

Writes are crash-safe end to end: ``remember`` journals the turns with a pending *write* record
before any agent runs and closes it once everything derived from them is stored; opening the data
folder runs every pending write again (ids are deterministic, so nothing is doubled) and resumes
pending reflections; with several workers sharing the stores, only the writes of workers that are
gone are run again, each by one worker. A reflection that a write makes due runs in the background
after that write returns (:mod:`graphs.background`); the next write to the same namespace waits
for it, so results do not depend on timing. Writes to one namespace are serialised; different
namespaces write in parallel.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability

from agents.constructor import unit_texts
from agents.context import Mode, Reflection, RunContext, Thresholds
from agents.policy import Policy
from agents.recipes import get_recipe
from agents.results import Evidence, RecallResult, RememberResult, WriteDecision
from agents.state import ReadState, WriteState
from graphs import long_lived, read_graph, write_graph
from graphs.background import Deferred, Periodic
from graphs.checkpoints import PostgresCheckpoints
from graphs.prefetch import embedded_ahead
from memory.backends import TraceLog, open_trace_store
from memory.embeddings import Embedder
from memory.errors import InvalidInputError
from memory.llm import LiteLLMClient, LLMClient
from memory.model import Namespace, Turn, utcnow
from memory.settings import Settings
from memory.sqlite import WalCheckpointer
from memory.store import DeleteReport, HistoryEvent, MemoryStore, validate_turns
from memory.traces import TraceStep, new_run_id
from prompts.answer import RESPOND, AnswerOut

__all__ = ["Hypermnesia", "read_state", "recall_result"]

log = logging.getLogger(__name__)
_REFLECT = "reflect"
"""The journal's name for a due reflection."""
_DURABILITY: Durability = "exit"
"""Checkpoint a write run once, when it ends. Nothing resumes a run from a mid-run checkpoint: a
write interrupted by a crash is run again from the journal (see :meth:`Hypermnesia.recover`)."""


class Hypermnesia:
    """Long-term memory with five agents. Open with :meth:`open`; close (or use ``with``)."""

    def __init__(
        self,
        store: MemoryStore,
        traces: TraceLog,
        *,
        llm: LLMClient | None = None,
        checkpoint_path: Path | None = None,
        checkpoint_url: str | None = None,
        thresholds: Thresholds | None = None,
        reflection: Reflection = "deferred",
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        """Who takes the routing, write and reflection decisions (None: the hand-set rules)."""
        self.traces = traces
        self.llm = llm
        self.thresholds = thresholds or Thresholds()
        self.reflection: Reflection = reflection
        self._deferred = Deferred()
        self._adopter: Periodic | None = None
        self._writers: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._writers_lock = threading.Lock()
        self._checkpoints: sqlite3.Connection | None = None
        self._wal: WalCheckpointer | None = None
        self._pg_checkpoints: PostgresCheckpoints | None = None
        self._saver: BaseCheckpointSaver[Any] | None = None
        if checkpoint_url is not None:
            self._pg_checkpoints = PostgresCheckpoints(checkpoint_url)
            self._saver = self._pg_checkpoints.saver
        elif checkpoint_path is not None:
            self._checkpoints = sqlite3.connect(
                str(checkpoint_path), check_same_thread=False, timeout=30.0
            )
            self._saver = SqliteSaver(self._checkpoints)
            self._wal = WalCheckpointer(self._checkpoints, checkpoint_path)
        saver = self._saver
        self._write: CompiledStateGraph[Any, Any, Any, Any] = write_graph.builder.compile(
            checkpointer=saver, name="hypermnesia-write"
        )
        self._read: CompiledStateGraph[Any, Any, Any, Any] = read_graph.builder.compile(
            name="hypermnesia-read"
        )
        long_lived.hold()
        self._holds_heap = True

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        llm: LLMClient | None = None,
        checkpoints: bool = True,
        thresholds: Thresholds | None = None,
        reflection: Reflection = "deferred",
        policy: Policy | None = None,
    ) -> Hypermnesia:
        """Open the stores under ``data_dir`` and finish what a crash interrupted (see
        :meth:`recover`); the LLM comes from ``llm`` or the settings."""
        settings = settings or Settings()
        root = Path(data_dir) if data_dir is not None else settings.data_dir
        store = MemoryStore.open(root, settings=settings, embedder=embedder)
        try:
            traces = open_trace_store(root, settings)
        except BaseException:
            store.close()
            raise
        client = llm if llm is not None else LiteLLMClient.from_settings(settings)
        url = settings.database_url
        try:
            engine = cls(
                store,
                traces,
                llm=client,
                checkpoint_path=root / "checkpoints.sqlite3" if checkpoints and not url else None,
                checkpoint_url=url if checkpoints else None,
                thresholds=thresholds,
                reflection=reflection,
                policy=policy,
            )
        except BaseException:
            store.close()
            traces.close()
            raise
        try:
            engine.recover()
            if url:  # other workers may die while this one runs: take over their writes too
                engine._adopter = Periodic(
                    settings.adopt_every_s, engine.adopt, name="hypermnesia-adopt"
                )
        except BaseException:
            engine.close()
            raise
        return engine

    def __enter__(self) -> Hypermnesia:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish the background job under way (queued ones resume on the next open), then
        release every store."""
        if self._adopter is not None:
            self._adopter.close()
        if self._holds_heap:
            self._holds_heap = False
            long_lived.release()
        self._deferred.close()
        self.store.close()
        self.traces.close()
        if self._wal is not None:
            self._wal.close()
        if self._checkpoints is not None:
            self._checkpoints.close()
        if self._pg_checkpoints is not None:
            self._pg_checkpoints.close()

    def flush(self) -> None:
        """Wait until every deferred job queued so far (reflections) has run."""
        self._deferred.wait_all()

    def recover(self) -> int:
        """Resume due reflections and run again every write a crash left unfinished (with
        several workers: every write whose worker is gone, see :meth:`MemoryStore.adopt_writes`).

        Reflections go first: one is only due once the write that made it due has finished, so
        any unfinished write came after it. Returns how many writes were run again.
        """
        for ns in self.store.pending_work(_REFLECT):
            self._schedule_reflection(ns)
        return self._run_adopted_writes()

    def adopt(self) -> int:
        """Take over and finish what workers that are gone left unfinished: their intents and
        journaled turns, then their writes (what opening does, without resuming reflections,
        which live workers may be running). Returns how many writes were run again."""
        self.store.recover()
        return self._run_adopted_writes()

    def _run_adopted_writes(self) -> int:
        pending = self.store.adopt_writes()
        for write in pending:
            with self._writing(write.namespace):
                if write.turns:
                    self._remember_run(write.namespace, write.turns, write.session_end)
                self.store.finish_write(write.write_id)
        return len(pending)

    @contextmanager
    def _writing(self, ns: Namespace) -> Iterator[None]:
        """Hold ``ns``'s write lock, once its deferred reflection (if any) has run."""
        self._deferred.wait(ns.key)
        with self._writers_lock:
            lock = self._writers[ns.key]
        with lock:
            yield

    @property
    def mode(self) -> Mode:
        return "llm" if self.llm is not None else "deterministic"

    def context(self, ns: Namespace, **overrides: Any) -> RunContext:
        """The run context of one call."""
        fields: dict[str, Any] = {
            "namespace": ns,
            "store": self.store,
            "mode": self.mode,
            "llm": self.llm,
            "thresholds": self.thresholds,
            "reflection": self.reflection,
            "policy": self.policy,
        }
        fields.update(overrides)
        return RunContext(**fields)

    # -- write ---------------------------------------------------------------------------------

    def remember(
        self, ns: Namespace, turns: Sequence[Turn], *, session_end: bool = True
    ) -> RememberResult:
        """Journal the turns, then build, judge and store their units (one traced run).

        Returns once turns, facts and segments are stored; a reflection it makes due runs in the
        background (``reflection="deferred"``, the default) or before it returns (``"inline"``).
        """
        with self._deferred.foreground():
            checked, write_id = self.store.record_write(ns, turns, session_end=session_end)
            with self._writing(ns):
                result = self._remember_run(ns, checked, session_end)
                self.store.finish_write(write_id)
        return result

    def remember_sessions(
        self, ns: Namespace, sessions: Sequence[Sequence[Turn]]
    ) -> Iterator[RememberResult]:
        """Remember past sessions in order, each as ``remember(ns, turns, session_end=True)``
        would (the same units, decisions and traces): the way to import a history.

        Every session is checked before the first is written (InvalidInputError names the bad
        one). While one window of sessions is written, worker threads embed the texts the next
        windows' units will carry, in large batches (:mod:`graphs.prefetch`); in LLM mode
        facts come from the model, so only turn texts are embedded ahead (a segment's vector is
        its turns' mean). Yields each session's result once it is stored.
        """
        if isinstance(sessions, (str, bytes)) or not isinstance(sessions, Sequence):
            raise InvalidInputError(
                f"sessions must be a sequence of turn lists, not {type(sessions).__name__}"
            )
        checked = []
        for i, turns in enumerate(sessions):
            try:
                checked.append(validate_turns(turns))
            except InvalidInputError as exc:
                raise InvalidInputError(f"session {i}: {exc}") from None
        return self._remember_sessions(ns, checked)

    def _remember_sessions(
        self, ns: Namespace, sessions: list[list[Turn]]
    ) -> Iterator[RememberResult]:
        facts = self.llm is None

        def texts(turns: list[Turn]) -> list[str]:
            return unit_texts(turns, facts=facts)

        for turns in embedded_ahead(sessions, texts, self.store.embed):
            yield self.remember(ns, turns, session_end=True)

    def _remember_run(
        self, ns: Namespace, turns: Sequence[Turn], session_end: bool
    ) -> RememberResult:
        state: WriteState = {
            "turns": [t.model_dump(mode="json") for t in turns],
            "session_end": session_end,
        }
        result, due = self._write_run(ns, state, {"turns": len(turns), "session_end": session_end})
        if due:
            self.store.mark_pending(ns, _REFLECT)  # durable before the write is marked finished
            self._schedule_reflection(ns)
        return result.model_copy(update={"reflection_pending": due})

    def reflect(self, ns: Namespace) -> RememberResult:
        """Run the reflector now, whatever the count of new facts."""
        with self._writing(ns):
            result, _ = self._write_run(ns, {"turns": [], "force_reflect": True}, {"reflect": True})
            self.store.clear_pending(ns, _REFLECT)
        return result

    def _schedule_reflection(self, ns: Namespace) -> None:
        self._deferred.submit(ns.key, lambda: self._deferred_reflection(ns))

    def _deferred_reflection(self, ns: Namespace) -> None:
        with self._writers_lock:
            lock = self._writers[ns.key]
        with lock:
            self._write_run(ns, {"turns": [], "force_reflect": True}, {"reflect": "deferred"})
            self.store.clear_pending(ns, _REFLECT)

    def _write_run(
        self, ns: Namespace, state: WriteState, summary: dict[str, Any]
    ) -> tuple[RememberResult, bool]:
        """One traced run of the write graph; (its result, whether a reflection is now due)."""
        run_id = new_run_id()
        ctx = self.context(ns, run_id=run_id)
        final = self._traced(self._write, run_id, "write", ns, state, summary, ctx)
        steps = [TraceStep.model_validate(s) for s in final.get("trace", [])]
        self.traces.append(run_id, steps)
        decisions = [WriteDecision.model_validate(d) for d in final.get("applied", [])]
        calls = [c for s in steps for c in s.llm_calls]
        result = RememberResult(
            run_id=run_id,
            turns=len(state.get("turns", [])),
            decisions=decisions,
            reflected=bool(final.get("reflect_done")),
            llm_calls=len(calls),
            llm_tokens=sum((c.input_tokens or 0) + (c.output_tokens or 0) for c in calls),
            fallbacks=[f"{s.agent}: {s.fallback}" for s in steps if s.fallback],
        )
        counts = Counter(d.decision for d in decisions)
        self.traces.finish(run_id, "ok", {"decisions": counts, "reflected": result.reflected})
        return result, bool(final.get("reflect_due"))

    def _traced(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        run_id: str,
        kind: str,
        ns: Namespace,
        state: WriteState | ReadState,
        summary: dict[str, Any],
        ctx: RunContext,
    ) -> dict[str, Any]:
        """Run ``graph`` once as trace run ``run_id``; a failure is recorded, then raised."""
        self.traces.start(run_id, kind, ns.key, summary)
        try:
            final: dict[str, Any] = graph.invoke(
                state,
                config={"configurable": {"thread_id": run_id}},
                context=ctx,
                durability=_DURABILITY if graph.checkpointer is not None else None,
            )
        except Exception as exc:
            self.traces.finish(run_id, "failed", {"error": repr(exc)})
            raise
        return final

    # -- read ----------------------------------------------------------------------------------

    def recall(
        self,
        ns: Namespace,
        question: str,
        *,
        budget: int = 1000,
        max_iterations: int = 3,
        recipe: str = "full",
        asked_at: datetime | None = None,
    ) -> RecallResult:
        """Evidence for ``question`` within ``budget`` tokens (one traced run).

        Relative dates in the question ("yesterday", "last week") resolve against ``asked_at``,
        by default the time of the call.
        """
        _check_recall(question, budget, max_iterations)
        state = read_state(question, max_iterations, recipe, asked_at)
        summary = {
            "question": question,
            "budget": budget,
            "recipe": recipe,
            "max_iterations": max_iterations,
            "asked_at": state["asked_at"],
        }
        run_id = new_run_id()
        ctx = self.context(
            ns, budget_tokens=budget, max_iterations=max_iterations, recipe=recipe, run_id=run_id
        )
        started = time.perf_counter()
        with self._deferred.foreground(), self.store.snapshot():
            final = self._traced(self._read, run_id, "read", ns, state, summary, ctx)
        latency_ms = (time.perf_counter() - started) * 1000.0
        steps = [TraceStep.model_validate(s) for s in final.get("trace", [])]
        self.traces.append(run_id, steps)
        result = recall_result(run_id, question, final, latency_ms)
        result.fallbacks = [f"{s.agent}: {s.fallback}" for s in steps if s.fallback]
        self.store.record_access(ns, [e.unit_id for e in result.evidence])
        self.traces.finish(run_id, "ok", _recall_summary(result))
        return result

    def answer(self, ns: Namespace, question: str, recall: RecallResult) -> str | None:
        """An answer from the configured LLM over the recalled evidence; None without an LLM."""
        if self.llm is None:
            return None
        value, _, fallback = RESPOND.run(
            self.llm,
            question,
            [(e.unit_id, e.text) for e in recall.evidence],
            fallback=lambda: AnswerOut(answer="", evidence_ids=[]),
        )
        return None if fallback is not None else value.answer

    # -- maintenance ---------------------------------------------------------------------------

    def forget(
        self,
        ns: Namespace,
        unit_ids: Sequence[str],
        *,
        dry_run: bool = False,
        compact: bool = True,
    ) -> DeleteReport:
        """Erase units and everything derived from them; ``dry_run`` only reports what would go.

        Besides the stores (:meth:`MemoryStore.delete`), the traces and checkpoints of every run
        that wrote or retrieved them are erased. With ``compact`` (the default) every file is
        then rewritten so no byte of them is left (:meth:`compact`; seconds per ten thousand
        units); without it, call :meth:`compact` later.
        """
        with self._writing(ns):
            report = self.store.delete(ns, unit_ids, reason="forget requested", dry_run=dry_run)
            if dry_run:
                return report
            runs = set(report.runs) | self.traces.runs_mentioning(ns.key, report.deleted)
            self.traces.erase(runs)
            if self._saver is not None:
                for run_id in runs:
                    self._saver.delete_thread(run_id)
            if compact:
                self.compact()
        return report

    def compact(self) -> None:
        """Rewrite every file of the data folder without free pages or logs (see
        :meth:`MemoryStore.compact`), so erased content leaves the disk."""
        self.store.compact()
        self.traces.compact()
        if self._checkpoints is not None and isinstance(self._saver, SqliteSaver):
            # The saver holds its lock until its writes commit; VACUUM fails inside a transaction
            # that a write run on another thread (another namespace, a reflection) has open.
            with self._saver.lock:
                self._checkpoints.execute("VACUUM")
                self._checkpoints.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self._pg_checkpoints is not None:
            self._pg_checkpoints.compact()

    def history(self, ns: Namespace, unit_id: str) -> list[HistoryEvent]:
        return self.store.history(ns, unit_id)


def _check_recall(question: str, budget: int, max_iterations: int) -> None:
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("question is empty")
    if budget < 1:
        raise InvalidInputError(f"budget must be a positive number of tokens, got {budget}")
    if max_iterations < 1:
        raise InvalidInputError(f"max_iterations must be at least 1, got {max_iterations}")


def read_state(
    question: str, max_iterations: int, recipe: str, asked_at: datetime | None
) -> ReadState:
    """The read graph's first state for ``question`` (asked now when ``asked_at`` is None)."""
    return {
        "question": question,
        "query": question,
        "iteration": 0,
        "max_iterations": max_iterations,
        "iterative": get_recipe(recipe).iterative,
        "asked_at": (asked_at or utcnow()).isoformat(),
    }


def recall_result(
    run_id: str, question: str, final: dict[str, Any], latency_ms: float
) -> RecallResult:
    """What a read run returns, from its final state."""
    evidence = [Evidence.model_validate(e) for e in final.get("evidence", [])]
    return RecallResult(
        run_id=run_id,
        question=question,
        final_query=final.get("query", question),
        evidence=evidence,
        tokens=sum(e.tokens for e in evidence),
        iterations=final.get("iteration", 0),
        verdict=final.get("verdict", "insufficient"),
        route=final.get("route", {}),
        conflicts_resolved=final.get("resolved", []),
        latency_ms=latency_ms,
        route_action=final.get("route_action", {}),
    )


def _recall_summary(result: RecallResult) -> dict[str, Any]:
    return {
        "verdict": result.verdict,
        "evidence": len(result.evidence),
        "tokens": result.tokens,
        "iterations": result.iterations,
        "latency_ms": round(result.latency_ms, 2),
    }
