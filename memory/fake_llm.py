"""A scripted LLM for tests: queued replies, every prompt recorded, loud when the script runs out.

Replies go through the same validation and repair as a real model's, so a test can script broken
JSON and see the seam deal with it. Token counts are real cl100k counts of what was sent and
returned; the cost of a scripted reply is zero.

    llm = ScriptedLLM(['{"sufficient": true, "reason": "r", "refined_query": null,
                        "conflicting_ids": []}'])
    verdict, call = llm.structured(messages, SufficiencyVerdict, prompt=SUFFICIENCY)
    assert llm.calls[0].prompt.name == "judge.sufficiency"
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from memory.errors import LLMError, LLMOutputError
from memory.llm import LLMCall, PromptRef, fail
from memory.llm_records import kept_messages, kept_text
from memory.llm_repair import parse_structured
from memory.tokens import count_tokens

__all__ = ["Reply", "ScriptExhaustedError", "ScriptedCall", "ScriptedLLM"]

T = TypeVar("T", bound=BaseModel)

Reply = (
    str
    | BaseModel
    | BaseException
    | Callable[[list[dict[str, str]], type[BaseModel]], "str | BaseModel | BaseException"]
)
"""A queued reply: JSON text, a model instance, an exception to raise, or a function of the
messages and schema returning one of those."""


class ScriptExhaustedError(LLMError, AssertionError):
    """The scripted LLM was asked more often than its script allows: a bug in the test."""


@dataclass(frozen=True)
class ScriptedCall:
    """One request the scripted LLM received."""

    messages: list[dict[str, str]]
    schema: type[BaseModel]
    prompt: PromptRef

    @property
    def text(self) -> str:
        """All message contents joined, for ``in`` assertions."""
        return "\n".join(m.get("content", "") for m in self.messages)


class ScriptedLLM:
    """An :class:`~memory.llm.LLMClient` that answers from a queue, in order."""

    model = "scripted/fake"

    def __init__(self, replies: Iterable[Reply] = ()) -> None:
        self._queue: deque[Reply] = deque(replies)
        self.calls: list[ScriptedCall] = []

    def push(self, *replies: Reply) -> None:
        """Queue more replies."""
        self._queue.extend(replies)

    @property
    def remaining(self) -> int:
        """Replies still queued."""
        return len(self._queue)

    def structured(
        self, messages: list[dict[str, str]], schema: type[T], *, prompt: PromptRef
    ) -> tuple[T, LLMCall]:
        started = time.perf_counter()
        self.calls.append(ScriptedCall([dict(m) for m in messages], schema, prompt))
        sent = sum(count_tokens(m.get("content", "")) for m in messages)

        def record(text: str | None, error: str | None = None) -> LLMCall:
            return LLMCall(
                prompt_name=prompt.name,
                prompt_version=prompt.version,
                model=self.model,
                attempts=1,
                ok=error is None,
                input_tokens=sent,
                output_tokens=count_tokens(text) if text is not None else None,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                cost_usd=0.0,
                error=error,
                raw_text=text if error is not None else None,
                messages=kept_messages(messages),
                response=None if text is None else kept_text(text),
            )

        if not self._queue:
            message = (
                f"ScriptedLLM ran dry: call #{len(self.calls)} ({prompt}, {schema.__name__}) "
                "has no scripted reply"
            )
            raise fail(ScriptExhaustedError, message, record(None, message))
        reply = self._queue.popleft()
        if callable(reply) and not isinstance(reply, BaseModel | BaseException):
            reply = reply(messages, schema)
        if isinstance(reply, BaseException):
            if isinstance(reply, LLMError):
                reply.call = record(None, str(reply))
            raise reply
        if isinstance(reply, BaseModel):
            text = reply.model_dump_json()
            try:
                value = schema.model_validate(reply.model_dump())
            except ValidationError as exc:
                error = f"{prompt}: scripted {type(reply).__name__} is not a {schema.__name__}"
                raise fail(LLMOutputError, f"{error}: {exc}", record(text, error)) from exc
            return value, record(text)
        try:
            value = parse_structured(reply, schema)
        except LLMOutputError as exc:
            raise fail(LLMOutputError, f"{prompt}: {exc}", record(reply, str(exc))) from exc
        return value, record(reply)

    def __repr__(self) -> str:
        return f"ScriptedLLM(remaining={self.remaining}, calls={len(self.calls)})"
