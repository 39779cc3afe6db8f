"""LLM mode with a scripted model: output is used, garbage falls back loudly, turns survive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from graphs.client import Hypermnesia
from memory.embeddings import HashingEmbedder
from memory.fake_llm import ScriptedLLM
from memory.model import Granularity, Turn, UnitFilter
from prompts.judge import SufficiencyVerdict
from prompts.reflector import Insight, PersonaProfile
from prompts.retriever import QueryAnalysis as PromptQueryAnalysis

from .agent_fixtures import SAM, ingest_sample

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
TURN = Turn(
    id="S1:1",
    session_id="S1",
    speaker="Sam",
    session_time=WHEN,
    text="Yesterday I adopted a beagle named Biscuit.",
)
FACTS = UnitFilter(granularities=frozenset({Granularity.FACT}))


def test_constructor_uses_the_models_facts(tmp_path: Path) -> None:
    llm = ScriptedLLM(
        [
            '{"facts": [{"text": "Sam adopted a beagle named Biscuit.", "subject": "Sam", '
            '"attribute": null, "entities": ["Sam", "Biscuit"], "event_date": "2023-05-07", '
            '"source_turn_ids": ["S1:1"], "importance": 0.8}]}'
        ]
    )
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=llm) as hm:
        result = hm.remember(SAM, [TURN])
        facts = hm.store.units(SAM, FACTS)
        assert [f.text for f in facts] == ["Sam adopted a beagle named Biscuit."]
        assert facts[0].event_time is not None
        assert facts[0].event_time.date().isoformat() == "2023-05-07"
        assert result.llm_calls == 1 and result.llm_tokens > 0
        step = hm.traces.get(result.run_id).steps[0]
        assert step.llm_calls[0].prompt == "constructor.facts.v1"
        assert step.fallback is None
    assert "Yesterday I adopted a beagle" in llm.calls[0].text


def test_garbage_output_falls_back_loudly_and_loses_nothing(tmp_path: Path) -> None:
    llm = ScriptedLLM(["this is not json at all"] * 6)
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=llm) as hm:
        result = hm.remember(SAM, [TURN])
        step = hm.traces.get(result.run_id).steps[0]
        assert step.fallback, "the fallback must be recorded in the trace"
        assert step.llm_calls and not step.llm_calls[0].ok
        assert [t.id for t in hm.store.turns(SAM)] == ["S1:1"]
        turn_units = hm.store.units(SAM, UnitFilter(granularities=frozenset({Granularity.TURN})))
        assert len(turn_units) == 1
        facts = hm.store.units(SAM, FACTS)
        assert any("7 May 2023" in f.text for f in facts), "deterministic facts replace the model's"


def test_judge_asks_the_model_and_records_the_version(tmp_path: Path) -> None:
    llm = ScriptedLLM(
        [
            '{"entities": ["Biscuit"], "time_expressions": [], "keywords": ["adopt"], '
            '"rewritten_query": "Sam adopted Biscuit date"}',
            '{"sufficient": true, "reason": "the adoption is stated", "refined_query": null, '
            '"conflicting_ids": []}',
        ]
    )
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        hm.remember(SAM, [TURN])
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=llm) as hm:
        result = hm.recall(SAM, "When did Sam adopt Biscuit?", budget=200)
        assert result.verdict == "sufficient"
        judge = next(s for s in hm.traces.get(result.run_id).steps if s.agent == "judge")
        assert judge.reason == "the adoption is stated"
        assert judge.llm_calls[0].prompt == "judge.sufficiency.v1"
    assert [c.prompt.name for c in llm.calls] == ["retriever.analyze", "judge.sufficiency"]
    assert "When did Sam adopt Biscuit?" in llm.calls[1].text


def _model_like(messages: list[dict[str, str]], schema: type[BaseModel]) -> BaseModel:
    """A stand-in model that answers every step with a fixed, valid reply."""
    replies: dict[type[BaseModel], BaseModel] = {
        PromptQueryAnalysis: PromptQueryAnalysis(
            entities=["Biscuit"], rewritten_query="beagle pet"
        ),
        SufficiencyVerdict: SufficiencyVerdict(sufficient=True, reason="enough"),
        Insight: Insight(text="Sam's life revolves around Biscuit.", source_ids=[]),
        PersonaProfile: PersonaProfile(summary="Sam is a nurse who loves dogs.", traits=["caring"]),
    }
    return replies[schema]


def test_retriever_and_reflector_use_the_model(tmp_path: Path) -> None:
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
    llm = ScriptedLLM([_model_like] * 40)
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=llm) as hm:
        recalled = hm.recall(SAM, "What is the name of Sam's dog?", budget=200)
        retriever = hm.traces.get(recalled.run_id).steps[0]
        assert retriever.llm_calls[0].prompt == "retriever.analyze.v1"
        assert "beagle pet" in retriever.inputs["search_text"]
        assert "Biscuit" in retriever.inputs["entities"]

        reflected = hm.reflect(SAM)
        step = next(s for s in hm.traces.get(reflected.run_id).steps if s.agent == "reflector")
        prompts = {c.prompt for c in step.llm_calls}
        assert "reflector.persona.v1" in prompts and step.fallback is None
        personas = hm.store.units(SAM, UnitFilter(granularities=frozenset({Granularity.PERSONA})))
        worded = [p for p in personas if p.text.startswith("Sam is a nurse who loves dogs.")]
        assert worded and worded[0].derived_from, "a worded persona still links to its facts"
