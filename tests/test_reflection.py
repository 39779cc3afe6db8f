"""Reflection that accumulates: insights replace only what they restate or contradict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.restate import replaced_insight
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Namespace, SaidBy, Turn, UnitFilter, make_unit

from .agent_fixtures import SAM

NS = Namespace(user_id="ann")
INSIGHTS = UnitFilter(granularities=frozenset({Granularity.INSIGHT}))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        yield hm


def fact(text: str, n: int, *, speaker: str = "Ann", attribute: str | None = None) -> MemoryUnit:
    return make_unit(
        NS,
        Granularity.FACT,
        text,
        provenance=[f"S:{n}"],
        speaker=speaker,
        said_by=SaidBy.SELF,
        entities=(speaker,),
        attribute=attribute,
        event_time=datetime(2023, 1, 1 + n, tzinfo=UTC),
    )


def insight(*sources: MemoryUnit) -> MemoryUnit:
    return make_unit(
        NS,
        Granularity.INSIGHT,
        "About Ann: " + " ".join(f.text for f in sources),
        derived_from=tuple(f.id for f in sources),
        entities=("Ann",),
    )


def say(hm: Hypermnesia, session: str, day: int, *texts: str) -> None:
    when = datetime(2023, 3, day, 18, tzinfo=UTC)
    turns = [
        Turn(id=f"{session}:{i}", session_id=session, speaker="Sam", text=t, session_time=when)
        for i, t in enumerate(texts)
    ]
    hm.remember(SAM, turns, session_end=True)


FOOTBALL = (
    "I play football with my team every Tuesday.",
    "I won a football match with my team on Tuesday.",
    "I train for football with my team on Tuesday evenings.",
)
POTTERY = (
    "I made a pottery bowl in the pottery studio.",
    "My pottery teacher at the studio showed me a new glaze for the bowl.",
    "The pottery studio fired my glazed bowl in the kiln.",
)


def test_insights_about_one_person_from_unrelated_clusters_both_stay_current(
    engine: Hypermnesia,
) -> None:
    say(engine, "S1", 1, *FOOTBALL)
    engine.reflect(SAM)
    first = [u for u in engine.store.units(SAM, INSIGHTS) if u.is_current]
    assert len(first) == 1 and "football" in first[0].text
    say(engine, "S2", 2, *POTTERY)
    engine.reflect(SAM)
    insights = engine.store.units(SAM, INSIGHTS)
    assert all(u.is_current for u in insights), "nothing restated or contradicted the first"
    assert {"football", "pottery"} <= {w for u in insights for w in u.text.split()}
    assert all(u.entities[0] == "Sam" for u in insights), "both are about Sam"


def test_an_insight_that_restates_one_supersedes_it(engine: Hypermnesia) -> None:
    say(engine, "S1", 1, *FOOTBALL)
    say(engine, "S2", 2, *POTTERY)
    engine.reflect(SAM)
    before = {u.id: u for u in engine.store.units(SAM, INSIGHTS)}
    say(engine, "S3", 3, "I scored twice in football with my team on Tuesday.")
    result = engine.reflect(SAM)
    updates = [d for d in result.decisions if d.decision == "update" and d.granularity == "insight"]
    assert len(updates) == 1 and updates[0].reason.startswith("restates it: 3 of its 3")
    old = engine.store.get_one(SAM, updates[0].target_id or "")
    assert "football" in old.text and not old.is_current
    assert old.superseded_by == updates[0].unit_id
    new = engine.store.get_one(SAM, updates[0].unit_id)
    assert set(old.derived_from) < set(new.derived_from) and new.provenance
    pottery = next(u for u in before.values() if "pottery" in u.text)
    assert engine.store.get_one(SAM, pottery.id).is_current


def test_restatement_and_contradiction_rules() -> None:
    a, b, c, d = (fact(f"Ann fact {i}.", i) for i in range(4))
    old = insight(a, b, c)
    assert replaced_insight(insight(a, b, d), [old], {}) is not None  # 2 of 3: restates
    assert replaced_insight(insight(a, d), [insight(a, b, c, d)], {}) is None  # 2 of 4: not most
    assert replaced_insight(insight(a, b, d), [old], {}, taken={old.id}) is None
    boston = fact("Ann lives in Boston.", 5, attribute="lives_in=boston")
    denver = fact("Ann moved to Denver.", 6, attribute="lives_in=denver")
    closed = boston.closed(datetime(2023, 2, 1, tzinfo=UTC), denver.id)
    stale = insight(closed, a, b)
    facts = {u.id: u for u in (closed, denver, a, b, c, d)}
    found = replaced_insight(insight(denver, c, d), [stale], facts)
    assert found is not None and found[0] == stale and "superseded" in found[1]
    slots = {**facts, boston.id: boston}
    found = replaced_insight(insight(denver, c, d), [insight(boston, a, b)], slots)
    assert found is not None and "ann|lives_in is 'denver'" in found[1]
