"""The system registry and the question copy systems receive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from evals.baselines import BM25System
from evals.systems import (
    Question,
    RetrievalSystem,
    announce_system,
    available_systems,
    build_system,
    known_systems,
    make_system,
    register_system,
    system_spec,
    unavailable_reason,
)
from memory.errors import InvalidInputError


def test_questions_reach_systems_without_gold_fields() -> None:
    asked = datetime(2023, 1, 1, tzinfo=UTC)
    q = Question("c:q1", "c", "Where?", "multi-hop", ("D1:1",), "Lisbon", asked)
    stripped = q.for_system()
    assert (stripped.evidence, stripped.answer, stripped.category) == ((), None, "")
    assert (stripped.id, stripped.conversation_id, stripped.text, stripped.asked_at) == (
        "c:q1",
        "c",
        "Where?",
        asked,
    )


def test_baselines_are_registered_and_built_by_name(tmp_path: Path) -> None:
    assert {"full_context", "bm25", "dense", "hybrid"} <= set(available_systems())
    system = make_system("bm25", seed=3, cache_dir=tmp_path)
    assert isinstance(system, BM25System) and system.seed == 3
    assert isinstance(system, RetrievalSystem)
    spec = system_spec("bm25", seed=1)
    assert spec.factory == "evals.baselines:BM25System"
    assert isinstance(build_system(spec), BM25System)


class Custom(BM25System):
    name = "custom"


def test_register_a_module_level_factory() -> None:
    register_system("custom-bm25", Custom)
    assert isinstance(make_system("custom-bm25"), Custom)
    assert "custom-bm25" in known_systems()


def test_factories_must_be_importable_by_workers() -> None:
    with pytest.raises(InvalidInputError, match="module-level"):
        register_system("lam", lambda **_: BM25System())
    with pytest.raises(InvalidInputError, match="invalid system name"):
        register_system("bad name!", Custom)


def test_unknown_and_unavailable_systems_are_explained() -> None:
    assert unavailable_reason("bm25") is None
    assert "unknown system 'zzz'" in (unavailable_reason("zzz") or "")
    with pytest.raises(InvalidInputError, match="unknown system 'zzz'"):
        make_system("zzz")
    announce_system("phantom", "evals.phantom_adapter")
    assert unavailable_reason("phantom") == (
        "no adapter registered for 'phantom' yet (module evals.phantom_adapter does not exist)"
    )
    assert "phantom" in known_systems() and "phantom" not in available_systems()
    announce_system("liar", "tests.test_eval_runner")  # registers "scripted", not "liar"
    assert unavailable_reason("liar") == (
        "importing tests.test_eval_runner did not register a system named 'liar'"
    )
