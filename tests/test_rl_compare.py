"""Paired comparisons: the bootstrap interval of a difference, and the issue's bar for a router."""

from __future__ import annotations

import pytest

from evals.rl.compare import compare_pairs, paired_bootstrap
from evals.rl.validate import target_met
from memory.errors import InvalidInputError


def test_a_constant_shift_has_a_point_interval() -> None:
    a = [0.1, 0.5, 0.9, 0.3]
    result = paired_bootstrap(a, [x + 0.25 for x in a])
    assert result["diff"] == pytest.approx(0.25)
    assert result["ci_low"] == pytest.approx(0.25) and result["ci_high"] == pytest.approx(0.25)


def test_the_interval_brackets_the_mean_and_covers_zero_for_noise() -> None:
    a = [0.0, 1.0] * 50
    b = [1.0, 0.0] * 50
    result = paired_bootstrap(a, b, seed=3)
    assert result["ci_low"] < 0.0 < result["ci_high"]
    assert result["ci_low"] <= result["diff"] <= result["ci_high"]
    with pytest.raises(InvalidInputError):
        paired_bootstrap([], [])


def _pooled(diffs: dict[int, float], tokens: float = 1000.0) -> dict[str, object]:
    base = {b: [(0.5, 1000)] * 40 for b in diffs}
    other = {b: [(0.5 + d, int(tokens))] * 40 for b, d in diffs.items()}
    return compare_pairs(base, other)


def test_target_needs_a_significant_gain_or_equal_recall_for_fewer_tokens() -> None:
    assert target_met(_pooled({250: 0.0, 1000: 0.02}))
    assert not target_met(_pooled({250: -0.01, 1000: 0.02})), "worse at another budget"
    assert not target_met(_pooled({1000: 0.0}))
    assert target_met(_pooled({1000: -0.004}, tokens=840))
    assert not target_met(_pooled({1000: -0.004}, tokens=900))
