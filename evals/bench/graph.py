"""``app.py bench graph``: the agents end to end, deterministic mode, on real conversation text.

Three phases on one engine (the product's defaults: checkpoints on, reflection in the background):

1. **write** — every session of every conversation of a LoCoMo file, imported through
   ``remember_sessions`` (each session a ``remember`` with ``session_end=True``, texts embedded
   ahead), each conversation in its own namespace, or all in one with ``one_namespace``; the
   clock runs from the first write until the last reflection is done.
   Every text the engine embeds is recorded, so the write path's word pieces per second can be
   set beside the raw encoder's on the same texts, measured in the same run.
2. **recall** — LoCoMo questions through ``recall`` on the namespace of their conversation.
3. **recall after write** — the chatbot pattern: before each question, a one-turn ``remember``
   in the same namespace; the recall right after it is timed.

A plain dense search of the same store is timed beside the recalls, as the floor the agents add
their work to. The last line under ``--json`` is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.loaders import Dataset
from evals.loaders.locomo import load_locomo
from evals.systems import Question
from graphs.client import Hypermnesia
from memory.embeddings import Embedder, embedder_from_settings
from memory.errors import InvalidInputError
from memory.model import Namespace, Turn
from memory.settings import Settings

__all__ = ["run_graph_bench"]

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "locomo"


class _Recording:
    """An embedder that remembers every text it was asked to embed (and forwards the call)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@dataclass
class _Plan:
    """What each phase writes and asks, namespace by namespace."""

    writes: list[tuple[Namespace, list[Turn]]] = field(default_factory=list)
    questions: list[tuple[Namespace, str]] = field(default_factory=list)


def _plan(dataset: Dataset, one_namespace: bool, questions: int) -> _Plan:
    plan = _Plan()
    spaces = {}
    for conv in dataset.conversations:
        ns = Namespace(user_id="bench" if one_namespace else conv.id)
        spaces[conv.id] = ns
        sessions: dict[str, list[Turn]] = {}
        for t in conv.turns:
            sessions.setdefault(t.session_id, []).append(
                Turn(
                    id=f"{conv.id}/{t.id}",
                    session_id=f"{conv.id}/{t.session_id}",
                    speaker=t.speaker,
                    text=t.text,
                    session_time=t.session_time,
                    image_caption=t.image_caption,
                    index=t.index,
                )
            )
        plan.writes += [(ns, turns) for turns in sessions.values()]
    asked: list[Question] = [q for q in dataset.questions if q.text.strip()][:questions]
    plan.questions = [(spaces[q.conversation_id], q.text) for q in asked]
    return plan


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _write(hm: Hypermnesia, plan: _Plan, progress: Progress) -> float:
    total = sum(len(turns) for _, turns in plan.writes)
    task = progress.add_task("write", total=total)
    started = time.perf_counter()
    for ns, sessions in _runs(plan.writes):
        for result in hm.remember_sessions(ns, sessions):
            progress.advance(task, result.turns)
    hm.flush()  # the clock stops once the last reflection is done
    return time.perf_counter() - started


def _runs(writes: list[tuple[Namespace, list[Turn]]]) -> list[tuple[Namespace, list[list[Turn]]]]:
    """Consecutive sessions of one namespace, grouped (one import each)."""
    runs: list[tuple[Namespace, list[list[Turn]]]] = []
    for ns, turns in writes:
        if runs and runs[-1][0] == ns:
            runs[-1][1].append(turns)
        else:
            runs.append((ns, [turns]))
    return runs


def _recalls(
    hm: Hypermnesia, plan: _Plan, budget: int, progress: Progress
) -> tuple[list[float], list[float]]:
    """Wall ms of each recall and of a plain dense search of the same question."""
    task = progress.add_task("recall", total=len(plan.questions))
    recall_ms, dense_ms = [], []
    for ns, question in plan.questions:
        started = time.perf_counter()
        hm.store.search(ns, question, k=10)
        dense_ms.append(_ms(time.perf_counter() - started))
        started = time.perf_counter()
        hm.recall(ns, question, budget=budget)
        recall_ms.append(_ms(time.perf_counter() - started))
        progress.advance(task)
    return recall_ms, dense_ms


def _recalls_after_writes(
    hm: Hypermnesia, plan: _Plan, budget: int, progress: Progress
) -> tuple[list[float], list[float]]:
    """Wall ms of each one-turn remember, and of the recall right after it."""
    task = progress.add_task("write+recall", total=len(plan.questions))
    remember_ms, recall_ms = [], []
    for n, (ns, question) in enumerate(plan.questions):
        turns = hm.store.turns(ns)
        when = turns[-1].session_time if turns else None
        turn = Turn(
            id=f"bench-chat:{n}",
            session_id="bench-chat",
            speaker=turns[-1].speaker if turns else "user",
            text=f"Quick note {n}: I am thinking about {question.rstrip('?').lower()}.",
            session_time=when + timedelta(days=1) if when else None,
        )
        started = time.perf_counter()
        hm.remember(ns, [turn], session_end=False)
        remember_ms.append(_ms(time.perf_counter() - started))
        started = time.perf_counter()
        hm.recall(ns, question, budget=budget)
        recall_ms.append(_ms(time.perf_counter() - started))
        progress.advance(task)
    return remember_ms, recall_ms


def _encoder_pieces_per_s(embedder: Embedder, texts: list[str]) -> tuple[int, float | None]:
    """Word pieces in ``texts``, and the raw encoder's pieces per second embedding them once."""
    count = getattr(embedder, "count_pieces", None)
    if count is None:  # an embedder without word pieces (the hashing fake, a remote API)
        return 0, None
    unique = list(dict.fromkeys(texts))
    pieces = int(count(texts))
    started = time.perf_counter()
    embedder.embed(unique)
    seconds = time.perf_counter() - started
    return pieces, round(int(count(unique)) / seconds, 1)


def run_graph_bench(
    json_out: bool = False,
    *,
    data: Path | None = None,
    questions: int = 200,
    budget: int = 1000,
    one_namespace: bool = False,
) -> dict[str, Any]:
    """Write throughput, recall latency read-only and right after a write, embedding figures."""
    path = data or DEFAULT_DATA / "locomo_dev.json"
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path} (pass --data with a LoCoMo file)")
    plan = _plan(load_locomo(path), one_namespace, questions)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), llm_model=None)
        recorder = _Recording(embedder_from_settings(settings))
        with (
            Hypermnesia.open(tmp, settings=settings, embedder=recorder) as hm,
            Progress(*columns, TimeElapsedColumn(), console=console) as progress,
        ):
            write_s = _write(hm, plan, progress)
            written = list(recorder.texts)
            units = sum(hm.store.count(ns) for ns in {ns for ns, _ in plan.writes})
            recall_ms, dense_ms = _recalls(hm, plan, budget, progress)
            remember_ms, after_ms = _recalls_after_writes(hm, plan, budget, progress)
        pieces, embed_rate = _encoder_pieces_per_s(recorder.inner, written)
    turns = sum(len(t) for _, t in plan.writes)
    result: dict[str, Any] = {
        "units": units,
        "turns": turns,
        "namespaces": len({ns for ns, _ in plan.writes}),
        "write_turns_per_s": round(turns / write_s, 2),
        "recall_p50_ms": round(statistics.median(recall_ms), 2),
        "recall_p95_ms": _p(recall_ms, 0.95),
        "recall_after_write_p50_ms": round(statistics.median(after_ms), 2),
        "recall_after_write_p95_ms": _p(after_ms, 0.95),
        "remember_one_turn_p50_ms": round(statistics.median(remember_ms), 2),
        "remember_one_turn_p95_ms": _p(remember_ms, 0.95),
        "dense_search_p50_ms": round(statistics.median(dense_ms), 2),
        "dense_search_p95_ms": _p(dense_ms, 0.95),
        "pieces_embedded": pieces,
        "pipeline_pieces_per_s": round(pieces / write_s, 1) if pieces else None,
        "embed_pieces_per_s": embed_rate,
        "questions": len(plan.questions),
        "budget": budget,
        "mode": "deterministic",
        "embedder": recorder.name,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    _print(result)
    if json_out:
        print(json.dumps(result))
    return result


def _print(result: dict[str, Any]) -> None:
    title = f"agents end to end, deterministic, {result['units']} units"
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
