"""``app.py train-router`` and ``app.py rl export|validate``: the RL hooks from the command line.

Each command reuses the evaluation's work folder (``--work``, ``eval-out`` by default): the
conversations' ingest of ``app.py eval`` and the rollouts kept by earlier commands.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.policy import ROUTE_ACTIONS
from evals.cli import resolve_data
from evals.loaders import Dataset, load_dataset
from evals.rl.compare import comparison_markdown
from evals.rl.rollouts import QuestionRollouts, Rollouts, rollout_questions, run_all
from evals.rl.train import TrainConfig, reward_table, train_router
from evals.rl.trajectories import TrajectoryLog
from evals.rl.trl import AGENTS, export_dataset
from evals.rl.validate import leave_one_out

__all__ = ["app", "train_router_command"]

app = typer.Typer(no_args_is_help=True, help="RL hooks: TRL datasets and router validation.")
_WORK = typer.Option(
    Path("eval-out"), "--work", help="Work folder of ingests and rollouts (app.py eval's --out)."
)
_DATA = typer.Option(..., "--data", help="A LoCoMo file.")
_GROUP = typer.Option(8, "--group", min=2, help="Rollouts per question in a GRPO group (G).")
_EPOCHS = typer.Option(30, "--epochs", min=1, help="Passes over the training questions.")
_SEED = typer.Option(0, "--seed", help="Seed of the sampling and the shuffles.")
_MEMBERS = typer.Option(
    5, "--members", min=1, help="Routers trained from independent seeds and averaged into one."
)
_POLICY_OUT = typer.Option(..., "--out", help="Where to write the policy (POLICY.json).")
_LOG = typer.Option(None, "--log", help="Log every rollout as JSON lines here.")
_EXPORT_OUT = typer.Option(..., "--out", help="Folder of the dataset (train.jsonl).")
_VALIDATE_OUT = typer.Option(Path("rl-out"), "--out", help="Folder of loco.json and loco.md.")
_WORKERS = typer.Option(
    2, "--workers", min=1, help="Processes running rollouts (one conversation each)."
)


def _load(data: str, work: Path) -> Dataset:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return load_dataset("locomo", resolve_data("locomo", data, work))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _rollouts(
    dataset: Dataset, work: Path, budget: int, bar: Progress, workers: int, traces: bool = False
) -> tuple[Rollouts, dict[str, QuestionRollouts]]:
    """Every overall question under every routing action at ``budget`` (kept ones read back)."""
    questions = rollout_questions(dataset)
    task = bar.add_task("rollouts", total=len(questions))
    rollouts = Rollouts(dataset, work, traces=traces)
    entries = run_all(
        rollouts, questions, ROUTE_ACTIONS, [budget], lambda n: bar.advance(task, n), workers
    )
    return rollouts, entries


def train_router_command(
    data: str = _DATA,
    out: Path = _POLICY_OUT,
    group: int = _GROUP,
    epochs: int = _EPOCHS,
    seed: int = _SEED,
    members: int = _MEMBERS,
    work: Path = _WORK,
    log: Path | None = _LOG,
    traces: bool = typer.Option(False, "--traces", help="Keep each rollout's trace."),
    workers: int = _WORKERS,
) -> None:
    """Train the router with GRPO on a LoCoMo file; ends with one JSON line.

    ``seconds`` is the whole command (ingest, rollouts and training) on this machine.
    """
    started = time.perf_counter()
    console = Console(stderr=True)
    config = TrainConfig(group=group, epochs=epochs, seed=seed, members=members)
    dataset = _load(data, work)
    with _progress(console) as bar:
        _, entries = _rollouts(dataset, work, config.budget, bar, workers, traces)
        table = reward_table(list(entries.values()), ROUTE_ACTIONS, config)
        task = bar.add_task("train", total=members * epochs)
        trajectories = TrajectoryLog(log, [a.name for a in ROUTE_ACTIONS]) if log else None
        try:
            router, summary = train_router(
                table,
                ROUTE_ACTIONS,
                config,
                log=trajectories,
                advance=lambda n: bar.advance(task, n),
            )
        finally:
            if trajectories is not None:
                trajectories.close()
    router.save(out)
    summary = {**summary, "seconds": round(time.perf_counter() - started, 3)}
    console.print(f"wrote {out}")
    typer.echo(json.dumps(summary))


@app.command("export")
def export_command(
    data: str = _DATA,
    agent: str = typer.Option(..., "--agent", help=f"One of {', '.join(AGENTS)}."),
    out: Path = _EXPORT_OUT,
    work: Path = _WORK,
) -> None:
    """A TRL GRPOTrainer dataset for an LLM-mode agent: prompt messages + reward columns."""
    path = export_dataset(_load(data, work), agent, out, work)
    rows = sum(1 for _ in path.open(encoding="utf-8"))
    Console(stderr=True).print(f"wrote {rows} rows to {path}")


@app.command("validate")
def validate_command(
    data: str = _DATA,
    out: Path = _VALIDATE_OUT,
    group: int = _GROUP,
    epochs: int = _EPOCHS,
    seed: int = _SEED,
    members: int = _MEMBERS,
    work: Path = _WORK,
    budgets: str = typer.Option("250,500,1000,2000", help="Comma-separated token budgets."),
    workers: int = _WORKERS,
) -> None:
    """Leave-one-conversation-out: each conversation routed by a router trained on the others."""
    started = time.perf_counter()
    console = Console(stderr=True)
    config = TrainConfig(group=group, epochs=epochs, seed=seed, members=members)
    dataset = _load(data, work)
    chosen = sorted({int(b) for b in budgets.split(",") if b.strip()})
    with _progress(console) as bar:
        rollouts, entries = _rollouts(dataset, work, config.budget, bar, workers)
        task = bar.add_task("folds", total=len(dataset.conversations))
        result = leave_one_out(rollouts, entries, config, chosen, lambda n: bar.advance(task, n))
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["config"] = {
        "group": group,
        "epochs": epochs,
        "seed": seed,
        "members": members,
        "budget": config.budget,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "loco.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / "loco.md").write_text(_markdown(result), encoding="utf-8")
    typer.echo(_markdown(result))


def _markdown(result: dict[str, Any]) -> str:
    pooled = {"base": "hand-set", "other": "learned (held out)", **result["pooled"]}
    lines = ["# Router, leave one conversation out", "", comparison_markdown(pooled)]
    lines += ["| held out | questions | actions | recall@1000 diff |", "|---|---|---|---|"]
    for fold in result["folds"]:
        diff = fold["comparison"]["budgets"].get("1000", {}).get("recall", {}).get("diff")
        shown = "–" if diff is None else f"{diff:+.4f}"
        lines.append(
            f"| {fold['held_out']} | {fold['comparison']['questions']} | "
            f"{json.dumps(fold['actions'])} | {shown} |"
        )
    lines += ["", f"target met: {result['target_met']}", ""]
    return "\n".join(lines)
