"""The end-to-end benchmark runs on a small file and ends with one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench.graph import run_graph_bench
from memory.errors import InvalidInputError

DATA = Path(__file__).parent / "data" / "locomo_small.json"


def test_small_run_prints_one_json_object(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    result = run_graph_bench(n=20, json_out=True, data=DATA, questions=3)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == result
    assert result["units"] >= 20 and result["turns"] > 0
    assert result["write_turns_per_s"] > 0 and result["recall_p95_ms"] >= result["recall_p50_ms"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="missing file"):
        run_graph_bench(n=10, data=tmp_path / "nope.json")
