"""GRPO in NumPy: group advantages, the clipped objective and its gradient, the KL penalty."""

from __future__ import annotations

import numpy as np
import pytest

from evals.rl.grpo import (
    GRPOConfig,
    LinearPolicy,
    clipped_objective,
    group_advantages,
    grpo_update,
    kl_to_reference,
    log_softmax,
    reference_logprobs,
)
from memory.errors import InvalidInputError


def test_advantages_are_standardised_within_the_group() -> None:
    adv = group_advantages(np.array([1.0, 0.0, 0.5, 0.5]))
    assert adv.mean() == pytest.approx(0.0)
    assert adv.std() == pytest.approx(1.0)
    assert adv[0] > adv[2] == adv[3] > adv[1]


def test_a_group_of_equal_rewards_has_no_advantage() -> None:
    assert np.all(group_advantages(np.array([0.3, 0.3, 0.3])) == 0.0)


def test_a_floor_keeps_tiny_differences_small() -> None:
    tokens_only = np.array([0.833, 0.836, 0.833, 0.833])  # equal recall, a few tokens saved
    assert group_advantages(tokens_only).max() == pytest.approx(np.sqrt(3))
    floored = group_advantages(tokens_only, min_std=0.1)
    assert floored.max() < 0.03
    recall = np.array([0.5, 1.0, 0.5, 0.5])
    assert np.allclose(group_advantages(recall, min_std=0.1), group_advantages(recall))


def test_reference_puts_most_mass_on_the_hand_set_action() -> None:
    p = np.exp(reference_logprobs(5, default=0, floor=0.1))
    assert p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(0.9)
    assert np.allclose(p[1:], 0.025)
    with pytest.raises(InvalidInputError):
        reference_logprobs(1)


def _numeric_grad(f: object, z: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (f(up) - f(down)) / (2 * eps)  # type: ignore[operator]
    return grad


def test_clipped_objective_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 4))
    actions = rng.integers(0, 4, size=6)
    adv = rng.normal(size=6)
    old = log_softmax(logits)[np.arange(6), actions] + rng.normal(scale=0.05, size=6)
    _, grad, _ = clipped_objective(logits, actions, adv, old, clip=0.2)
    numeric = _numeric_grad(lambda z: clipped_objective(z, actions, adv, old, 0.2)[0], logits)
    assert np.allclose(grad, numeric, atol=1e-6)


def test_a_rollout_already_pushed_past_the_clip_contributes_no_gradient() -> None:
    logits = np.array([[2.0, 0.0, 0.0]])
    actions = np.array([0])
    old = log_softmax(logits)[:, 0] - np.log(2.0)  # ratio 2: far above 1 + clip
    objective, grad, clipped = clipped_objective(logits, actions, np.array([1.0]), old, clip=0.2)
    assert clipped == 1.0
    assert objective == pytest.approx(1.2)
    assert np.all(grad == 0.0)
    # the same ratio with a negative advantage is not clipped: the policy must move back
    _, grad, clipped = clipped_objective(logits, actions, np.array([-1.0]), old, clip=0.2)
    assert clipped == 0.0
    assert grad[0, 0] < 0


def test_kl_is_zero_at_the_reference_and_its_gradient_is_exact() -> None:
    ref = reference_logprobs(4, floor=0.2)
    kl, grad = kl_to_reference(np.tile(ref, (3, 1)), ref)
    assert kl == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(grad, 0.0)
    logits = np.random.default_rng(2).normal(size=(3, 4))
    _, grad = kl_to_reference(logits, ref)
    numeric = _numeric_grad(lambda z: kl_to_reference(z, ref)[0], logits)
    assert np.allclose(grad, numeric, atol=1e-6)


def _bandit(policy: LinearPolicy, config: GRPOConfig, steps: int) -> None:
    """Two contexts: action 1 pays when x > 0, action 0 when x < 0."""
    rng = np.random.default_rng(0)
    ref = reference_logprobs(2, floor=0.2)
    for _ in range(steps):
        x = rng.choice([-1.0, 1.0], size=16)[:, None]
        logp = log_softmax(policy.logits(x))
        acts = (rng.random((16, 4)) > np.exp(logp[:, :1])).astype(np.int64)
        rewards = np.where((acts == 1) == (x > 0), 1.0, 0.0)
        adv = np.stack([group_advantages(r) for r in rewards])
        old = np.take_along_axis(logp, acts, axis=1)
        grpo_update(
            policy, np.repeat(x, 4, axis=0), acts.ravel(), adv.ravel(), old.ravel(), ref, config
        )


def test_updates_learn_the_better_action_per_context() -> None:
    ref = reference_logprobs(2, floor=0.2)
    policy = LinearPolicy.like_reference(2, 1, ref)
    _bandit(policy, GRPOConfig(kl=0.0, learning_rate=1.0), steps=60)
    p = np.exp(log_softmax(policy.logits(np.array([[1.0], [-1.0]]))))
    assert p[0, 1] > 0.9, "x > 0 should choose action 1"
    assert p[1, 0] > 0.9, "x < 0 should keep action 0"


def test_a_strong_kl_penalty_keeps_the_policy_near_the_reference() -> None:
    ref = reference_logprobs(2, floor=0.2)
    free = LinearPolicy.like_reference(2, 1, ref)
    held = LinearPolicy.like_reference(2, 1, ref)
    _bandit(free, GRPOConfig(kl=0.0, learning_rate=1.0), steps=60)
    _bandit(held, GRPOConfig(kl=50.0, learning_rate=0.01), steps=60)
    x = np.array([[1.0]])
    kl_free, _ = kl_to_reference(free.logits(x), ref)
    kl_held, _ = kl_to_reference(held.logits(x), ref)
    assert kl_held < 0.05 < kl_free
