"""The ablation command: one ingest shared by every recipe, one row per recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.recipes import get_recipe
from evals.ablation import ABLATIONS, run_ablation
from memory.errors import InvalidInputError
from memory.model import Granularity

DATA = Path(__file__).parent / "data" / "locomo_small.json"


def test_every_recipe_gets_a_row_from_one_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    result = run_ablation("locomo", DATA, tmp_path, ["full", "no-graph", "turns-only"], workers=1)
    assert list(result["recipes"]) == ["full", "no-graph", "turns-only"]
    for row in result["recipes"].values():
        assert 0.0 <= row["recall"]["overall"] <= 1.0
        assert 0.0 <= row["words"] <= 1.0
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert saved["recipes"]["full"] == result["recipes"]["full"]
    table = (tmp_path / "ablation.md").read_text()
    assert "| no-graph |" in table and "| words found |" in table
    work = tmp_path / "work"
    assert [p.name for p in work.iterdir()] == ["hypermnesia"], "recipes share one ingest"
    assert sorted(p.name for p in (work / "hypermnesia").iterdir()) == ["conv-t1", "conv-t2"]


def test_ablations_are_the_no_and_with_recipes() -> None:
    assert ABLATIONS and all(name.startswith(("no-", "with-")) for name in ABLATIONS)
    assert {"with-insights", "with-personas", "with-reflection"} <= set(ABLATIONS)
    assert {"with-recency", "with-access"} <= set(ABLATIONS)
    reflection = {Granularity.INSIGHT, Granularity.PERSONA}
    assert not get_recipe("full").granularities & reflection
    assert get_recipe("with-reflection").granularities == set(Granularity)
    assert get_recipe("with-insights").granularities - get_recipe("full").granularities == {
        Granularity.INSIGHT
    }


def test_unknown_recipe_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown retrieval recipe 'nope'"):
        run_ablation("locomo", DATA, tmp_path, ["full", "nope"])
    assert not (tmp_path / "work").exists()
