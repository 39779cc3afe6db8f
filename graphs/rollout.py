"""Fair rollouts: the G tries of a group start from the same memory state.

- Read side: :func:`frozen_recall` runs the read graph on the store as it is and leaves no mark on
  it — no access counts (which :meth:`Hypermnesia.recall` records), no checkpoint, and a trace
  only when a trace store is given (traces are not memory). The store's derived views are caches
  of its version, which a read does not change, so one rollout cannot steer the next.
- Write side: :func:`fork_data_folder` copies the data folder of a closed store into a new one:
  the same version, unit for unit and vector for vector, with nothing shared, so writes to a fork
  never reach the original or another fork (and the original's later writes never reach it).
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

from agents.context import RunContext
from agents.policy import Policy
from agents.results import RecallResult
from graphs import read_graph
from graphs.client import read_state, recall_result
from memory.errors import InvalidInputError
from memory.guard import FolderLock
from memory.model import Namespace
from memory.store import MemoryStore
from memory.traces import TraceStep, TraceStore, new_run_id

__all__ = ["fork_data_folder", "frozen_recall"]

_LOCAL = frozenset({".lock"})
"""Files of a data folder that belong to the process holding it, not to its contents."""


def frozen_recall(
    store: MemoryStore,
    ns: Namespace,
    question: str,
    *,
    policy: Policy | None,
    budget: int = 1000,
    max_iterations: int = 3,
    recipe: str = "full",
    asked_at: datetime | None = None,
    traces: TraceStore | None = None,
) -> RecallResult:
    """One read run under ``policy`` that changes nothing in ``store`` (see the module notes).

    The agents run deterministically (no LLM): a rollout's outcome then depends only on the
    memory, the question and the policy.
    """
    if budget < 1 or max_iterations < 1:
        raise InvalidInputError(
            f"budget and max_iterations must be positive, got {budget} and {max_iterations}"
        )
    run_id = new_run_id()
    ctx = RunContext(
        namespace=ns,
        store=store,
        budget_tokens=budget,
        max_iterations=max_iterations,
        recipe=recipe,
        run_id=run_id,
        policy=policy,
    )
    started = time.perf_counter()
    final = read_graph.graph.invoke(
        read_state(question, max_iterations, recipe, asked_at), context=ctx
    )
    result = recall_result(run_id, question, final, (time.perf_counter() - started) * 1000.0)
    if traces is not None:
        traces.start(run_id, "rollout", ns.key, {"question": question, "budget": budget})
        traces.append(run_id, [TraceStep.model_validate(s) for s in final.get("trace", [])])
        traces.finish(run_id, "ok", {"evidence": len(result.evidence), "tokens": result.tokens})
    return result


def fork_data_folder(source: Path, dest: Path) -> Path:
    """Copy the data folder ``source`` (its store must be closed) into the new folder ``dest``."""
    source, dest = Path(source), Path(dest)
    if not (source / "journal.sqlite3").is_file():
        raise InvalidInputError(f"{source} is not a Hypermnesia data folder (no journal.sqlite3)")
    if dest.exists():
        raise InvalidInputError(f"fork destination {dest} already exists")
    lock = FolderLock(source)  # refuses, naming the holder, while a store has the folder open
    try:
        shutil.copytree(source, dest, ignore=lambda _, names: [n for n in names if n in _LOCAL])
    finally:
        lock.release()
    return dest
