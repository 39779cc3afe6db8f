"""``app.py bench viewer``: how long the trace viewer takes to render a large read run.

A temporary engine (the fake embedder, no LLM) is given enough synthetic turns that every candidate
of the run is a stored unit, so each row of the page looks its unit up. A read run is then recorded
with ``passes`` retriever steps of ``candidates`` explained candidates each (and one LLM call with a
long prompt), and its page, ``/ui/runs/{run_id}``, is fetched through the real FastAPI app in
process: once to compile the templates, then ``repeat`` times on the clock. Beside the times: the
page's size and what one explained pass adds to the trace store. The last line under ``--json`` is
one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from graphs.aio import AsyncHypermnesia
from graphs.client import Hypermnesia
from graphs.service import create_app
from memory.backends import TraceLog
from memory.embeddings import HashingEmbedder
from memory.model import Namespace, Turn
from memory.settings import Settings
from memory.traces import CandidateTrace, LLMCallTrace, TraceStep

__all__ = ["record_large_run", "run_viewer_bench"]

_NOUNS = ["bakery", "museum", "harbour", "library", "garden", "studio", "market", "station"]
_CITIES = ["Denver", "Boston", "Lisbon", "Osaka", "Quito", "Tallinn", "Perth", "Accra"]
_SESSION = 25


def record_large_run(
    traces: TraceLog,
    run_id: str,
    namespace: str,
    unit_ids: Sequence[str],
    *,
    candidates: int = 200,
    passes: int = 3,
) -> None:
    """Record a finished read run of ``passes`` retriever steps, each explaining ``candidates``
    candidates: ``unit_ids`` in turn, then made-up ids of units no longer stored."""
    explained = [
        CandidateTrace(
            unit_id=unit_ids[n] if n < len(unit_ids) else f"u-gone-{n}",
            rank=n + 1,
            score=1.0 / (n + 1),
            source_ranks={"dense": n + 1, "lexical": candidates - n},
            source_scores={"dense": 0.5, "lexical": 3.0},
            weight=1.0,
            stages={"fused": 0.01, "in range": 0.01, "context": 0.012},
            outcome="packed" if n < 10 else "not reached: budget spent",
        )
        for n in range(candidates)
    ]
    call = LLMCallTrace(
        prompt="judge.sufficiency.v1",
        model="scripted/fake",
        ok=True,
        attempts=1,
        latency_ms=3.0,
        messages=[{"role": "user", "content": "x" * 4000}],
        response="{}",
    )
    step = TraceStep(
        agent="retriever",
        decision="packed 10 units",
        reason="synthetic",
        retrieved=[(c.unit_id, c.score) for c in explained[:10]],
        candidates=explained,
        route={"turn": 1.0, "fact": 1.0},
        llm_calls=[call],
    )
    traces.start(run_id, "read", namespace, {"question": "large", "budget": 1000})
    traces.append(run_id, [step] * passes)
    traces.finish(run_id, "ok", {"evidence": 10})


def _turns(count: int) -> list[list[Turn]]:
    """``count`` synthetic turns in sessions of 25, each naming a place and a city."""
    start = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    sessions: list[list[Turn]] = []
    for n in range(count):
        s = n // _SESSION
        if n % _SESSION == 0:
            sessions.append([])
        text = (
            f"On day {n} I visited the {_NOUNS[n % len(_NOUNS)]} number {n} "
            f"in {_CITIES[(n // 3) % len(_CITIES)]} with friend {n % 17}."
        )
        when = start + timedelta(days=s)
        sessions[-1].append(
            Turn(id=f"B{s}:{n}", session_id=f"B{s}", speaker="Sam", text=text, session_time=when)
        )
    return sessions


def run_viewer_bench(
    *, candidates: int = 200, passes: int = 1, repeat: int = 10, json_out: bool = False
) -> dict[str, Any]:
    """Time the run page of a read with ``passes`` x ``candidates`` explained candidates."""
    ns = Namespace(user_id="bench")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(embedder="fake", llm_model=None)
        with Hypermnesia.open(tmp, settings=settings, embedder=HashingEmbedder()) as hm:
            for turns in _turns(candidates):
                hm.remember(ns, turns, session_end=False)
            ids = [u.id for u in hm.store.units(ns)][:candidates]
            record_large_run(
                hm.traces, "run-bench", ns.key, ids, candidates=candidates, passes=passes
            )
            step_bytes = len(hm.traces.get("run-bench").steps[0].model_dump_json())
            with TestClient(create_app(AsyncHypermnesia(hm))) as client:
                first = client.get("/ui/runs/run-bench")
                first.raise_for_status()
                timings = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    client.get("/ui/runs/run-bench").raise_for_status()
                    timings.append((time.perf_counter() - started) * 1000.0)
    result: dict[str, Any] = {
        "candidates_per_pass": candidates,
        "passes": passes,
        "stored_units_on_page": len(ids),
        "page_kib": round(len(first.content) / 1024, 1),
        "trace_kib_per_pass": round(step_bytes / 1024, 1),
        "render_min_ms": round(min(timings), 1),
        "render_p50_ms": round(statistics.median(timings), 1),
        "render_max_ms": round(max(timings), 1),
        "repeat": repeat,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    table = Table(title="trace viewer: one read run's page")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    if json_out:
        print(json.dumps(result))
    return result
