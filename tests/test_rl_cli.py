"""The RL commands end to end on the small LoCoMo file: train-router, eval --policy, rl validate,
rl export, and the TRL reward functions called the way GRPOTrainer calls them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from app import app
from evals.cli import run_eval
from evals.rl.router import LearnedRouter
from evals.rl.trajectories import read_trajectories
from evals.rl.trl import constructor_reward, judge_reward, retriever_reward

DATA = Path(__file__).parent / "data" / "locomo_small.json"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One train-router run: (its folder, its JSON line)."""
    folder = tmp_path_factory.mktemp("rl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYPERMNESIA_EMBEDDER", "fake")
        summary = _train(folder, "p.json")
    return folder, summary


def _train(folder: Path, name: str, workers: int = 2) -> dict[str, Any]:
    args = ["train-router", "--data", str(DATA), "--out", str(folder / name), "--group", "4"]
    args += ["--epochs", "3", "--seed", "1", "--work", str(folder / "work")]
    args += ["--workers", str(workers)]
    args += ["--log", str(folder / f"{name}.log.jsonl")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    last = [line for line in result.stdout.splitlines() if line.startswith("{")][-1]
    summary: dict[str, Any] = json.loads(last)
    return summary


def test_train_router_ends_with_the_documented_json_line(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    folder, summary = trained
    assert set(summary) == {"train_reward", "reference_reward", "steps", "seconds"}
    assert summary["steps"] >= 3 and summary["seconds"] > 0
    assert 0.0 <= summary["reference_reward"] <= 1.0
    router = LearnedRouter.load(folder / "p.json")
    assert router.actions[0].name == "hand-set" and router.features


def test_every_rollout_is_logged_with_its_run(trained: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = trained
    rows = read_trajectories(folder / "p.json.log.jsonl")
    assert rows and len(rows) % 4 == 0
    row = rows[0]
    assert set(row) == {"agent", "question_id", "features", "action", "logprob", "reward", "run_id"}
    assert row["logprob"] <= 0.0 and row["features"] and row["run_id"]


def test_rollouts_are_kept_and_training_is_reproducible(
    trained: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, summary = trained
    kept = list((folder / "work" / "rl").glob("*.jsonl"))
    assert kept, "rollouts are kept per conversation"
    sizes = {p: p.stat().st_size for p in kept}
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    again = _train(folder, "q.json", workers=1)
    assert {p: p.stat().st_size for p in kept} == sizes, "no rollout ran twice"
    assert again["train_reward"] == summary["train_reward"]
    assert again["steps"] == summary["steps"]


def test_eval_with_a_policy_pairs_both_systems_on_one_ingest(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = trained
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    out = tmp_path / "eval"
    results = run_eval(
        "locomo", DATA, out, systems=["bm25"], workers=1, console=Console(quiet=True),
        policy=folder / "p.json",
    )  # fmt: skip
    assert sorted(p.name for p in (out / "work").iterdir()) == ["bm25", "hypermnesia"]
    records = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    by_system: dict[str, set[str]] = {}
    for r in records:
        by_system.setdefault(r["system"], set()).add(r["question_id"])
    assert by_system["hypermnesia"] == by_system["hypermnesia-learned"]
    comparison = results["policy_comparison"]
    row = comparison["budgets"]["1000"]
    assert set(row) == {"reward", "recall", "tokens"}
    assert row["recall"]["ci_low"] <= row["recall"]["diff"] <= row["recall"]["ci_high"]
    assert "hypermnesia-learned vs hypermnesia" in (out / "report.md").read_text()


def test_validate_holds_each_conversation_out(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = trained
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    args = ["rl", "validate", "--data", str(DATA), "--out", str(tmp_path), "--epochs", "2"]
    args += ["--work", str(folder / "work"), "--group", "4", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    loco = json.loads((tmp_path / "loco.json").read_text())
    assert [f["held_out"] for f in loco["folds"]] == ["conv-t1", "conv-t2"]
    assert set(loco["pooled"]["budgets"]) == {"250", "500", "1000", "2000"}
    assert isinstance(loco["target_met"], bool)


def _call_like_trl(
    func: Callable[..., list[float]], rows: list[dict[str, Any]], texts: list[str], group: int
) -> list[float]:
    """GRPOTrainer's call: each row repeated per generation, every column but the prompt and
    completion passed by name, conversational completions."""
    inputs = [row for row in rows for _ in range(group)]
    columns = [k for k in inputs[0] if k not in ("prompt", "completion")]
    return func(
        prompts=[r["prompt"] for r in inputs],
        completions=[[{"role": "assistant", "content": t}] for t in texts],
        completion_ids=[[0] for _ in inputs],
        trainer_state=None,
        **{k: [r[k] for r in inputs] for k in columns},
    )


def _export(agent: str, out: Path, work: Path) -> list[dict[str, Any]]:
    args = ["rl", "export", "--data", str(DATA), "--agent", agent, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--work", str(work)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert rows and all(m["role"] in ("system", "user") for m in rows[0]["prompt"])
    return rows


def test_judge_export_and_reward(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    rows = _export("judge", tmp_path, trained[0] / "work")[:1]
    truth = rows[0]["sufficient"]
    right = json.dumps({"sufficient": truth, "reason": "r"})
    wrong = json.dumps({"sufficient": not truth, "reason": "r"})
    assert _call_like_trl(judge_reward, rows, [right, wrong, "not json"], 3) == [1.0, 0.0, 0.0]


def test_retriever_export_and_reward(tmp_path: Path) -> None:
    rows = _export("retriever", tmp_path, tmp_path / "work")[:1]
    gold = rows[0]["gold_evidence"]
    good = json.dumps({"rewritten_query": gold, "keywords": [], "entities": []})
    poor = json.dumps({"rewritten_query": "zzz", "keywords": [], "entities": []})
    rewards = _call_like_trl(retriever_reward, rows, [good, poor, "{"], 3)
    assert rewards == [1.0, 0.5, 0.0]
    assert not (tmp_path / "work").exists(), "the retriever's export needs no ingest"


def test_constructor_export_and_reward(tmp_path: Path) -> None:
    rows = [
        r for r in _export("constructor", tmp_path, tmp_path / "work") if r["evidence_turn_ids"]
    ]
    row = rows[0]
    gold, other = row["evidence_turn_ids"], "D99:1"
    cite = [{"text": "A fact.", "subject": "X", "source_turn_ids": gold}]
    clash = [
        {
            "text": "X lives in A.",
            "subject": "X",
            "attribute": "lives_in=a",
            "source_turn_ids": gold,
        },
        {
            "text": "X lives in B.",
            "subject": "X",
            "attribute": "lives_in=b",
            "source_turn_ids": [other],
        },
    ]
    texts = [json.dumps({"facts": cite}), json.dumps({"facts": clash}), json.dumps({"facts": []})]
    rewards = _call_like_trl(constructor_reward, [row], texts, 3)
    assert rewards[0] == pytest.approx(1.0)
    assert rewards[1] == pytest.approx(0.4 + 0.3 * 0.5 + 0.3 * 0.5)
    assert rewards[2] == pytest.approx(0.3)
