"""The litellm seam against a real local server that fails on purpose.

Each test scripts the server's answers (429, 500, stalls, broken JSON) and counts the requests it
received, so retries are shown to be exactly as many as configured, and the fallback to carry a
reason and the failed call's record.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator

import pytest

from memory.errors import LLMError, LLMOutputError, LLMTimeoutError
from memory.llm import LiteLLMClient, PromptRef, structured_or_fallback
from prompts.judge import SUFFICIENCY, SufficiencyVerdict, sufficiency_v1
from tests.fault_server import FaultServer, Reply, Stall, Status

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

VALID = json.dumps(
    {"sufficient": True, "reason": "stated", "refined_query": None, "conflicting_ids": []}
)
MESSAGES = sufficiency_v1("Where does Ann live?", [("u1", "Ann lives in Rome.")])
PROMPT: PromptRef = SUFFICIENCY.ref


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def client(server: FaultServer, *, retries: int = 2, timeout_s: float = 5.0) -> LiteLLMClient:
    return LiteLLMClient(
        "openai/fault",
        api_base=server.base_url,
        max_retries=retries,
        timeout_s=timeout_s,
        backoff_s=0.01,
        backoff_max_s=0.05,
    )


def _deterministic() -> SufficiencyVerdict:
    return SufficiencyVerdict(sufficient=False, reason="deterministic", refined_query="Ann home")


def test_valid_reply_in_json_mode_with_tokens_and_latency(server: FaultServer) -> None:
    server.script(Reply(VALID, prompt_tokens=120, completion_tokens=30))
    value, call = client(server).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert value.sufficient and value.reason == "stated"
    assert (call.ok, call.attempts, call.input_tokens, call.output_tokens) == (True, 1, 120, 30)
    assert call.latency_ms > 0 and call.cost_usd is None  # an unknown model has no known price
    (request,) = server.requests
    assert request["response_format"]["type"] == "json_object"
    assert request["response_format"]["schema"] == SufficiencyVerdict.model_json_schema()
    assert request["messages"] == MESSAGES and request["temperature"] == 0


def test_rate_limits_are_retried_a_bounded_number_of_times_then_fall_back(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(*[Status(429, "slow down")] * 5)
    with caplog.at_level(logging.WARNING, logger="memory.llm"):
        value, call, reason = structured_or_fallback(
            client(server, retries=2),
            MESSAGES,
            SufficiencyVerdict,
            prompt=PROMPT,
            fallback=_deterministic,
        )
    assert len(server.requests) == 3  # one attempt and exactly two retries
    assert value == _deterministic()  # nothing lost: the deterministic verdict stands in
    assert call is not None and not call.ok and call.attempts == 3
    assert call.error is not None and "RateLimitError" in call.error
    assert reason is not None and "judge.sufficiency@v1" in reason and "3 attempt" in reason
    assert reason in caplog.text


def test_server_errors_exhaust_retries_into_an_llm_error(server: FaultServer) -> None:
    server.script(*[Status(500, "boom")] * 4)
    with pytest.raises(LLMError) as info:
        client(server, retries=1).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert not isinstance(info.value, LLMTimeoutError | LLMOutputError)
    assert len(server.requests) == 2
    assert info.value.call is not None and info.value.call.attempts == 2


def test_a_500_followed_by_success_recovers(server: FaultServer) -> None:
    server.script(Status(500), Status(503), Reply(VALID))
    value, call = client(server, retries=2).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert value.sufficient and call.ok and call.attempts == 3
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server: FaultServer) -> None:
    server.script(Status(401, "bad key"), Reply(VALID))
    with pytest.raises(LLMError, match="bad key"):
        client(server, retries=3).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert len(server.requests) == 1


def test_invalid_json_is_repaired_without_another_request(server: FaultServer) -> None:
    server.script(
        Reply("```json\n{'sufficient': false, 'reason': 'thin', 'conflicting_ids': [],}\n```")
    )
    value, call = client(server).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert (value.sufficient, value.reason) == (False, "thin")
    assert call.ok and call.attempts == 1 and len(server.requests) == 1


def test_unrepairable_output_is_re_asked_with_the_validation_error(server: FaultServer) -> None:
    server.script(Reply('{"reason": "forgot the verdict"}', 50, 10), Reply(VALID, 80, 12))
    value, call = client(server).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert value.sufficient and call.ok and call.attempts == 2
    assert (call.input_tokens, call.output_tokens) == (130, 22)  # both requests counted
    reask = server.requests[1]["messages"]
    assert reask[: len(MESSAGES)] == MESSAGES
    assert reask[-2] == {"role": "assistant", "content": '{"reason": "forgot the verdict"}'}
    assert "sufficient: Field required" in reask[-1]["content"]


def test_output_that_never_validates_is_an_output_error_with_raw_text(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply("I think Rome?"), Reply("Still not JSON, sorry."))
    with (
        caplog.at_level(logging.WARNING, logger="memory.llm"),
        pytest.raises(LLMOutputError) as info,
    ):
        client(server).structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert "judge.sufficiency@v1" in caplog.text and "Still not JSON, sorry." in caplog.text
    call = info.value.call
    assert call is not None and not call.ok and call.attempts == 2
    assert call.raw_text == "Still not JSON, sorry."
    assert len(server.requests) == 2

    server.script(Reply("Rome."), Reply("Rome!"))
    value, failed, reason = structured_or_fallback(
        client(server), MESSAGES, SufficiencyVerdict, prompt=PROMPT, fallback=_deterministic
    )
    assert len(server.requests) == 4
    assert value == _deterministic()
    assert reason is not None and "LLMOutputError" in reason
    assert failed is not None and failed.raw_text == "Rome!"


def test_timeouts_are_bounded_in_wall_time(server: FaultServer) -> None:
    server.script(Stall(30.0), Stall(30.0), Stall(30.0))
    started = time.perf_counter()
    with pytest.raises(LLMTimeoutError) as info:
        client(server, retries=1, timeout_s=0.5).structured(
            MESSAGES, SufficiencyVerdict, prompt=PROMPT
        )
    elapsed = time.perf_counter() - started
    assert len(server.requests) == 2
    assert info.value.call is not None and info.value.call.attempts == 2
    # Two 0.5 s timeouts and a tiny backoff, far below one 30 s stall even on a busy machine.
    assert 1.0 <= elapsed < 15.0


def test_refused_response_format_degrades_to_plain_json_mode(server: FaultServer) -> None:
    llm = LiteLLMClient(
        "openai/fault", api_base=server.base_url, response_mode="json_schema", backoff_s=0.01
    )
    server.script(Status(400, "response_format json_schema is not supported"), Reply(VALID))
    value, call = llm.structured(MESSAGES, SufficiencyVerdict, prompt=PROMPT)
    assert value.sufficient and call.attempts == 2
    first, second = server.requests
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"]["type"] == "json_object"


def test_a_timeout_then_a_server_error_is_a_plain_llm_error(server: FaultServer) -> None:
    server.script(Stall(30.0), Status(502, "bad gateway"))
    with pytest.raises(LLMError, match="bad gateway") as info:
        client(server, retries=1, timeout_s=0.5).structured(
            MESSAGES, SufficiencyVerdict, prompt=PROMPT
        )
    assert not isinstance(info.value, LLMTimeoutError)
    assert len(server.requests) == 2
