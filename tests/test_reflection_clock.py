"""The count of facts since the newest insight, kept write by write, agrees with a count over
every current unit after writes, updates, reflections and a forget."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agents.reflection_clock import ReflectionClock, facts_since_reflection
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Namespace, make_unit

from .agent_fixtures import say

NS = Namespace(user_id="lee")


def _counted(units: list[MemoryUnit]) -> int:
    current = [u for u in units if u.is_current]
    insights = [u.recorded_at for u in current if u.granularity == Granularity.INSIGHT]
    newest = max(insights, default=None)
    return sum(
        u.granularity == Granularity.FACT and (newest is None or u.recorded_at > newest)
        for u in current
    )


def _say(hm: Hypermnesia, session: str, day: int, *texts: str) -> None:
    say(hm, NS, "Lee", session, day, *texts)


def _agrees(hm: Hypermnesia) -> int:
    found = facts_since_reflection(hm.store, NS)
    assert found == _counted(list(hm.store.current_units(NS).values()))
    return found


def test_the_kept_count_agrees_with_a_full_count(tmp_path: Path) -> None:
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        _say(hm, "S1", 1, "I live in Boston.", "I play chess with my brother on Sundays.")
        first = _agrees(hm)
        assert first > 0
        _say(hm, "S2", 2, "I moved to Denver last month.", "I play chess at the club now.")
        assert _agrees(hm) > first
        hm.reflect(NS)
        _agrees(hm)
        _say(hm, "S3", 3, "I started learning the violin.", "My brother visits me in June.")
        _agrees(hm)
        violin = [u.id for u in hm.store.current_units(NS).values() if "violin" in u.text]
        assert violin
        hm.forget(NS, violin, compact=False)
        _agrees(hm)


def test_a_clock_built_at_once_equals_one_brought_forward() -> None:
    def fact(text: str, day: int) -> MemoryUnit:
        unit = make_unit(NS, Granularity.FACT, text)
        return unit.model_copy(update={"recorded_at": datetime(2023, 1, day, tzinfo=UTC)})

    a, b, c = fact("Lee skis.", 1), fact("Lee cooks.", 3), fact("Lee sings.", 5)
    seen = make_unit(NS, Granularity.INSIGHT, "Lee is active.").model_copy(
        update={"recorded_at": datetime(2023, 1, 2, tzinfo=UTC)}
    )
    closed = b.model_copy(update={"valid_to": datetime(2023, 1, 4, tzinfo=UTC)})
    units = {u.id: u for u in (a, b, seen)}
    clock = ReflectionClock.of(units.values())
    assert clock.since_newest_insight() == 1  # b only: a came before the insight
    units |= {c.id: c, b.id: closed}
    forward = clock.updated([c.id, b.id, b.id], units)
    assert forward == ReflectionClock.of(units.values())
    assert forward.since_newest_insight() == 1  # c; b is closed
    assert clock.since_newest_insight() == 1, "the old clock is left as it was"
    assert ReflectionClock.of([a, b]).since_newest_insight() == 2  # no insight: every fact
