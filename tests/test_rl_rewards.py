"""Rewards over outcomes, and the CoMAM-style mix of local and global rewards."""

from __future__ import annotations

import pytest

from evals.rl.rewards import (
    answer_reward,
    consistency_reward,
    format_reward,
    judged_reward,
    mix_rewards,
    rank_agreement,
    recall_reward,
    route_reward,
    token_cost,
)
from memory.errors import InvalidInputError, LLMError
from memory.fake_llm import ScriptedLLM
from memory.model import Granularity, Namespace, make_unit
from prompts.judge import SufficiencyVerdict

NS = Namespace(user_id="u")


def test_recall_counts_the_gold_turns_covered() -> None:
    assert recall_reward(["D1:1", "D1:2"], ["D1:2", "D3:4"]) == 0.5
    assert recall_reward(["D1:1"], []) == 0.0


def test_token_cost_and_route_reward_price_the_budget() -> None:
    assert token_cost(250, 1000) == 0.25
    assert token_cost(5000, 1000) == 1.0
    assert route_reward(0.8, 1000, 1000, token_weight=0.1) == pytest.approx(0.7)
    assert route_reward(0.8, 500, 1000, token_weight=0.1) > route_reward(0.8, 1000, 1000, 0.1)
    with pytest.raises(InvalidInputError):
        token_cost(10, 0)


def test_answer_reward_is_token_f1() -> None:
    assert answer_reward("in Boston", "Boston") == pytest.approx(2 / 3)
    assert answer_reward("Paris", "Boston") == 0.0


def test_judged_reward_asks_the_llm_judge() -> None:
    judge = ScriptedLLM(
        ['{"correct": true, "reason": "same city"}', '{"correct": false}', LLMError("down")]
    )
    assert judged_reward("Where does Sam live?", "Denver", "in Denver, CO", judge) == 1.0
    assert judged_reward("Where does Sam live?", "Denver", "Boston", judge) == 0.0
    assert judged_reward("Where does Sam live?", "Denver", "Denver", judge) == 0.0
    assert "Generated answer: in Denver, CO" in judge.calls[0].messages[-1]["content"]


def test_format_reward_parses_into_the_output_model() -> None:
    good = '{"sufficient": true, "reason": "named"}'
    fenced = '```json\n{"sufficient": false, "reason": "x", "refined_query": "y"}\n```'
    assert format_reward(good, SufficiencyVerdict) == 1.0
    assert format_reward(fenced, SufficiencyVerdict) == 1.0
    assert format_reward('{"reason": "no verdict"}', SufficiencyVerdict) == 0.0
    assert format_reward("I think it is enough.", SufficiencyVerdict) == 0.0


def _fact(text: str, attribute: str | None = None, speaker: str = "Sam") -> object:
    return make_unit(
        NS,
        Granularity.FACT,
        text,
        speaker=speaker,
        attribute=attribute,
        entities=["Sam"] if attribute else [],
    )


def test_consistency_penalises_slot_clashes_and_duplicates() -> None:
    clean = [_fact("Sam lives in Denver.", "lives_in=denver"), _fact("Sam has a dog.")]
    assert consistency_reward(clean) == 1.0  # type: ignore[arg-type]
    clash = [*clean, _fact("Sam lives in Boston.", "lives_in=boston")]
    assert consistency_reward(clash) == pytest.approx(1 - 1 / 3)  # type: ignore[arg-type]
    repeat = [*clean, _fact("Sam  has a DOG.")]
    assert consistency_reward(repeat) == pytest.approx(1 - 1 / 3)  # type: ignore[arg-type]
    other_voice = [*clean, _fact("Sam has a dog.", speaker="Maya")]
    assert consistency_reward(other_voice) == 1.0  # type: ignore[arg-type]
    assert consistency_reward([]) == 1.0


def test_rank_agreement_is_spearman_over_the_group() -> None:
    assert rank_agreement([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert rank_agreement([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert rank_agreement([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(InvalidInputError):
        rank_agreement([1, 2], [1, 2, 3])


def test_a_local_reward_that_ranks_like_the_global_one_is_trusted() -> None:
    global_ = [0.2, 0.5, 0.9]
    agreeing = [0.0, 0.4, 1.0]
    assert mix_rewards(agreeing, global_) == pytest.approx(agreeing)
    disagreeing = [1.0, 0.5, 0.0]
    assert mix_rewards(disagreeing, global_) == pytest.approx(global_)
    partly = [0.1, 0.9, 0.5]  # Spearman 0.5
    mixed = mix_rewards(partly, global_)
    expected = [0.5 * lo + 0.5 * gl for lo, gl in zip(partly, global_, strict=True)]
    assert mixed == pytest.approx(expected)
