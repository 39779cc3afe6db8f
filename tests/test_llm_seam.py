"""The LLM seam offline: the scripted LLM, JSON repair, the fallback, the prompt registry."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

import prompts
from memory.errors import InvalidInputError, LLMError, LLMOutputError, LLMTimeoutError
from memory.fake_llm import ScriptedLLM, ScriptExhaustedError
from memory.llm import LiteLLMClient, LLMCall, PromptRef, structured_or_fallback
from memory.llm_repair import extract_json, parse_structured, strip_code_fences
from memory.model import Granularity, Namespace, Turn, make_unit
from prompts import get_prompt
from prompts.answer import NOT_MENTIONED, AnswerOut, respond_v1
from prompts.constructor import FACTS, ExtractedFact, FactList, facts_v1
from prompts.judge import SUFFICIENCY, SufficiencyVerdict, WriteVerdict, sufficiency_v1, write_v1
from prompts.reflector import Insight, insight_v1, persona_v1
from prompts.registry import all_prompts, register, schema_shape
from prompts.retriever import QueryAnalysis, analyze_v1

REF = PromptRef("judge.sufficiency", "v1")
VERDICT = '{"sufficient": true, "reason": "stated", "refined_query": null, "conflicting_ids": []}'
MESSAGES = [{"role": "system", "content": "judge"}, {"role": "user", "content": "Q?"}]


def _deterministic() -> SufficiencyVerdict:
    return SufficiencyVerdict(sufficient=False, reason="deterministic", refined_query="Q")


# -- ScriptedLLM -------------------------------------------------------------------------------


def test_scripted_llm_records_every_prompt_and_answers_in_order() -> None:
    llm = ScriptedLLM(
        [
            VERDICT,
            SufficiencyVerdict(sufficient=False, reason="thin", refined_query="more"),
            lambda messages, schema: json.dumps(
                {"sufficient": True, "reason": messages[-1]["content"], "conflicting_ids": ["a"]}
            ),
        ]
    )
    first, call = llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    second, _ = llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    third, _ = llm.structured(
        [{"role": "user", "content": "echo me"}], SufficiencyVerdict, prompt=REF
    )
    assert (first.sufficient, second.refined_query, third.reason) == (True, "more", "echo me")
    assert third.conflicting_ids == ["a"]
    assert [c.prompt for c in llm.calls] == [REF, REF, REF]
    assert llm.calls[0].messages == MESSAGES and llm.calls[0].schema is SufficiencyVerdict
    assert "echo me" in llm.calls[2].text
    assert call.ok and call.attempts == 1 and call.prompt_name == "judge.sufficiency"
    assert call.input_tokens is not None and call.input_tokens > 0
    assert call.output_tokens is not None and call.output_tokens > 0
    assert llm.remaining == 0


def test_scripted_llm_runs_dry_loudly_even_through_the_fallback() -> None:
    llm = ScriptedLLM([VERDICT])
    llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    with pytest.raises(ScriptExhaustedError, match=r"ran dry: call #2 \(judge.sufficiency@v1"):
        llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    with pytest.raises(AssertionError):
        structured_or_fallback(
            llm, MESSAGES, SufficiencyVerdict, prompt=REF, fallback=_deterministic
        )
    assert len(llm.calls) == 3


def test_scripted_exception_carries_its_call_and_falls_back_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm = ScriptedLLM([LLMTimeoutError("model took too long")])
    with caplog.at_level(logging.WARNING, logger="memory.llm"):
        value, call, reason = structured_or_fallback(
            llm, MESSAGES, SufficiencyVerdict, prompt=REF, fallback=_deterministic
        )
    assert value.reason == "deterministic"
    assert call is not None and not call.ok and call.error == "model took too long"
    assert reason is not None and "judge.sufficiency@v1" in reason and "LLMTimeoutError" in reason
    assert reason in caplog.text


def test_scripted_broken_json_is_repaired_and_unrepairable_text_fails() -> None:
    llm = ScriptedLLM(["```json\n{'sufficient': true, 'reason': 'ok',}\n```", "no idea, sorry"])
    value, _ = llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    assert value.sufficient and value.reason == "ok"
    with pytest.raises(LLMOutputError) as info:
        llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)
    assert info.value.call is not None and info.value.call.raw_text == "no idea, sorry"


def test_scripted_instance_of_the_wrong_model_is_an_output_error() -> None:
    llm = ScriptedLLM([AnswerOut(answer="Paris")])
    with pytest.raises(LLMOutputError, match="scripted AnswerOut is not a SufficiencyVerdict"):
        llm.structured(MESSAGES, SufficiencyVerdict, prompt=REF)


# -- structured_or_fallback --------------------------------------------------------------------


def test_no_client_means_the_deterministic_step_without_a_reason() -> None:
    value, call, reason = structured_or_fallback(
        None, MESSAGES, SufficiencyVerdict, prompt=REF, fallback=_deterministic
    )
    assert (value.reason, call, reason) == ("deterministic", None, None)


def test_successful_call_has_no_fallback_reason() -> None:
    value, call, reason = structured_or_fallback(
        ScriptedLLM([VERDICT]), MESSAGES, SufficiencyVerdict, prompt=REF, fallback=_deterministic
    )
    assert value.sufficient and reason is None
    assert isinstance(call, LLMCall) and call.as_dict()["prompt_version"] == "v1"


# -- repair ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is:\n{"a": [1, 2,],}\nHope that helps.', {"a": [1, 2]}),
        ("{'a': 'single quotes'}", {"a": "single quotes"}),
        ('{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}),
        ("[1, 2]", [1, 2]),
        ("I am not JSON at all", None),
        ("", None),
    ],
)
def test_extract_json_repairs_hand_made_broken_outputs(text: str, expected: object) -> None:
    assert extract_json(text) == expected


def test_strip_code_fences_keeps_plain_text() -> None:
    assert strip_code_fences("```\n{}\n```") == "{}"
    assert strip_code_fences("  {} ") == "{}"


def test_parse_structured_forgives_a_bare_list_and_a_wrapper_key() -> None:
    facts = parse_structured('[{"text": "Ann lives in Paris", "subject": "Ann"}]', FactList)
    assert facts.facts[0].subject == "Ann"
    wrapped = parse_structured('{"SufficiencyVerdict": ' + VERDICT + "}", SufficiencyVerdict)
    assert wrapped.sufficient


def test_parse_structured_names_schema_and_field_on_failure() -> None:
    with pytest.raises(LLMOutputError, match=r"SufficiencyVerdict.*sufficient"):
        parse_structured('{"reason": "missing the verdict"}', SufficiencyVerdict)
    with pytest.raises(LLMOutputError, match="holds no JSON"):
        parse_structured("nothing here", SufficiencyVerdict)


def test_extracted_fact_keeps_iso_dates_and_drops_unparseable_ones() -> None:
    fact = ExtractedFact.model_validate(
        {"text": "t", "subject": "s", "event_date": "2023-05-07T10:00", "importance": 3}
    )
    assert (fact.event_date, fact.importance) == ("2023-05-07", 1.0)
    vague = ExtractedFact.model_validate({"text": "t", "subject": "s", "event_date": "last week"})
    assert vague.event_date is None


# -- LiteLLMClient arguments (no request is made) ---------------------------------------------


def test_litellm_client_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="provider/model"):
        LiteLLMClient("smollm2")
    with pytest.raises(InvalidInputError, match="timeout_s"):
        LiteLLMClient("openai/x", timeout_s=0)
    with pytest.raises(InvalidInputError, match="backoff"):
        LiteLLMClient("openai/x", backoff_s=2, backoff_max_s=1)
    with pytest.raises(InvalidInputError, match="messages"):
        LiteLLMClient("openai/x").structured([], SufficiencyVerdict, prompt=REF)


# -- registry and prompts ----------------------------------------------------------------------


def test_registry_finds_latest_and_named_versions() -> None:
    assert get_prompt("constructor.facts") is FACTS
    assert get_prompt("judge.sufficiency", "v1") is SUFFICIENCY
    assert {p.ref.name for p in all_prompts()} == {
        "constructor.facts",
        "judge.sufficiency",
        "judge.write",
        "retriever.analyze",
        "reflector.insight",
        "reflector.persona",
        "answer.respond",
    }
    with pytest.raises(InvalidInputError, match=r"no prompt named 'judge\.nope'"):
        get_prompt("judge.nope")
    with pytest.raises(InvalidInputError, match="no version 'v9'"):
        get_prompt("judge.sufficiency", "v9")
    with pytest.raises(InvalidInputError, match="already registered"):
        register("judge.sufficiency", "v1", SufficiencyVerdict, sufficiency_v1)
    with pytest.raises(InvalidInputError, match="look like 'v1'"):
        register("judge.other", "1.0", SufficiencyVerdict, sufficiency_v1)


def test_every_prompt_puts_its_output_shape_in_the_system_message() -> None:
    ann = Turn(
        id="D1:1",
        session_id="s1",
        speaker="Ann",
        text="I moved to Rome yesterday!",
        session_time=datetime(2023, 5, 8, 13, 0, tzinfo=UTC),
    )
    unit = make_unit(
        Namespace(user_id="u1", agent_id="a1"),
        Granularity.FACT,
        "Ann moved to Rome",
        provenance=("D1:1",),
        event_time=datetime(2023, 5, 7, tzinfo=UTC),
    )
    built = {
        "constructor.facts": facts_v1([ann]),
        "judge.sufficiency": sufficiency_v1("Where does Ann live?", [unit, ("u2", "Ann: hi")]),
        "judge.write": write_v1("Ann lives in Rome", [(unit.id, unit.text)]),
        "retriever.analyze": analyze_v1("What did Ann do last May?", today="2023-06-01"),
        "reflector.insight": insight_v1([unit]),
        "reflector.persona": persona_v1([unit], person="Ann"),
        "answer.respond": respond_v1("Where does Ann live?", []),
    }
    for prompt in all_prompts():
        messages = built[prompt.ref.name]
        system = messages[0]
        assert system["role"] == "system" and messages[-1]["role"] == "user"
        assert schema_shape(prompt.output) in system["content"]
        for field in prompt.output.model_fields:
            assert f'"{field}"' in system["content"]
    facts_user = built["constructor.facts"][1]["content"]
    assert "Session date: 2023-05-08" in facts_user and "[D1:1] Ann: I moved" in facts_user
    assert (
        f"id={unit.id} (2023-05-07) Ann moved to Rome" in built["judge.sufficiency"][1]["content"]
    )
    assert "(no evidence)" in built["answer.respond"][1]["content"]
    assert NOT_MENTIONED in built["answer.respond"][0]["content"]


def test_prompt_functions_reject_bad_input_by_name() -> None:
    with pytest.raises(InvalidInputError, match="question"):
        sufficiency_v1("  ", [])
    with pytest.raises(InvalidInputError, match="turns"):
        facts_v1([])
    no_date = Turn(id="t1", session_id="s", speaker="Bo", text="hi")
    with pytest.raises(InvalidInputError, match="session_date"):
        facts_v1([no_date])
    with pytest.raises(InvalidInputError, match="ISO date"):
        facts_v1([no_date], session_date="yesterday")
    with pytest.raises(InvalidInputError, match="evidence must be"):
        sufficiency_v1("q?", [("only-one",)])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="units"):
        insight_v1([])


def test_prompt_run_goes_through_the_client_and_records_the_version() -> None:
    llm = ScriptedLLM([VERDICT])
    value, call, reason = get_prompt("judge.sufficiency").run(
        llm, "Where?", [("u1", "Ann lives in Rome")], fallback=_deterministic
    )
    assert value.sufficient and reason is None
    assert call is not None and (call.prompt_name, call.prompt_version) == (
        "judge.sufficiency",
        "v1",
    )
    assert "Ann lives in Rome" in llm.calls[0].text


def test_public_names() -> None:
    assert set(prompts.__all__) >= {"get_prompt", "PromptRef", "FactList", "AnswerOut"}
    models: list[type[BaseModel]] = [
        FactList,
        SufficiencyVerdict,
        WriteVerdict,
        QueryAnalysis,
        Insight,
        AnswerOut,
    ]
    assert all(m.__name__ in prompts.__all__ for m in models)
    assert issubclass(ScriptExhaustedError, LLMError)
