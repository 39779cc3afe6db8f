"""Write-side rollouts: the same turns written under G policies, each into its own fork.

Every rollout starts from a copy of the same closed data folder (:func:`graphs.rollout.
fork_data_folder`), so the G outcomes compare policies on one memory state and none of them
reaches the source or another rollout. Its reward is the consistency of the current facts it
leaves (:func:`evals.rl.rewards.consistency_reward`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.policy import Policy
from evals.rl.rewards import consistency_reward
from graphs.client import Hypermnesia
from graphs.rollout import fork_data_folder
from memory.embeddings import Embedder
from memory.model import Namespace, Turn
from memory.settings import Settings

__all__ = ["WriteOutcome", "write_rollouts"]


@dataclass(frozen=True)
class WriteOutcome:
    """One write rollout: its policy, its reward, the decisions taken and the run id."""

    policy: str
    reward: float
    decisions: dict[str, int]
    run_id: str


def write_rollouts(
    source: Path,
    ns: Namespace,
    turns: Sequence[Turn],
    policies: Sequence[Policy],
    *,
    embedder: Embedder | None = None,
    settings: Settings | None = None,
) -> list[WriteOutcome]:
    """Write ``turns`` once per policy, each on a fresh fork of the closed folder ``source``."""
    outcomes = []
    scratch = Path(tempfile.mkdtemp(prefix="hypermnesia-fork-"))
    try:
        for i, policy in enumerate(policies):
            fork = fork_data_folder(source, scratch / str(i))
            with Hypermnesia.open(
                fork, settings=settings, embedder=embedder, policy=policy, checkpoints=False,
                reflection="inline",
            ) as hm:  # fmt: skip
                result = hm.remember(ns, turns)
                reward = consistency_reward(hm.store.units(ns))
            counts: dict[str, int] = {}
            for d in result.decisions:
                counts[d.decision] = counts.get(d.decision, 0) + 1
            outcomes.append(WriteOutcome(policy.name, reward, counts, result.run_id))
            shutil.rmtree(fork)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes
