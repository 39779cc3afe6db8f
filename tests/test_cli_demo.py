"""The demo's check of its reflector claim: an insight is an inference from stored evidence."""

from __future__ import annotations

from graphs.cli.demo import inference_problems
from memory.model import Granularity, MemoryUnit, Namespace, UnitKind, make_unit

NS = Namespace(user_id="sam", agent_id="demo")


def _fact(text: str) -> MemoryUnit:
    return make_unit(NS, Granularity.FACT, text, provenance=("S1:1",))


def _insight(*sources: MemoryUnit, kind: UnitKind = UnitKind.INFERENCE) -> MemoryUnit:
    return make_unit(
        NS,
        Granularity.INSIGHT,
        "About Sam: " + " ".join(s.text for s in sources),
        kind=kind,
        derived_from=tuple(s.id for s in sources),
    )


def test_an_inference_from_stored_evidence_holds() -> None:
    facts = [_fact("Sam moved to Denver."), _fact("Sam works at Denver Health.")]
    insight = _insight(*facts)
    assert inference_problems(insight, {u.id: u for u in [insight, *facts]}) == []


def test_each_broken_link_is_named() -> None:
    stored, lost = _fact("Sam moved to Denver."), _fact("Sam adopted Biscuit.")
    inferred = _insight(stored)
    insight = _insight(stored, lost, inferred)
    problems = inference_problems(insight, {u.id: u for u in [insight, stored, inferred]})
    assert problems == [
        f"insight {insight.id} derives from {lost.id}, which is not stored",
        f"insight {insight.id} derives from {inferred.id}, not evidence",
    ]


def test_evidence_posing_as_an_insight_and_an_insight_from_nothing_fail() -> None:
    fact = _fact("Sam moved to Denver.")
    as_evidence = _insight(fact, kind=UnitKind.EVIDENCE)
    assert inference_problems(as_evidence, {fact.id: fact}) == [
        f"insight {as_evidence.id} is kind=evidence"
    ]
    empty = _insight()
    assert inference_problems(empty, {}) == [f"insight {empty.id} derives from no unit"]
