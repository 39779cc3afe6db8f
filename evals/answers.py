"""Answer quality, when an LLM is configured: an answer from the packed items, scored three ways.

The answerer sees the question text and the items packed into the answer budget (nothing gold);
its answer is scored against the gold answer with token F1 and BLEU-1, and by an LLM judge (a
different model when one is given). Unanswerable questions (LoCoMo's adversarial category,
LongMemEval's abstention) are scored as "not mentioned": the answer is right when it says so.
A failed model call scores zero and is counted, never dropped.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from evals.metrics import adversarial_score, bleu1, token_f1
from evals.systems import Question, RetrievedItem
from memory.errors import InvalidInputError, LLMError
from memory.llm import LLMCall, LLMClient, PromptRef
from prompts.answer import NOT_MENTIONED, RESPOND, AnswerOut

__all__ = [
    "JUDGE",
    "AnswerConfig",
    "AnswerRecord",
    "JudgeVerdict",
    "answer_question",
    "build_clients",
    "judge_messages",
]

JUDGE = PromptRef("eval.judge", "v1")

_JUDGE_V1 = (
    "You grade answers to questions about a long conversation. Given the question, the gold "
    "answer and a generated answer, decide whether the generated answer is CORRECT: it must "
    "refer to the same thing as the gold answer; wording, length and date format may differ "
    "(a date within the same day, week or month that the gold answer names counts). "
    'Reply with a JSON object {"correct": true|false, "reason": "<one sentence>"}.'
)


class JudgeVerdict(BaseModel):
    """The judge's decision on one generated answer."""

    correct: bool
    reason: str = ""


@dataclass(frozen=True)
class AnswerConfig:
    """Which models answer and judge, at which budget; the client factory is an import path."""

    model: str
    judge_model: str | None = None
    """``None``: the answering model judges too."""
    api_base: str | None = None
    api_key: str | None = None
    budget: int = 1000
    client_factory: str = "memory.llm:LiteLLMClient"

    def __post_init__(self) -> None:
        if not self.model:
            raise InvalidInputError("an answer model is needed to score answers")
        if self.budget <= 0:
            raise InvalidInputError(f"answer budget must be positive, got {self.budget}")


@dataclass(frozen=True)
class AnswerRecord:
    """One generated answer and its scores; ``judge`` is 1.0 for correct, 0.0 otherwise."""

    prediction: str
    gold: str
    f1: float
    bleu1: float
    judge: float
    llm_calls: int
    llm_tokens: int
    error: str | None = None


def build_clients(config: AnswerConfig) -> tuple[LLMClient, LLMClient]:
    """The answering and judging clients (the same object when no judge model is given)."""
    module, _, qualname = config.client_factory.partition(":")
    factory: Any = importlib.import_module(module)
    for part in qualname.split("."):
        factory = getattr(factory, part)
    options = {"api_base": config.api_base, "api_key": config.api_key}
    answerer: LLMClient = factory(config.model, **options)
    if config.judge_model is None or config.judge_model == config.model:
        return answerer, answerer
    judge: LLMClient = factory(config.judge_model, **options)
    return answerer, judge


def judge_messages(question: str, gold: str, prediction: str) -> list[dict[str, str]]:
    """Messages asking the judge whether ``prediction`` answers ``question`` like ``gold``."""
    return [
        {"role": "system", "content": _JUDGE_V1},
        {
            "role": "user",
            "content": f"Question: {question}\nGold answer: {gold}\nGenerated answer: {prediction}",
        },
    ]


def _tokens(call: LLMCall | None) -> int:
    if call is None:
        return 0
    return (call.input_tokens or 0) + (call.output_tokens or 0)


def answer_question(
    question: Question,
    items: Sequence[RetrievedItem],
    answerer: LLMClient,
    judge: LLMClient,
    *,
    unanswerable: bool,
) -> AnswerRecord:
    """Answer ``question`` from ``items`` and score the answer (the question keeps its gold)."""
    gold = NOT_MENTIONED if unanswerable else (question.answer or "")
    evidence = [(f"E{i + 1}", item.text) for i, item in enumerate(items)]
    calls = tokens = 0
    try:
        out, call = answerer.structured(
            RESPOND.messages(question.text, evidence), AnswerOut, prompt=RESPOND.ref
        )
    except LLMError as exc:
        if isinstance(exc, AssertionError):  # a test script run dry is a bug, not a model failure
            raise
        return AnswerRecord("", gold, 0.0, 0.0, 0.0, 1, _tokens(exc.call), f"answer: {exc}")
    calls, tokens = 1, _tokens(call)
    prediction = out.answer.strip()
    if unanswerable:
        f1 = bleu = adversarial_score(prediction)
    else:
        f1, bleu = token_f1(prediction, gold), bleu1(prediction, gold)
    try:
        verdict, judged = judge.structured(
            judge_messages(question.text, gold, prediction), JudgeVerdict, prompt=JUDGE
        )
    except LLMError as exc:
        if isinstance(exc, AssertionError):
            raise
        error = f"judge: {exc}"
        return AnswerRecord(prediction, gold, f1, bleu, 0.0, 2, tokens + _tokens(exc.call), error)
    return AnswerRecord(
        prediction, gold, f1, bleu, float(verdict.correct), calls + 1, tokens + _tokens(judged)
    )
