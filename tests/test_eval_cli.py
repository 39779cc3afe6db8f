"""``app.py eval`` end to end on the small synthetic files: outputs, errors, unavailable systems."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from app import app
from evals.cli import resolve_data, run_eval
from evals.systems import announce_system
from memory.errors import HypermnesiaError, InvalidInputError

DATA = Path(__file__).parent / "data"
BASELINES = ["full_context", "bm25", "dense", "hybrid"]
CATEGORIES = {"overall", "multi-hop", "temporal", "open-domain", "single-hop", "adversarial"}


def quiet() -> Console:
    return Console(quiet=True)


@pytest.fixture(scope="module")
def locomo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("eval")
    announce_system("ghost", "evals.ghost_adapter_that_does_not_exist")
    results = run_eval(
        "locomo",
        DATA / "locomo_small.json",
        out,
        systems=["ghost", *BASELINES],
        workers=1,
        console=quiet(),
    )
    return out, results


def test_results_json_has_the_documented_shape(locomo_run: tuple[Path, dict[str, object]]) -> None:
    out, results = locomo_run
    saved = json.loads((out / "results.json").read_text())
    assert saved == results
    assert saved["dataset"] == "locomo"
    assert saved["questions"] == 9 and saved["skipped"] == 2
    assert {s["reason"] for s in saved["skipped_questions"]} == {
        "no evidence in the file",
        "no valid evidence: 'D3:9' names no turn of the conversation",
    }
    assert list(saved["systems"]) == BASELINES
    for system in saved["systems"].values():
        for metric in ("recall", "hit"):
            assert set(system[metric]) == {"250", "500", "1000", "2000"}
            for by_category in system[metric].values():
                assert set(by_category) == CATEGORIES
                assert all(v is None or 0.0 <= v <= 1.0 for v in by_category.values())
        assert system["tokens_per_query"] <= 2000
        assert set(system["turns_covered_per_query"]) == {"250", "500", "1000", "2000"}
        assert set(system["latency_ms"]) >= {"p50", "p95"}
        assert system["ingest"]["turns"] == 14
    # The whole conversation fits in 250 tokens: full context covers every gold turn.
    assert saved["systems"]["full_context"]["recall"]["250"]["overall"] == 1.0
    assert "evals.ghost_adapter_that_does_not_exist does not exist" in saved["unavailable"]["ghost"]
    lines = (out / "questions.jsonl").read_text().splitlines()
    assert len(lines) == 9 * len(BASELINES)


def test_report_and_plots_are_written(locomo_run: tuple[Path, dict[str, object]]) -> None:
    out, _ = locomo_run
    report = (out / "report.md").read_text()
    assert "**9 evaluated, 2 skipped**" in report
    assert "| bm25 |" in report and "Recall per category at 1000 tokens" in report
    assert "an item that would overflow the budget is skipped" in report.lower()
    assert "**ghost**" in report
    assert "`conv-t1:q6` (open-domain): no evidence in the file" in report
    for name in ("recall_vs_budget.png", "recall_by_category.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{name}]({name})" in report


def test_longmemeval_runs_through_the_same_harness(tmp_path: Path) -> None:
    results = run_eval(
        "longmemeval",
        DATA / "longmemeval_small.json",
        tmp_path,
        systems=["bm25"],
        workers=1,
        budgets="20,100",
        console=quiet(),
    )
    assert results["questions"] == 2 and results["skipped"] == 1
    recall = results["systems"]["bm25"]["recall"]["100"]  # type: ignore[index]
    assert recall["overall"] == 1.0 and recall["abstention"] is None


def test_cli_reports_a_missing_file_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(app, ["eval", "--data", str(missing), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert f"error: missing file: {missing}" in " ".join(result.output.split())


def test_cli_reports_a_malformed_file_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    result = CliRunner().invoke(app, ["eval", "--data", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"error: not a LoCoMo file: {bad}: expected a non-empty JSON list" in message


def test_unknown_system_and_bad_budgets_are_errors(tmp_path: Path) -> None:
    path = DATA / "locomo_small.json"
    with pytest.raises(InvalidInputError, match="unknown system\\(s\\) bm99"):
        run_eval("locomo", path, tmp_path, systems=["bm99"], console=quiet())
    with pytest.raises(InvalidInputError, match="budgets must be"):
        run_eval("locomo", path, tmp_path, systems=["bm25"], budgets="250,x", console=quiet())
    with pytest.raises(InvalidInputError, match="unknown dataset"):
        run_eval("lococo", path, tmp_path, systems=["bm25"], console=quiet())


def test_download_fails_clearly_without_a_server(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/locomo10.json"
    with pytest.raises(HypermnesiaError, match=f"cannot download {re.escape(url)}"):
        resolve_data("locomo", url, tmp_path)
    assert not (tmp_path / "data" / "locomo10.json").exists()
    with pytest.raises(InvalidInputError, match="only available for locomo"):
        resolve_data("longmemeval", "download", tmp_path)
