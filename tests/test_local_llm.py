"""LLM steps through litellm against a real local model (llama.cpp server, SmolLM2-135M).

The model is tiny, so what is checked is the plumbing, not the quality: every reply either parses
into the step's pydantic model, or the loud fallback is taken and recorded; tokens are counted.
Skipped only outside CI when llama-cpp-python is not installed; in CI that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory.llm import LiteLLMClient, LLMCall
from memory.model import Turn
from prompts.constructor import FACTS, ExtractedFact, FactList
from prompts.judge import SUFFICIENCY, SufficiencyVerdict
from tests.local_llm_server import MODEL_ALIAS, llama_cpp_missing, llama_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
TURNS = [
    Turn(
        id="D1:1",
        session_id="D1",
        speaker="Caroline",
        text="I went to an LGBTQ support group yesterday and it was so powerful.",
        session_time=WHEN,
    ),
    Turn(
        id="D1:2",
        session_id="D1",
        speaker="Melanie",
        text="That's great! I ran a charity race for mental health last Saturday.",
        session_time=WHEN,
        index=1,
    ),
]


@pytest.fixture(scope="module")
def client() -> Iterator[LiteLLMClient]:
    missing = llama_cpp_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the local LLM test must run in CI: {missing}")
        pytest.skip(missing)
    with llama_server(n_ctx=2048) as api_base:
        yield LiteLLMClient(
            f"openai/{MODEL_ALIAS}",
            api_base=api_base,
            timeout_s=300.0,
            max_retries=1,
            max_tokens=200,
            backoff_s=0.5,
            backoff_max_s=2.0,
        )


def _check_call(call: LLMCall | None, reason: str | None, prompt_name: str) -> LLMCall:
    assert call is not None, "an LLM step must leave a call record"
    assert (call.prompt_name, call.prompt_version) == (prompt_name, "v1")
    assert call.model == f"openai/{MODEL_ALIAS}" and call.attempts >= 1 and call.latency_ms > 0
    if reason is None:
        assert call.ok and call.error is None
    else:  # the loud fallback: recorded with why, and the raw reply kept when it did not parse
        assert not call.ok and call.error and prompt_name in reason
        if "LLMOutputError" in reason:
            assert call.raw_text is not None
    assert call.input_tokens is not None and call.input_tokens > 0
    assert call.output_tokens is not None and call.output_tokens > 0
    assert call.cost_usd is None  # a local model has no known price
    return call


def test_constructor_facts_parse_or_fall_back_loudly(client: LiteLLMClient) -> None:
    def deterministic() -> FactList:
        facts = [
            ExtractedFact(text=t.text, subject=t.speaker, source_turn_ids=[t.id]) for t in TURNS
        ]
        return FactList(facts=facts)

    value, call, reason = FACTS.run(client, TURNS, fallback=deterministic)
    _check_call(call, reason, "constructor.facts")
    assert isinstance(value, FactList)
    if reason is not None:
        assert value == deterministic()
    for fact in value.facts:
        assert fact.event_date is None or len(fact.event_date) == 10
        assert 0.0 <= fact.importance <= 1.0


def test_judge_sufficiency_parses_or_falls_back_loudly(client: LiteLLMClient) -> None:
    def deterministic() -> SufficiencyVerdict:
        return SufficiencyVerdict(sufficient=True, reason="one matching turn")

    value, call, reason = SUFFICIENCY.run(
        client,
        "When did Caroline go to the LGBTQ support group?",
        [("D1:1", "Caroline: I went to an LGBTQ support group yesterday (2023-05-07).")],
        fallback=deterministic,
    )
    _check_call(call, reason, "judge.sufficiency")
    assert isinstance(value, SufficiencyVerdict)
    assert isinstance(value.sufficient, bool) and isinstance(value.conflicting_ids, list)
    if reason is not None:
        assert value == deterministic()


def test_agents_run_in_llm_mode_and_never_lose_a_turn(
    client: LiteLLMClient, tmp_path: Path
) -> None:
    """The constructor and judge agents through the graphs, on the real model."""
    from graphs.client import Hypermnesia
    from memory.embeddings import HashingEmbedder
    from memory.model import Namespace

    ns = Namespace(user_id="caroline")
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=client) as hm:
        written = hm.remember(ns, TURNS[:1])
        assert [t.id for t in hm.store.turns(ns)] == ["D1:1"]
        assert hm.store.stats(ns).units_by_granularity.get("turn") == 1, "the turn is stored"
        constructor = hm.traces.get(written.run_id).steps[0]
        assert constructor.agent == "constructor" and constructor.llm_calls
        call = constructor.llm_calls[0]
        assert call.prompt == "constructor.facts.v1"
        assert (call.input_tokens or 0) > 0 and (call.output_tokens or 0) > 0
        assert call.ok or constructor.fallback, "a failed call must leave a loud fallback"
        assert written.llm_calls >= 1 and written.llm_tokens > 0

        recalled = hm.recall(ns, "When did Caroline go to the support group?", max_iterations=1)
        judge = next(s for s in hm.traces.get(recalled.run_id).steps if s.agent == "judge")
        assert judge.llm_calls and judge.llm_calls[0].prompt == "judge.sufficiency.v1"
        assert judge.llm_calls[0].ok or judge.fallback
        assert recalled.evidence, "evidence comes back whatever the model says"


def test_the_readme_local_model_commands_run_as_written(tmp_path: Path) -> None:
    """The README's local-model block, run by bash from the repository root exactly as a reader
    copies it: the model file is found, the server starts, ingest runs through it and says per
    session whether steps fell back, and the server is stopped."""
    import subprocess
    import sys

    from tests.readme_examples import readme_example

    missing = llama_cpp_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the README's local-model commands must run in CI: {missing}")
        pytest.skip(missing)
    root = Path(__file__).resolve().parents[1]
    venv = Path(sys.executable).parent.parent
    script = readme_example("local-llm").replace(".venv/bin/", f"{venv}/bin/")
    env = {**os.environ, "HYPERMNESIA_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        ["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo → namespace sam/default" in done.stdout
    assert "S1" in done.stdout and "total" in done.stdout


def test_eval_runs_the_agents_in_llm_mode_and_scores_answers(tmp_path: Path) -> None:
    """`app.py eval --llm … --api-base …` on one small conversation: Hypermnesia's ingest makes
    LLM calls (the agents are in LLM mode), every question is answered and judged, and the
    deterministic ingest of the same folder is not reused for it."""
    import json
    import subprocess
    import sys

    missing = llama_cpp_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the LLM-mode evaluation must run in CI: {missing}")
        pytest.skip(missing)
    root = Path(__file__).resolve().parents[1]
    data = tmp_path / "one_session.json"  # the small file's first session and two questions
    (first, *_) = json.loads((root / "tests" / "data" / "locomo_small.json").read_text())
    talk = first["conversation"]
    kept = {k: v for k, v in talk.items() if k.startswith(("speaker", "session_1"))}
    asked = [q for q in first["qa"] if all(e.startswith("D1:") for e in q["evidence"])][:2]
    data.write_text(json.dumps([{**first, "conversation": kept, "qa": asked}]))
    out = tmp_path / "eval"
    base = [sys.executable, str(root / "app.py"), "eval", "--data", str(data), "--out", str(out)]
    base += ["--systems", "hypermnesia", "--limit-conversations", "1", "--workers", "1"]
    env = {**os.environ, "HYPERMNESIA_EMBEDDER": "fake"}
    env.pop("HYPERMNESIA_LLM_MODEL", None)
    plain = subprocess.run(base, env=env, capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0, plain.stderr[-3000:]
    with llama_server(n_ctx=2048) as api_base:
        command = [*base, "--budgets", "1000", "--llm", f"openai/{MODEL_ALIAS}"]
        done = subprocess.run(
            [*command, "--api-base", api_base],
            env=env, capture_output=True, text=True, timeout=1500,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    system = results["systems"]["hypermnesia"]
    assert system["ingest"]["llm_calls"] > 0  # written in LLM mode, not the reused plain ingest
    answers = system["answers"]
    assert answers["answered"] + answers["errors"] == results["questions"] > 0
    assert results["answer_model"]["model"] == f"openai/{MODEL_ALIAS}"
