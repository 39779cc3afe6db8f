"""The learned router: a :class:`~agents.policy.Policy` whose routing is a trained softmax.

It standardises the features with the training set's means and deviations, scores every routing
action linearly and takes the most probable one (hand-set decisions on the write side). Saved as
one JSON file (``POLICY.json``) that names its actions and features, so a policy trained on other
actions or features is refused instead of misread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import (
    HandSetPolicy,
    RouteAction,
    RouteChoice,
    RouteFeatures,
    feature_vector,
    route_action,
)
from evals.rl.grpo import Array, LinearPolicy, log_softmax
from memory.errors import InvalidInputError

__all__ = ["FORMAT", "LearnedRouter"]

FORMAT = "hypermnesia-router/1"


class LearnedRouter(HandSetPolicy):
    """Routes with a linear softmax over standardised features; greedy when used."""

    name = "learned-router"

    def __init__(
        self,
        actions: list[RouteAction],
        features: list[str],
        mean: Array,
        std: Array,
        policy: LinearPolicy,
        training: dict[str, Any] | None = None,
    ) -> None:
        if policy.weights.shape != (len(actions), len(features)):
            raise InvalidInputError(
                f"router weights have shape {policy.weights.shape}, expected "
                f"({len(actions)}, {len(features)})"
            )
        self.actions = actions
        self.features = features
        self.mean = mean
        self.std = np.where(std > 1e-9, std, 1.0)
        self.policy = policy
        self.training = training or {}

    def standardise(self, values: Array) -> Array:
        out: Array = (values - self.mean) / self.std
        return out

    def logprobs(self, features: RouteFeatures) -> Array:
        """Log-probability of each action for these features."""
        x = self.standardise(np.asarray(feature_vector(features, self.features)))
        out: Array = log_softmax(self.policy.logits(x[None, :]))[0]
        return out

    def route(self, features: RouteFeatures) -> RouteChoice:
        logp = self.logprobs(features)
        best = int(np.argmax(logp))
        return RouteChoice(self.actions[best], float(logp[best]), features)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "actions": [a.name for a in self.actions],
            "features": self.features,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weights": self.policy.weights.tolist(),
            "bias": self.policy.bias.tolist(),
            "training": self.training,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> LearnedRouter:
        """The router saved in ``path``; a file that is not one names what is wrong."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"missing policy file: {path}") from None
        except ValueError as exc:
            raise InvalidInputError(f"policy file {path} is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidInputError(f"{path} is not a router policy ({FORMAT}) file")
        try:
            return cls(
                [route_action(n) for n in data["actions"]],
                [str(n) for n in data["features"]],
                np.asarray(data["mean"], dtype=np.float64),
                np.asarray(data["std"], dtype=np.float64),
                LinearPolicy(
                    np.asarray(data["weights"], dtype=np.float64),
                    np.asarray(data["bias"], dtype=np.float64),
                ),
                data.get("training", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"policy file {path} is malformed: {exc!r}") from None
