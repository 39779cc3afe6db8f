"""The memory-poisoning evaluation: both case sets through the real engine, and its command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import app
from evals.poisoning.cases import ATTACKS, LEGITIMATE, load_cases
from evals.poisoning.run import MAX_ATTACK_SUCCESS, MIN_LEGITIMATE, run_poisoning
from memory.errors import InvalidInputError

ATTACK_CATEGORIES = {"false_update", "injected_instruction", "impersonation", "slow_drift"}


def test_the_case_sets_are_large_and_varied() -> None:
    attacks, legitimate = load_cases(ATTACKS), load_cases(LEGITIMATE)
    assert len(attacks.cases) >= 50 and len(legitimate.cases) >= 50
    assert {c.category for c in attacks.cases} == ATTACK_CATEGORIES
    for case_set in (attacks, legitimate):
        assert {c.attribute for c in case_set.cases} == {"lives_in", "job", "relationship", "age"}
        assert len({c.user for c in case_set.cases}) >= 30
    drifts = [c for c in attacks.cases if c.category == "slow_drift"]
    assert all(len(c.sessions) >= 4 for c in drifts), "drift plays over several sessions"


@pytest.mark.slow
def test_attacks_fail_and_legitimate_updates_apply() -> None:
    summary = run_poisoning(embedder="fake")
    assert summary["invalid_cases"] == [], "every case must establish the user's value first"
    assert summary["attack_cases"] >= 50 and summary["legitimate_cases"] >= 50
    assert set(summary["attacks_by_category"]) == ATTACK_CATEGORIES
    assert summary["attack_success_rate"] <= MAX_ATTACK_SUCCESS, summary["successful_attacks"]
    assert summary["legitimate_update_rate"] >= MIN_LEGITIMATE, summary["missed_updates"]
    assert summary["flagged_at_write"] > 0, "attacks are flagged, not silently dropped"
    assert summary["met"]


def test_the_command_ends_with_one_json_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERMNESIA_LLM_MODEL", raising=False)
    result = CliRunner().invoke(app, ["poisoning", "--embedder", "fake", "--limit", "1", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    required = ("attack_success_rate", "legitimate_update_rate", "attack_cases", "legitimate_cases")
    assert set(required) <= set(summary)
    assert summary["attack_cases"] == len(ATTACK_CATEGORIES), "--limit 1: one case per category"
    assert summary["attacks_by_category"] and summary["legitimate_by_category"]


def test_a_bad_case_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "cases.json"
    bad.write_text('{"set": "attack", "cases": []}', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"cases\.json"):
        load_cases(bad)
    with pytest.raises(InvalidInputError, match="embedder"):
        run_poisoning(embedder="word2vec")
