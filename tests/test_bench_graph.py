"""The end-to-end benchmark runs on a small file and ends with one JSON object of its keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench.graph import run_graph_bench
from memory.errors import InvalidInputError

DATA = Path(__file__).parent / "data" / "locomo_small.json"
KEYS = {
    "units",
    "turns",
    "write_turns_per_s",
    "recall_p50_ms",
    "recall_p95_ms",
    "recall_after_write_p95_ms",
    "embed_pieces_per_s",
    "pipeline_pieces_per_s",
}


@pytest.mark.parametrize("one_namespace", [False, True], ids=["per-conversation", "one"])
def test_small_run_prints_one_json_object(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], one_namespace: bool
) -> None:
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    result = run_graph_bench(True, data=DATA, questions=3, one_namespace=one_namespace)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == result
    assert result.keys() >= KEYS
    assert result["units"] > result["turns"] > 0
    assert result["namespaces"] == (1 if one_namespace else 2)
    assert result["write_turns_per_s"] > 0 and result["recall_p95_ms"] >= result["recall_p50_ms"]
    assert result["recall_after_write_p95_ms"] >= result["recall_after_write_p50_ms"] > 0
    assert result["embed_pieces_per_s"] is None  # the hashing fake has no word pieces


def test_minilm_reports_word_pieces(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_graph_bench(True, data=DATA, questions=2)
    assert result["pieces_embedded"] > 0
    assert result["embed_pieces_per_s"] > 0 and result["pipeline_pieces_per_s"] > 0


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="missing file"):
        run_graph_bench(data=tmp_path / "nope.json")
