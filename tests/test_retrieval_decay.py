"""Decay: recency on questions about the present, access everywhere, both off in ``full``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.recipes import RECIPES
from agents.retrieval.decay import decay_factors, decayed
from agents.state import Candidate
from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.model import Granularity, MemoryUnit, Namespace, Turn, make_unit
from memory.settings import Settings

NS = Namespace(user_id="ana")


def _unit(text: str, month: int, used: int = 0) -> MemoryUnit:
    unit = make_unit(NS, Granularity.FACT, text, event_time=datetime(2024, month, 1, tzinfo=UTC))
    return unit.model_copy(update={"access_count": used})


def test_recency_places_each_unit_between_the_oldest_and_the_newest() -> None:
    old, mid, new = _unit("a", 1), _unit("b", 4), _unit("c", 7)
    f = decay_factors([old, mid, new], recency=0.2, access=0.0)
    assert f[old.id] == 1.0 and f[new.id] == pytest.approx(1.2)
    assert 1.0 < f[mid.id] < 1.2


def test_access_is_on_a_log_scale_against_the_most_used() -> None:
    never, once, often = _unit("a", 1, 0), _unit("b", 1, 1), _unit("c", 1, 15)
    f = decay_factors([never, once, often], recency=0.0, access=0.1)
    assert f[never.id] == 1.0 and f[often.id] == pytest.approx(1.1)
    assert f[once.id] == pytest.approx(1 + 0.1 * 0.25)  # log 2 / log 16


def test_both_off_change_nothing() -> None:
    units = [_unit("a", 1, 3), _unit("b", 7, 0)]
    assert set(decay_factors(units, recency=0.0, access=0.0).values()) == {1.0}
    assert RECIPES["full"].recency == 0.0 and RECIPES["full"].access == 0.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        for month, text in ((2, "Ana plays chess at the club."), (9, "Ana plays chess online.")):
            when = datetime(2024, month, 3, tzinfo=UTC)
            turn = Turn(id=f"D{month}:1", session_id=f"S{month}", speaker="Ana", text=text)
            hm.remember(NS, [turn.model_copy(update={"session_time": when})])
        yield hm


def test_decayed_reorders_the_head_by_recency(engine: Hypermnesia) -> None:
    units = [u for u in engine.store.units(NS) if u.granularity == Granularity.TURN]
    old, new = sorted(units, key=lambda u: u.event_time or datetime.min.replace(tzinfo=UTC))
    ranked = [Candidate(unit_id=old.id, score=1.0, sources=["dense"])]
    ranked.append(Candidate(unit_id=new.id, score=0.95, sources=["dense"]))
    assert [c["unit_id"] for c in decayed(engine.store, NS, ranked, recency=0.0, access=0.0)] == [
        old.id,
        new.id,
    ]
    out = decayed(engine.store, NS, ranked, recency=0.2, access=0.0)
    assert [c["unit_id"] for c in out] == [new.id, old.id]


def _stages(engine: Hypermnesia, question: str, recipe: str) -> set[str]:
    run = engine.traces.get(engine.recall(NS, question, recipe=recipe).run_id)
    retriever = next(s for s in run.steps if s.agent == "retriever")
    return {name for c in retriever.candidates for name in c.stages}


def test_recency_applies_to_questions_about_now_only(engine: Hypermnesia) -> None:
    assert "decay" in _stages(engine, "Does Ana play chess?", "with-recency")
    assert "decay" not in _stages(engine, "When did Ana play chess at the club?", "with-recency")
    assert "decay" not in _stages(engine, "Does Ana play chess?", "full")
    assert "decay" in _stages(engine, "When did Ana play chess at the club?", "with-access")
