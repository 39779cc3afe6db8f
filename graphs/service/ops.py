"""What each call of the service does, shared by the REST routes and the MCP tools: run it on the
async engine in a namespace already decided, and shape the answer."""

from __future__ import annotations

from graphs.aio import AsyncHypermnesia
from graphs.cli.render import history_ids
from graphs.service.models import (
    DeleteOut,
    HistoryEventOut,
    HistoryOut,
    RecallOut,
    RememberIn,
    RememberOut,
    RunOut,
    RunsOut,
    UnitOut,
)
from memory.model import Namespace

__all__ = ["forget", "history", "recall", "remember", "run", "runs"]


async def remember(hm: AsyncHypermnesia, ns: Namespace, body: RememberIn) -> RememberOut:
    turns = body.engine_turns()
    result = await hm.remember(ns, turns, session_end=body.session_end)
    return RememberOut(
        run_id=result.run_id,
        turns=result.turns,
        turn_ids=[t.id for t in turns],
        decisions=[d.model_dump(mode="json") for d in result.decisions],
        reflected=result.reflected,
    )


async def recall(
    hm: AsyncHypermnesia,
    ns: Namespace,
    question: str,
    *,
    budget: int = 1000,
    max_iterations: int = 3,
    recipe: str = "full",
) -> RecallOut:
    result = await hm.recall(
        ns, question, budget=budget, max_iterations=max_iterations, recipe=recipe
    )
    return RecallOut.of(result)


async def forget(
    hm: AsyncHypermnesia, ns: Namespace, unit_ids: list[str], *, dry_run: bool = False
) -> DeleteOut:
    report = await hm.forget(ns, unit_ids, dry_run=dry_run)
    return DeleteOut(**report.model_dump(), dry_run=dry_run)


async def history(hm: AsyncHypermnesia, ns: Namespace, unit_id: str) -> HistoryOut:
    """The events, and the units they link (a ``put`` lists its whole batch; only the unit
    itself and the units linked by other events are shown, as the command line does)."""
    events = await hm.history(ns, unit_id)
    units = await hm.units(ns, history_ids(unit_id, events))
    return HistoryOut(
        unit_id=unit_id,
        events=[HistoryEventOut(**e.model_dump()) for e in events],
        units=[UnitOut.of(u) for u in units],
    )


async def runs(hm: AsyncHypermnesia, ns: Namespace, *, limit: int = 20) -> RunsOut:
    return RunsOut(runs=[RunOut.of(r) for r in await hm.runs(ns, limit=limit)])


async def run(hm: AsyncHypermnesia, ns: Namespace, run_id: str) -> RunOut:
    return RunOut.of(await hm.run(ns, run_id))
