"""Rollouts logged as JSON lines: features, action, log-probability, reward, and the run id.

The run id names the rollout's read run; with ``train-router --traces`` its steps are kept under
that id in ``<work>/rl/traces.sqlite3``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["TrajectoryLog", "read_trajectories"]


class TrajectoryLog:
    """Appends one JSON line per rollout to ``path``; ``actions`` names the action indices."""

    def __init__(self, path: Path, actions: Sequence[str], agent: str = "retriever") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.actions = list(actions)
        self.agent = agent
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def write(
        self,
        *,
        question_id: str,
        features: dict[str, float],
        action: int,
        logprob: float,
        reward: float,
        run_id: str,
    ) -> None:
        row = {
            "agent": self.agent,
            "question_id": question_id,
            "features": {k: round(v, 6) for k, v in features.items()},
            "action": self.actions[action],
            "logprob": round(logprob, 6),
            "reward": round(reward, 6),
            "run_id": run_id,
        }
        self._fh.write(json.dumps(row) + "\n")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> TrajectoryLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_trajectories(path: Path) -> list[dict[str, Any]]:
    """Every logged rollout of ``path``, in order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
