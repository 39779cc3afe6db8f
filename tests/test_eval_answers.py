"""Answer scoring with a scripted LLM: what the answerer sees, how answers score, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from rich.console import Console

from evals.answers import AnswerConfig, JudgeVerdict, answer_question
from evals.cli import run_eval
from evals.systems import Question, RetrievedItem
from memory.errors import InvalidInputError, LLMTimeoutError
from memory.fake_llm import ScriptedLLM
from prompts.answer import AnswerOut

QUESTION = Question(
    "c:q0", "c", "What is the name of Ann's cat?", "single-hop", ("D1:1",), "Pixel", None
)
ITEMS = [
    RetrievedItem("3 March 2023 Ann: I adopted a cat named Pixel.", ("D1:1",), 14, 1.0),
    RetrievedItem("3 March 2023 Ben: Congrats!", ("D1:2",), 9, 0.5),
]


def test_the_answerer_sees_the_evidence_and_question_but_not_the_gold() -> None:
    llm = ScriptedLLM([AnswerOut(answer="Pixel"), JudgeVerdict(correct=True, reason="same name")])
    record = answer_question(QUESTION, ITEMS, llm, llm, unanswerable=False)
    assert (record.prediction, record.gold) == ("Pixel", "Pixel")
    assert (record.f1, record.bleu1, record.judge) == (1.0, 1.0, 1.0)
    assert record.llm_calls == 2 and record.llm_tokens > 0 and record.error is None
    asked, judged = llm.calls
    assert "I adopted a cat named Pixel." in asked.text and QUESTION.text in asked.text
    assert "Gold answer" not in asked.text and "D1:1" not in asked.text
    assert "Gold answer: Pixel" in judged.text and "Generated answer: Pixel" in judged.text


def test_partial_answers_get_partial_f1_and_bleu() -> None:
    llm = ScriptedLLM([AnswerOut(answer="a cat named Pixel"), JudgeVerdict(correct=False)])
    record = answer_question(QUESTION, ITEMS, llm, llm, unanswerable=False)
    # "cat named pixel" vs "pixel": P 1/3, R 1 -> F1 0.5; BLEU-1 = 1/3 (no brevity penalty).
    assert record.f1 == pytest.approx(0.5)
    assert record.bleu1 == pytest.approx(1 / 3)
    assert record.judge == 0.0


def test_unanswerable_questions_are_scored_as_not_mentioned() -> None:
    adversarial = Question(
        "c:q9", "c", "What did Ben say about his dog?", "adversarial", ("D1:2",), None, None
    )
    right = ScriptedLLM([AnswerOut(answer="Not mentioned."), JudgeVerdict(correct=True)])
    record = answer_question(adversarial, ITEMS, right, right, unanswerable=True)
    assert (record.gold, record.f1, record.bleu1, record.judge) == ("not mentioned", 1.0, 1.0, 1.0)
    wrong = ScriptedLLM([AnswerOut(answer="It is a poodle."), JudgeVerdict(correct=False)])
    record = answer_question(adversarial, ITEMS, wrong, wrong, unanswerable=True)
    assert (record.f1, record.bleu1, record.judge) == (0.0, 0.0, 0.0)


def test_a_failed_model_call_scores_zero_and_is_recorded() -> None:
    llm = ScriptedLLM([LLMTimeoutError("model timed out")])
    record = answer_question(QUESTION, ITEMS, llm, llm, unanswerable=False)
    assert (record.f1, record.judge, record.prediction) == (0.0, 0.0, "")
    assert record.error is not None and "timed out" in record.error


def test_answer_config_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="answer model"):
        AnswerConfig(model="")
    with pytest.raises(InvalidInputError, match="answer budget"):
        AnswerConfig(model="x/y", budget=0)


def _first_evidence_line(messages: list[dict[str, str]], schema: type[BaseModel]) -> BaseModel:
    text = messages[-1]["content"]
    lines = [line for line in text.splitlines() if line.startswith("- ") or line.startswith("[")]
    return AnswerOut(answer=lines[0] if lines else "not mentioned")


def _substring_judge(messages: list[dict[str, str]], schema: type[BaseModel]) -> BaseModel:
    text = messages[-1]["content"]
    gold = text.split("Gold answer: ")[1].split("\n")[0].lower()
    generated = text.split("Generated answer: ")[1].lower()
    return JudgeVerdict(correct=gold in generated, reason="substring")


def echo_client(model: str, **_: Any) -> ScriptedLLM:
    """Answers with the first evidence line; judges 'correct' when it contains the gold answer."""
    replies = _first_evidence_line if model == "scripted/answer" else _substring_judge
    return ScriptedLLM([replies] * 1000)


def test_answers_end_to_end_through_the_runner(tmp_path: Path) -> None:
    config = AnswerConfig(
        model="scripted/answer",
        judge_model="scripted/judge",
        budget=500,
        client_factory="tests.test_eval_answers:echo_client",
    )
    results = run_eval(
        "locomo",
        Path(__file__).parent / "data" / "locomo_small.json",
        tmp_path,
        systems=["bm25"],
        workers=1,
        budgets="250,500",
        console=Console(quiet=True),
        answers=config,
    )
    answers = results["systems"]["bm25"]["answers"]  # type: ignore[index]
    assert answers["answered"] == 9 and answers["errors"] == 0 and answers["llm_calls"] == 18
    records = [json.loads(line) for line in (tmp_path / "questions.jsonl").read_text().splitlines()]
    judged = [r["answer"]["judge"] for r in records if r["category"] != "adversarial"]
    assert answers["judge"]["overall"] == pytest.approx(sum(judged) / len(judged))
    assert results["answer_model"] == {
        "model": "scripted/answer",
        "judge_model": "scripted/judge",
        "budget": 500,
    }
    report = (tmp_path / "report.md").read_text()
    assert "## Answer quality at 500 tokens" in report and "### LLM-judge accuracy" in report
