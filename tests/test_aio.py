"""``AsyncHypermnesia``: the loop keeps running while the engine works, writes to one namespace
take turns and its reads see a write whole, other namespaces do not wait, and a run of another
namespace is as missing as a run that does not exist."""

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


async def _writing(hm: AsyncHypermnesia, ns: Namespace, turns: list[Turn]) -> asyncio.Task[object]:
    """A write of ``turns`` to ``ns``, returned once it holds the namespace's write lock."""
    task = asyncio.create_task(hm.remember(ns, turns))
    while not (ns.key in hm._spaces and hm._spaces[ns.key][0].writer_lock.locked):
        assert not task.done(), "the write ended before it was seen holding its lock"
        await asyncio.sleep(0.001)
    return task


def test_a_write_does_not_hold_back_another_namespace(tmp_path: Path) -> None:
    """A long import for one user; another user's recall and write are answered meanwhile."""
    max_ns = Namespace(user_id="max")

    async def scenario() -> None:
        async with _open(tmp_path) as hm:
            await hm.remember(max_ns, _turns("M", 3))
            write = await _writing(hm, SAM, _turns("T", 300))
            answer = await hm.recall(max_ns, "Which city did Max visit?")
            other = await hm.remember(max_ns, _turns("N", 1))
            assert not write.done(), "the other namespace waited for the write"
            assert answer.evidence and other.turns == 1
            await write
        assert hm._spaces == {}  # a lock lives only while calls use it

    asyncio.run(scenario())


def test_a_read_of_the_namespace_being_written_sees_the_write_whole(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with _open(tmp_path) as hm:
            write = await _writing(hm, SAM, _turns("T", 60))
            during = await hm.recall(SAM, "Which city did Sam visit?")
            assert write.done() and during.evidence
            after = await hm.recall(SAM, "Which city did Sam visit?")
            assert [e.unit_id for e in during.evidence] == [e.unit_id for e in after.evidence]

    asyncio.run(scenario())


def test_erasing_waits_for_every_call_and_runs_alone(tmp_path: Path) -> None:
    max_ns = Namespace(user_id="max")

    async def scenario() -> None:
        async with _open(tmp_path) as hm:
            kept = await hm.remember(max_ns, _turns("M", 2))
            write = await _writing(hm, SAM, _turns("T", 60))
            report = await hm.forget(max_ns, [kept.decisions[0].unit_id])
            assert write.done() and report.deleted

    asyncio.run(scenario())


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
