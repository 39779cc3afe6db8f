"""The one LLM seam: ``structured(messages, schema)`` returns a validated pydantic instance.

Every model call in Hypermnesia goes through :class:`LLMClient`. The litellm implementation does,
in this order:

1. ask in the provider's structured-output mode (``json_schema`` where the provider has it,
   ``json_object`` with the schema attached for OpenAI-compatible local servers such as llama.cpp's,
   plain text where neither is accepted);
2. retry timeouts, 429 and 5xx / connection errors with bounded exponential backoff (tenacity;
   litellm's own retries are off);
3. validate the reply; repair it if it does not validate (:mod:`memory.llm_repair`);
4. if it still does not validate, ask once more with the validation error in the prompt;
5. give up with :class:`LLMError` (or its timeout / output subclasses), the failure's
   :class:`LLMCall` record on the exception's ``call``.

:func:`structured_or_fallback` turns that last failure into a loud fallback to the deterministic
step: the value comes from the fallback, and the reason is logged at WARNING and returned for the
trace. litellm is imported lazily, with its cost-map download disabled, because its import is slow
and reaches for the network.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from memory.errors import InvalidInputError, LLMError, LLMOutputError, LLMTimeoutError
from memory.llm_records import LLMCall, PromptRef, kept_messages, kept_text
from memory.llm_repair import parse_structured

if TYPE_CHECKING:
    from memory.settings import Settings

__all__ = [
    "LLMCall",
    "LLMClient",
    "LiteLLMClient",
    "PromptRef",
    "ResponseMode",
    "fail",
    "structured_or_fallback",
]

T = TypeVar("T", bound=BaseModel)
ResponseMode = Literal["auto", "json_schema", "json_object", "text"]
"""How replies are constrained: ``auto`` picks per provider; ``text`` trusts the prompt alone."""

log = logging.getLogger(__name__)

_MAX_LOGGED_CHARS = 2_000
_DOWNGRADE: dict[ResponseMode, ResponseMode] = {"json_schema": "json_object", "json_object": "text"}


class LLMClient(Protocol):
    """Anything that turns messages into a validated instance of ``schema``."""

    def structured(
        self, messages: list[dict[str, str]], schema: type[T], *, prompt: PromptRef
    ) -> tuple[T, LLMCall]:
        """The validated reply and its call record; :class:`LLMError` after the retries."""
        ...


def fail(error: type[LLMError], message: str, call: LLMCall) -> LLMError:
    """``error(message)`` carrying ``call`` as its ``.call``."""
    exc = error(message)
    exc.call = call
    return exc


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from memory.tokens import count_tokens

    count_tokens("x")  # points TIKTOKEN_CACHE_DIR at litellm's bundled encodings, offline
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def _is_timeout(exc: BaseException) -> bool:
    import httpx
    import openai

    return isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException)


def _is_transient(exc: BaseException) -> bool:
    """Timeouts, rate limits, 5xx and dropped connections: worth another attempt."""
    import httpx
    import openai

    if _is_timeout(exc) or isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return True
    status = _status(exc)
    return status is not None and (status in (408, 429) or status >= 500)


def _mentions_response_format(exc: BaseException) -> bool:
    text = str(exc).lower()
    return _status(exc) in (400, 422) and ("response_format" in text or "json_schema" in text)


@dataclass
class _Tally:
    """What the attempts of one ``structured()`` call have added up to so far."""

    attempts: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    cost_unknown: bool = False
    timeouts: int = 0
    started: float = field(default_factory=time.perf_counter)
    messages: tuple[dict[str, str], ...] = ()
    """The last request's messages, as the call record keeps them."""
    response: str | None = None
    """The last reply's text, as the call record keeps it."""

    def add_usage(self, prompt_tokens: Any, completion_tokens: Any, cost: float | None) -> None:
        if isinstance(prompt_tokens, int):
            self.input_tokens = (self.input_tokens or 0) + prompt_tokens
        if isinstance(completion_tokens, int):
            self.output_tokens = (self.output_tokens or 0) + completion_tokens
        if cost is None:
            self.cost_unknown = True
        else:
            self.cost_usd = (self.cost_usd or 0.0) + cost

    def record(
        self, prompt: PromptRef, model: str, *, error: str | None = None, raw: str | None = None
    ) -> LLMCall:
        return LLMCall(
            prompt_name=prompt.name,
            prompt_version=prompt.version,
            model=model,
            attempts=self.attempts,
            ok=error is None,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            latency_ms=(time.perf_counter() - self.started) * 1000.0,
            cost_usd=None if self.cost_unknown else self.cost_usd,
            error=error,
            raw_text=raw,
            messages=self.messages,
            response=self.response,
        )


class LiteLLMClient:
    """The seam over ``litellm.completion``: any ``provider/model``, local servers via ``api_base``.

    ``max_retries`` counts retries of transient errors per request (so at most ``max_retries + 1``
    requests before the re-ask, and as many again for it); backoff doubles from ``backoff_s`` up to
    ``backoff_max_s``.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_mode: ResponseMode = "auto",
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        reask: bool = True,
    ) -> None:
        if not model or "/" not in model:
            raise InvalidInputError(f"model must be a 'provider/model' string, got {model!r}")
        if timeout_s <= 0:
            raise InvalidInputError(f"timeout_s must be > 0, got {timeout_s}")
        if max_retries < 0:
            raise InvalidInputError(f"max_retries must be >= 0, got {max_retries}")
        if backoff_s < 0 or backoff_max_s < backoff_s:
            raise InvalidInputError(
                f"need 0 <= backoff_s <= backoff_max_s, got {backoff_s} and {backoff_max_s}"
            )
        self.model = model
        self.api_base = api_base
        # OpenAI-compatible local servers need no key, but the OpenAI client insists on one.
        self.api_key = api_key if api_key is not None or api_base is None else "no-key"
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.response_mode: ResponseMode = response_mode
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.reask = reask

    @classmethod
    def from_settings(cls, settings: Settings) -> LiteLLMClient | None:
        """The client the settings configure, or ``None`` for the deterministic agents."""
        if not settings.llm_model:
            return None
        return cls(
            settings.llm_model,
            api_base=settings.llm_api_base,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    def __repr__(self) -> str:
        return f"LiteLLMClient(model={self.model!r}, api_base={self.api_base!r})"

    # -- structured output -------------------------------------------------------------------

    def structured(
        self, messages: list[dict[str, str]], schema: type[T], *, prompt: PromptRef
    ) -> tuple[T, LLMCall]:
        """The reply to ``messages`` validated into ``schema``, with its call record."""
        if not messages:
            raise InvalidInputError(f"{prompt}: messages must not be empty")
        tally = _Tally()
        asked = list(messages)
        error: LLMOutputError | None = None
        text = ""
        for _round in range(2 if self.reask else 1):
            tally.messages, tally.response = kept_messages(asked), None
            text = self._complete(asked, schema, prompt, tally)
            tally.response = kept_text(text)
            try:
                value = parse_structured(text, schema)
            except LLMOutputError as exc:
                error = exc
                log.warning(
                    "LLM %s (%s) returned output that does not validate: %s\nraw: %s",
                    prompt,
                    self.model,
                    exc,
                    text[:_MAX_LOGGED_CHARS],
                )
                asked = [
                    *messages,
                    {"role": "assistant", "content": text[:_MAX_LOGGED_CHARS]},
                    {
                        "role": "user",
                        "content": f"That reply was not valid: {exc}\n"
                        "Answer again with only the JSON object, in the shape asked.",
                    },
                ]
                continue
            return value, tally.record(prompt, self.model)
        assert error is not None
        call = tally.record(prompt, self.model, error=str(error), raw=text)
        raise fail(LLMOutputError, f"{prompt}: {error}", call)

    def _mode_for(self) -> ResponseMode:
        if self.response_mode != "auto":
            return self.response_mode
        if self.api_base is not None:
            return "json_object"  # OpenAI-compatible local servers: llama.cpp rejects json_schema
        litellm = _import_litellm()
        if litellm.supports_response_schema(model=self.model):
            return "json_schema"
        return "json_object"

    @staticmethod
    def _response_format(mode: ResponseMode, schema: type[BaseModel]) -> dict[str, Any] | None:
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.__name__,
                    "schema": schema.model_json_schema(),
                    "strict": False,
                },
            }
        if mode == "json_object":
            return {"type": "json_object", "schema": schema.model_json_schema()}
        return None

    def _complete(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        prompt: PromptRef,
        tally: _Tally,
    ) -> str:
        """The text of one completion, transient errors retried; the mode degrades if refused."""
        mode = self._mode_for()
        while True:
            try:
                return self._complete_retrying(messages, mode, schema, prompt, tally)
            except LLMError as exc:
                cause = exc.__cause__
                if cause is None or not _mentions_response_format(cause) or mode not in _DOWNGRADE:
                    raise
                log.warning("LLM %s refused response_format %s: %s", self.model, mode, cause)
                mode = _DOWNGRADE[mode]
                if self.response_mode == "auto":
                    self.response_mode = mode  # remembered: the next call starts there

    def _complete_retrying(
        self,
        messages: list[dict[str, str]],
        mode: ResponseMode,
        schema: type[BaseModel],
        prompt: PromptRef,
        tally: _Tally,
    ) -> str:
        litellm = _import_litellm()
        kwargs = self._request(messages, mode, schema)

        def attempt() -> Any:
            tally.attempts += 1
            try:
                return litellm.completion(**kwargs)
            except Exception as exc:
                if _is_timeout(exc):
                    tally.timeouts += 1
                raise

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            log.info("LLM %s attempt %d failed (%s); retrying", prompt, tally.attempts, exc)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s, min=0, max=self.backoff_max_s),
            retry=retry_if_exception(_is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        attempts_before, timeouts_before = tally.attempts, tally.timeouts
        try:
            response = retrying(attempt)
        except Exception as exc:
            # LLMTimeoutError only when every attempt of this request timed out.
            timeouts = tally.timeouts - timeouts_before
            timed_out = timeouts > 0 and timeouts == tally.attempts - attempts_before
            kind: type[LLMError] = LLMTimeoutError if timed_out else LLMError
            what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
            message = f"{prompt}: {self.model} {what} after {tally.attempts} attempt(s): {exc}"
            raise fail(kind, message, tally.record(prompt, self.model, error=message)) from exc

        return self._content(litellm, response, prompt, tally)

    def _request(
        self, messages: list[dict[str, str]], mode: ResponseMode, schema: type[BaseModel]
    ) -> dict[str, Any]:
        """The keyword arguments of one ``litellm.completion`` call (its own retries off)."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "timeout": self.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        optional = {
            "api_base": self.api_base,
            "api_key": self.api_key,
            "max_tokens": self.max_tokens,
            "response_format": self._response_format(mode, schema),
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        return kwargs

    def _content(self, litellm: Any, response: Any, prompt: PromptRef, tally: _Tally) -> str:
        """The reply's text ("" when it has none), its usage and cost added to ``tally``."""
        usage = getattr(response, "usage", None)
        tally.add_usage(
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            self._cost(litellm, response),
        )
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError) as exc:
            content = None
            log.warning("LLM %s returned no choices: %s", prompt, exc)
        return content if isinstance(content, str) else ""

    @staticmethod
    def _cost(litellm: Any, response: Any) -> float | None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # unknown model or provider: the price is not known
            return None
        return float(cost) if isinstance(cost, int | float) else None


def structured_or_fallback(
    client: LLMClient | None,
    messages: list[dict[str, str]],
    schema: type[T],
    *,
    prompt: PromptRef,
    fallback: Callable[[], T],
) -> tuple[T, LLMCall | None, str | None]:
    """``(value, call record, fallback reason)``: the model's answer, or the deterministic one.

    With no client the deterministic step runs and there is no reason to report. When the model
    fails for good, the fallback runs, and the reason is logged at WARNING and returned so that the
    trace shows it. A failure that is also an :class:`AssertionError` (a test script run dry) is
    never fallen back from.
    """
    if client is None:
        return fallback(), None, None
    try:
        value, call = client.structured(messages, schema, prompt=prompt)
    except LLMError as exc:
        if isinstance(exc, AssertionError):
            raise
        failed = exc.call
        attempts = failed.attempts if failed is not None else 0
        reason = (
            f"LLM fallback: {prompt} failed after {attempts} attempt(s) "
            f"({type(exc).__name__}: {exc}); used the deterministic step"
        )
        log.warning(reason)
        return fallback(), failed, reason
    return value, call, None
