"""``AsyncHypermnesia``: the loop keeps running while the engine works, writes take turns, and a
run of another namespace is as missing as a run that does not exist."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from graphs.aio import AsyncHypermnesia
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.errors import UnitNotFoundError
from memory.model import Namespace, Turn

SAM = Namespace(user_id="sam")


def _open(tmp_path: Path) -> AsyncHypermnesia:
    return AsyncHypermnesia(Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=None))


def _turns(prefix: str, n: int) -> list[Turn]:
    return [
        Turn(
            id=f"{prefix}{i}", session_id="S1", speaker="Sam", text=f"Sam visited city {i} in May."
        )
        for i in range(n)
    ]


def test_the_loop_runs_while_the_engine_writes(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        order: list[str] = []
        async with _open(tmp_path) as hm:

            async def write() -> None:
                await hm.remember(SAM, _turns("T", 40))
                order.append("write")

            async def tick() -> None:
                for _ in range(5):
                    await asyncio.sleep(0)
                order.append("tick")

            await asyncio.gather(write(), tick())
        return order

    assert asyncio.run(scenario()) == ["tick", "write"]  # a blocking write would finish first


def test_concurrent_writes_of_one_fact_store_it_once(tmp_path: Path) -> None:
    """Each write judges its facts against what is stored; run at once, both would find nothing
    and both would store the same fact as new."""
    sentence = "Sam adopted a beagle named Biscuit."

    async def scenario() -> list[str]:
        async with _open(tmp_path) as hm:
            results = await asyncio.gather(
                *(
                    hm.remember(
                        SAM, [Turn(id=f"D{i}", session_id=f"S{i}", speaker="Sam", text=sentence)]
                    )
                    for i in range(4)
                )
            )
        return [d.decision for r in results for d in r.decisions if d.granularity == "fact"]

    decisions = asyncio.run(scenario())
    assert decisions.count("new") == 1 and len(decisions) == 4


def test_reads_answer_and_traces_stay_in_their_namespace(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with _open(tmp_path) as hm:
            written = await hm.remember(SAM, _turns("T", 3))
            answers = await asyncio.gather(
                *(hm.recall(SAM, f"Which city did Sam visit? {i}") for i in range(4))
            )
            assert all(a.evidence for a in answers)
            assert (await hm.run(SAM, written.run_id)).namespace == "sam/default"
            with pytest.raises(UnitNotFoundError, match="no trace run"):
                await hm.run(Namespace(user_id="max"), written.run_id)
            assert {r.run_id for r in await hm.runs(SAM)} >= {written.run_id}
            assert await hm.runs(Namespace(user_id="max")) == []

    asyncio.run(scenario())
