"""Training the router on a reward table: it learns the better action per context, and averaging
members trained from independent seeds makes the result depend less on the seed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agents.policy import ROUTE_ACTIONS
from evals.rl.train import RewardTable, TrainConfig, train_router
from memory.errors import InvalidInputError

ACTIONS = list(ROUTE_ACTIONS[:3])


def _table(seed: int = 0, n: int = 240) -> RewardTable:
    """Action 1 is better where the first feature is positive, the hand-set action elsewhere;
    action 2 is never better. Rewards carry noise, as recall over a few questions does."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    better = x[:, 0] > 0
    rewards = np.zeros((n, len(ACTIONS)))
    rewards[:, 0] = np.where(better, 0.5, 0.8)
    rewards[:, 1] = np.where(better, 0.8, 0.5)
    rewards[:, 2] = 0.4
    rewards += rng.normal(scale=0.1, size=rewards.shape)
    names = ["signal", "noise_a", "noise_b"]
    runs = [[f"run-{i}-{a}" for a in range(len(ACTIONS))] for i in range(n)]
    return RewardTable(names, x, rewards, runs, [f"q{i}" for i in range(n)])


def _config(seed: int, members: int) -> TrainConfig:
    return TrainConfig(group=4, epochs=20, seed=seed, members=members)


def test_the_router_learns_the_better_action_per_context() -> None:
    table = _table()
    router, summary = train_router(table, ACTIONS, _config(0, 3))
    greedy = np.argmax(router.policy.logits(router.standardise(table.x)), axis=1)
    expected = np.where(table.x[:, 0] > 0, 1, 0)
    assert (greedy == expected).mean() > 0.9
    assert summary["train_reward"] > summary["reference_reward"] + 0.1
    assert summary["steps"] == 3 * 20 * -(-240 // 32)
    assert router.training["members"] == 3


def _spread(members: int) -> float:
    """Mean distance between the weights of routers trained on one table from four seeds."""
    table = _table()
    weights = [
        train_router(table, ACTIONS, _config(seed, members))[0].policy.weights for seed in range(4)
    ]
    return float(np.mean([np.linalg.norm(a - b) for a, b in itertools.combinations(weights, 2)]))


def test_averaged_members_depend_less_on_the_seed_than_one_run() -> None:
    assert _spread(members=6) < 0.6 * _spread(members=1)


def test_a_router_needs_at_least_one_member() -> None:
    with pytest.raises(InvalidInputError, match="members"):
        TrainConfig(members=0)
