"""``app.py bench graph``: the agents end to end, deterministic mode, on real conversation text.

Writes LoCoMo turns session by session through the write graph (constructor → judge → refresher →
reflector) into one namespace until it holds ``n`` units (or the text runs out), then asks LoCoMo
questions through the read graph. Beside the read graph's latency it prints a plain dense search
of the same store, measured in the same run, as the floor the agents add their work to.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.loaders import Dataset
from evals.loaders.locomo import load_locomo
from graphs.client import Hypermnesia
from memory.errors import InvalidInputError
from memory.model import Namespace, Turn
from memory.settings import Settings

__all__ = ["run_graph_bench"]

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "locomo"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _session_batches(dataset: Dataset) -> list[list[Turn]]:
    """Every session of every conversation as the turns of one write, ids made unique."""
    batches: list[list[Turn]] = []
    for conversation in dataset.conversations:
        sessions: dict[str, list[Turn]] = {}
        for t in conversation.turns:
            sessions.setdefault(t.session_id, []).append(
                Turn(
                    id=f"{conversation.id}/{t.id}",
                    session_id=f"{conversation.id}/{t.session_id}",
                    speaker=t.speaker,
                    text=t.text,
                    session_time=t.session_time,
                    image_caption=t.image_caption,
                    index=t.index,
                )
            )
        batches.extend(sessions.values())
    return batches


def _write_until(
    hm: Hypermnesia, ns: Namespace, dataset: Dataset, n: int, console: Console
) -> tuple[int, float]:
    """Write sessions until the namespace holds ``n`` units; (turns written, seconds spent)."""
    written = 0
    seconds = 0.0
    columns = (TextColumn("write"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("write", total=n)
        for turns in _session_batches(dataset):
            started = time.perf_counter()
            hm.remember(ns, turns, session_end=True)
            seconds += time.perf_counter() - started
            written += len(turns)
            units = hm.store.count(ns)
            progress.update(task, completed=min(units, n))
            if units >= n:
                break
    return written, seconds


def run_graph_bench(
    n: int = 10_000,
    json_out: bool = False,
    *,
    data: Path | None = None,
    questions: int = 200,
    budget: int = 1000,
) -> dict[str, Any]:
    """Write throughput (turns/s) and recall latency p50/p95 (ms) at ``n`` units."""

    path = data or DEFAULT_DATA / "locomo_dev.json"
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path} (pass --data with a LoCoMo file)")
    dataset = load_locomo(path)
    ns = Namespace(user_id="bench")
    console = Console(stderr=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Hypermnesia.open(
            tmp, settings=Settings(data_dir=Path(tmp), llm_model=None), checkpoints=True
        ) as hm,
    ):
        written, write_seconds = _write_until(hm, ns, dataset, n, console)
        units = hm.store.stats(ns).units
        asked = [q for q in dataset.questions if q.text.strip()][:questions]
        recall_ms, dense_ms = [], []
        for q in asked:
            started = time.perf_counter()
            hm.store.search(ns, q.text, k=10)
            dense_ms.append((time.perf_counter() - started) * 1000)
            recall_ms.append(hm.recall(ns, q.text, budget=budget).latency_ms)
    result = {
        "units": units,
        "turns": written,
        "write_turns_per_s": round(written / write_seconds, 2),
        "recall_p50_ms": round(statistics.median(recall_ms), 2),
        "recall_p95_ms": round(_percentile(recall_ms, 0.95), 2),
        "dense_search_p50_ms": round(statistics.median(dense_ms), 2),
        "dense_search_p95_ms": round(_percentile(dense_ms, 0.95), 2),
        "questions": len(asked),
        "budget": budget,
        "mode": "deterministic",
    }
    table = Table(title=f"agents end to end, deterministic, {units} units")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    if json_out:
        print(json.dumps(result))
    return result
